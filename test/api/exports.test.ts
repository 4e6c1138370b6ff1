// The public surface of `import { ... } from 'omirr'`: exactly the names docs/api.md documents,
// each with the kind the doc gives it; the machines are xstate machines; the declarations
// (dist/src/index.d.ts) name every documented value and type and nothing else; the examples and
// the doc's code use only these names; everything else is behind `omirr/internal`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StateMachine, createActor } from 'xstate';
import ts from 'typescript';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The whole public API, name -> kind, as docs/api.md presents it: `omirr` exports these and nothing else. */
export const DOCUMENTED = {
  function: [
    // run things
    'startDaemon', 'daemonStatus', 'runMm', 'startSupervisor', 'runMirror', 'mirrorTree', 'serveConfig', 'writeKeyFile', 'closePools',
    'isConnectError',
    // the actors' ids and states
    'jobActorId', 'peerActorId', 'treeActorId', 'peerLinkState',
  ],
  class: ['ConfigError'],
  machine: ['mmSupervisorMachine', 'mmJobMachine', 'peerLinkMachine', 'transferSessionMachine', 'daemonSupervisorMachine'],
  event: ['PAUSE', 'RESUME', 'RETRY_NOW', 'RESCAN', 'RUN_NOW'],
  string: ['VERSION'],
} as const;

/** The public types: options, results, handles, events, snapshots and status. */
export const DOCUMENTED_TYPES = [
  'StartDaemonOptions', 'DaemonHandle', 'DaemonStatusOptions',
  'RunMmOptions', 'MmRunResult', 'MmInputText', 'StartSupervisorOptions', 'SupervisorHandle', 'MmJobActorRef', 'MmJobResult', 'MmJobOutcome',
  'RunMirrorOptions', 'RunMirrorResult', 'PackageResult',
  'MirrorTreeOptions', 'MirrorTreeResult', 'RemoteAuthOptions', 'Progress',
  'ServeConfigOptions', 'OmirrServer', 'OmirrConfig', 'Logger',
  'PeerLinkCommand', 'TreeCommand', 'MmJobCommand', 'PeerLinkSnapshot', 'PeerLinkState', 'PeerSessionInput',
  'DaemonStatus', 'ActorStatus', 'TreeStatus', 'PeerStatus',
];

const VALUES: string[] = Object.values(DOCUMENTED).flat();

const api = (await import('omirr')) as Record<string, unknown>;
const isClass = (v: unknown): boolean => typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v));

test('omirr exports exactly the documented values, nothing more', () => {
  assert.deepEqual(Object.keys(api).sort(), [...VALUES].sort());
  assert.ok(VALUES.length <= 30, `a small API: ${VALUES.length} values`);
});

test('every documented value is exported with its kind', () => {
  for (const name of DOCUMENTED.function) {
    assert.equal(typeof api[name], 'function', `${name} is a function`);
    assert.ok(!isClass(api[name]), `${name} is a function, not a class`);
  }
  for (const name of DOCUMENTED.class) assert.ok(isClass(api[name]), `${name} is a class`);
  for (const name of DOCUMENTED.string) assert.equal(typeof api[name], 'string', name);
  for (const name of DOCUMENTED.event) assert.deepEqual(api[name], { type: name }, name);
  assert.equal(api.VERSION, JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version);
});

test('the machines are xstate machines that start', () => {
  for (const name of DOCUMENTED.machine) {
    const m = api[name];
    assert.ok(m instanceof StateMachine, `${name} is an xstate StateMachine`);
  }
  // A pure machine starts without any I/O provided (peerLink with a no-op session).
  const link = createActor(api.peerLinkMachine as never, { input: { peer: 'p', address: '127.0.0.1:1' } } as never);
  link.start();
  link.send(api.PAUSE as never);
  assert.equal((link.getSnapshot() as { value: unknown }).value, 'paused');
  link.stop();
});

test('docs/api.md documents every one of these names', () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8');
  const all = [...Object.values(DOCUMENTED).flat(), ...DOCUMENTED_TYPES];
  const missing = all.filter((n) => !doc.includes(`\`${n}`));
  assert.deepEqual(missing, [], 'names without a `mention` in docs/api.md');
});

test('types are emitted: dist/src/index.d.ts declares every documented name and no other', () => {
  const dts = join(repoRoot, 'dist', 'src', 'index.d.ts');
  assert.ok(existsSync(dts), dts);
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  assert.equal(pkg.exports['.'].types, './dist/src/index.d.ts');
  assert.equal(pkg.types, './dist/src/index.d.ts');
  // Type-check a consumer of the declarations alone (not the sources): a missing name fails.
  const dir = mkdtempSync(join(tmpdir(), 'omirr-dts-'));
  try {
    const file = join(dir, 'consumer.ts');
    const values = Object.values(DOCUMENTED).flat().map((n) => `typeof O.${n}`);
    const types = DOCUMENTED_TYPES.map((n) => `O.${n}`);
    writeFileSync(
      file,
      `import type * as O from ${JSON.stringify(join(repoRoot, 'dist', 'src', 'index.js'))};\n` +
        `export type Everything = [\n  ${[...values, ...types].join(',\n  ')},\n];\n`,
    );
    const program = ts.createProgram([file], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(repoRoot, 'node_modules', '@types')],
    });
    const diags = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    assert.ok(!program.getSourceFiles().some((f) => f.fileName.includes('/src/index.ts')), 'checked against the .d.ts, not the sources');
    assert.deepEqual(diags, []);
    const dtsFile = program.getSourceFiles().find((f) => f.fileName === dts)!;
    const checker = program.getTypeChecker();
    const declared = checker.getExportsOfModule(checker.getSymbolAtLocation(dtsFile)!).map((sym) => sym.name);
    assert.deepEqual(declared.sort(), [...VALUES, ...DOCUMENTED_TYPES].sort(), 'the declarations export exactly the documented names');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Names imported from `module` by the import declarations of a TypeScript text. */
function importedNames(text: string, file: string): Array<{ module: string; name: string }> {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Array<{ module: string; name: string }> = [];
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier)) continue;
    const module = st.moduleSpecifier.text;
    const b = st.importClause?.namedBindings;
    if (b && ts.isNamedImports(b)) for (const el of b.elements) out.push({ module, name: (el.propertyName ?? el.name).text });
    else out.push({ module, name: '*' });
  }
  return out;
}

test('the examples and docs/api.md use only the public names of omirr', () => {
  const publicNames = new Set<string>([...VALUES, ...DOCUMENTED_TYPES]);
  const texts: Array<[string, string]> = [];
  const exDir = join(repoRoot, 'examples', 'api');
  for (const f of readdirSync(exDir).filter((n) => n.endsWith('.ts'))) texts.push([`examples/api/${f}`, readFileSync(join(exDir, f), 'utf8')]);
  const doc = readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8');
  // docs/api.md's code blocks, except the one that shows the internal entry on purpose.
  for (const m of doc.matchAll(/```ts\n([\s\S]*?)```/g)) if (!m[1]!.includes("'omirr/internal'")) texts.push(['docs/api.md', m[1]!]);
  assert.ok(texts.length >= 12, `${texts.length} programs and code blocks`);
  const bad: string[] = [];
  for (const [file, text] of texts) {
    for (const { module, name } of importedNames(text, file)) {
      if (module === 'omirr' ? !publicNames.has(name) : module.startsWith('omirr/') || module.startsWith('.')) bad.push(`${file}: ${name} from '${module}'`);
    }
  }
  assert.deepEqual(bad, []);
  // And the checker is not vacuous.
  assert.deepEqual(importedNames("import { runMm, LocalTree as L, type Tree } from 'omirr';", 'x.ts').map((i) => i.name), ['runMm', 'LocalTree', 'Tree']);
});

test("omirr/internal: the building blocks, behind an entry documented as unstable", async () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  assert.deepEqual(pkg.exports['./internal'], { types: './dist/src/internal.d.ts', import: './dist/src/internal.js' });
  const internal = (await import('omirr/internal' as string)) as Record<string, unknown>;
  for (const name of ['parseMmInput', 'parseConfig', 'LocalTree', 'syncTrees', 'openTree', 'serveTrees', 'startInspector', 'startMmSupervisor', 'machines']) {
    assert.ok(name in internal, `omirr/internal exports ${name}`);
    assert.ok(!(name in api), `${name} is not public`);
  }
  for (const name of VALUES) assert.equal(internal[name], api[name], `omirr/internal carries the public ${name} too`);
  const doc = readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8');
  assert.ok(/`omirr\/internal`[^\n]*unstable/i.test(doc), 'docs/api.md says omirr/internal is unstable');
});
