// The public surface of `import { ... } from 'omirr'`: every name docs/api.md documents is
// exported with the kind the doc gives it, the machines are xstate machines, and the
// declarations (dist/src/index.d.ts) exist and name every documented value and type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StateMachine, createActor } from 'xstate';
import ts from 'typescript';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** name -> kind, as docs/api.md presents them. */
export const DOCUMENTED = {
  function: [
    // run things
    'runMm', 'startMmSupervisor', 'readMmInputs', 'startSupervisor', 'resolveConfig', 'startDaemon',
    'mirrorTree', 'isConnectError', 'syncTrees', 'openTree', 'runMirror',
    'serveTrees', 'serveStdio', 'serveOptionsFromConfig', 'serveConfig', 'daemonStatus', 'daemonSocketPath', 'defaultConfigPath', 'optionalConfigPath', 'connectTree', 'sshTree', 'closePools',
    'controlRequest', 'startInspector', 'combineInspectors', 'createLogger', 'logTransitions',
    'exportMachines', 'toMermaid', 'machineGraph',
    // parsers and pure functions
    'parseMmInput', 'formatDiagnostic', 'sitePackageOf', 'parsePackageFiles', 'applyOverrides', 'parseOverrideArgs',
    'parseConfig', 'loadConfig', 'parseMmArgs', 'pkgsToMmin', 'parseStatusFile', 'planSync', 'compileExcludes',
    // keys
    'generateKey', 'writeKeyFile', 'loadKey', 'nodeKeyFromPem', 'fingerprintOfFile', 'loadSecret',
    // machines' helpers
    'provideMmSupervisor', 'provideMmJob', 'jobActorId', 'peerActorId', 'treeActorId', 'peerLinkState', 'peerStatus',
  ],
  class: ['LocalTree', 'ConfigError', 'PackageFileError', 'MmInputError', 'ConnectError', 'RefusedError', 'UnsafePathError', 'MetricsRegistry'],
  machine: ['mmSupervisorMachine', 'mmJobMachine', 'peerLinkMachine', 'transferSessionMachine', 'daemonSupervisorMachine'],
  event: ['PAUSE', 'RESUME', 'RETRY_NOW', 'RESCAN'],
  string: ['VERSION', 'STATUS_FILE', 'SYSTEM_CONFIG_PATH'],
  number: ['DEFAULT_MAX', 'DEFAULT_PORT'],
  registry: ['machines'],
} as const;

/** Types the doc names: they must be in the declarations. */
export const DOCUMENTED_TYPES = [
  'RunMmOptions', 'MmRunResult', 'MmInputText', 'StartMmSupervisorOptions', 'MmSupervisorHandle', 'MmJobActorRef', 'MmJobResult',
  'StartSupervisorOptions', 'SupervisorHandle', 'StartDaemonOptions', 'DaemonHandle', 'DaemonStatus',
  'MirrorTreeOptions', 'MirrorTreeResult', 'RemoteAuthOptions', 'SyncOptions', 'SyncTreesResult', 'Progress',
  'RunMirrorOptions', 'RunMirrorResult', 'ServeOptions', 'OmirrServer', 'ConnectOptions',
  'DaemonStatusOptions', 'ServeConfigOptions', 'ConfigPathEnv',
  'OmirrConfig', 'MmStatement', 'MmParseResult', 'ParsedPackages', 'MirrorPackage', 'PeerLinkCommand', 'TreeCommand', 'PeerLinkSnapshot', 'Tree', 'Logger',
];

const api = (await import('omirr')) as Record<string, unknown>;
const isClass = (v: unknown): boolean => typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v));

test('every documented value is exported with its kind', () => {
  for (const name of DOCUMENTED.function) {
    assert.equal(typeof api[name], 'function', `${name} is a function`);
    assert.ok(!isClass(api[name]), `${name} is a function, not a class`);
  }
  for (const name of DOCUMENTED.class) assert.ok(isClass(api[name]), `${name} is a class`);
  for (const name of DOCUMENTED.string) assert.equal(typeof api[name], 'string', name);
  for (const name of DOCUMENTED.number) assert.equal(typeof api[name], 'number', name);
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
  const registry = api.machines as Array<{ name: string; machine: unknown }>;
  assert.ok(Array.isArray(registry));
  for (const r of registry) assert.ok(r.machine instanceof StateMachine, r.name);
  for (const name of ['mmSupervisor', 'mmJob', 'peerLink', 'transferSession']) assert.ok(registry.some((r) => r.name === name), `machines has ${name}`);
});

test('docs/api.md documents every one of these names', () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8');
  const all = [...Object.values(DOCUMENTED).flat(), ...DOCUMENTED_TYPES];
  const missing = all.filter((n) => !doc.includes(`\`${n}`));
  assert.deepEqual(missing, [], 'names without a `mention` in docs/api.md');
});

test('types are emitted: dist/src/index.d.ts declares every documented name', () => {
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
