// Dependencies in src/ point one way: cli -> api -> features -> actors -> net -> engine ->
// workers -> core and machines (docs/README.md, "Layers"). This test parses every import of
// every module in src/ (static, type-only, re-exports, import() and new URL(..., import.meta.url))
// and fails on one that points up, on a computed specifier it cannot check, on a module in no
// layer, and on I/O imported by src/core or src/machines (which are pure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The layer table (also in docs/README.md): a module may import its own layer and the
 * layers below it. The longest matching prefix decides. Features may use each other (the
 * daemon runs mm jobs and serves metrics from src/inspect).
 */
export const LAYERS: ReadonlyArray<readonly [prefix: string, rank: number, layer: string]> = [
  ['src/cli/', 8, 'cli'],
  ['src/api/', 7, 'api'],
  ['src/index.ts', 7, 'api'],
  ['src/internal.ts', 7, 'api'],
  ['src/daemon/', 6, 'features'],
  ['src/mm/', 6, 'features'],
  ['src/mirror/', 6, 'features'],
  ['src/inspect/', 6, 'features'],
  ['src/sites/', 6, 'features'],
  ['src/replica/', 5.5, 'replica'],
  // the watcher's pure aggregator: the OS backend (src/actors/watcher.ts) feeds it, and
  // being in the core layer it is checked to do no I/O
  ['src/replica/watchAggregator.ts', 1, 'core'],
  ['src/actors/', 5, 'actors'],
  ['src/net/', 4, 'net'],
  ['src/engine/', 3, 'engine'],
  ['src/workers/', 2, 'workers'],
  ['src/log.ts', 2, 'workers'],
  ['src/logTransitions.ts', 2, 'workers'],
  ['src/configFile.ts', 2, 'workers'],
  ['src/core/', 1, 'core'],
  ['src/machines/', 1, 'core'],
  ['src/version.ts', 1, 'core'],
];

/**
 * What src/core and src/machines may import from outside src/: no file system, network or
 * processes. node:zlib computes in memory only (src/core/delta.ts: its native crc32).
 */
const PURE_PACKAGES = new Set(['xstate', 'node:path', 'node:crypto', 'node:util', 'node:zlib']);

/**
 * Known exceptions, each owned by a change in progress. An entry that no longer matches
 * anything fails too: remove it when its owner's change lands.
 */
export const KNOWN_EXCEPTIONS: ReadonlyArray<{ file: string; kind: Violation['kind']; specifier: string; why: string }> = [
  {
    // Not a module of src/: the optional package @statelyai/inspect, loaded by name only when
    // --stately asks for it, through an importer the tests replace.
    file: 'src/inspect/stately.ts',
    kind: 'computed',
    specifier: '<computed>',
    why: 'loadStatelyInspector imports the optional package @statelyai/inspect by name',
  },
];

export interface Import {
  /** Repository-relative path of the importing module. */
  from: string;
  specifier: string;
  /** Repository-relative path of the imported module; undefined for a package or a computed specifier. */
  to?: string;
  computed?: boolean;
  typeOnly: boolean;
  line: number;
}

export interface Violation {
  kind: 'up' | 'computed' | 'unlayered' | 'impure';
  file: string;
  specifier: string;
  line: number;
  message: string;
}

export function layerOf(file: string): { rank: number; layer: string } | undefined {
  let best: (typeof LAYERS)[number] | undefined;
  for (const l of LAYERS) if ((file === l[0] || (l[0].endsWith('/') && file.startsWith(l[0]))) && (!best || l[0].length > best[0].length)) best = l;
  return best && { rank: best[1], layer: best[2] };
}

/** Every import of one module's source, resolved to repository-relative paths. */
export function importsOf(file: string, text: string): Import[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Import[] = [];
  const add = (node: ts.Node, spec: ts.Expression | undefined, typeOnly: boolean): void => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    if (!spec || !ts.isStringLiteralLike(spec)) {
      out.push({ from: file, specifier: spec ? spec.getText(sf) : '<computed>', computed: true, typeOnly, line });
      return;
    }
    const s = spec.text;
    const to = s.startsWith('.') ? posix.normalize(posix.join(posix.dirname(file), s)).replace(/\.js$/, '.ts') : undefined;
    out.push({ from: file, specifier: s, ...(to ? { to } : {}), typeOnly, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node, node.moduleSpecifier, !!node.importClause?.isTypeOnly);
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier) add(node, node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression, node.isTypeOnly);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal as ts.Expression, true);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0], false);
    else if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'URL' &&
      node.arguments?.length === 2 &&
      node.arguments[1]!.getText(sf) === 'import.meta.url'
    ) {
      // new URL('./tasks.js', import.meta.url): a module loaded by path (worker files, bin/).
      add(node, node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The violations among `imports`, before the known exceptions are taken out. */
export function violations(imports: Import[]): Violation[] {
  const out: Violation[] = [];
  for (const imp of imports) {
    const from = layerOf(imp.from);
    const v = (kind: Violation['kind'], message: string): void => {
      out.push({ kind, file: imp.from, specifier: imp.computed ? '<computed>' : imp.specifier, line: imp.line, message: `${imp.from}:${imp.line}: ${message}` });
    };
    if (!from) {
      v('unlayered', `${imp.from} is in no layer: add it to the layer table (test/api/layering.test.ts, docs/README.md)`);
      continue;
    }
    if (imp.computed) {
      v('computed', `computed import ${imp.specifier}: a specifier that cannot be checked (register the module instead)`);
      continue;
    }
    if (imp.to === undefined) {
      const pure = from.layer === 'core';
      if (pure && !imp.typeOnly && !PURE_PACKAGES.has(imp.specifier)) v('impure', `${imp.from} is pure (${from.layer}) but imports ${imp.specifier}`);
      continue;
    }
    if (!imp.to.startsWith('src/')) continue; // bin/omirr.js, package.json: outside the layers
    const to = layerOf(imp.to);
    if (!to) v('unlayered', `imports ${imp.to}, which is in no layer`);
    else if (to.rank > from.rank) v('up', `${from.layer} imports ${to.layer}: ${imp.from} -> ${imp.to} points up`);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const isKnown = (v: Violation): boolean => KNOWN_EXCEPTIONS.some((k) => k.file === v.file && k.kind === v.kind && k.specifier === v.specifier);

const allImports = sourceFiles(join(repoRoot, 'src')).flatMap((abs) =>
  importsOf(relative(repoRoot, abs).split('\\').join('/'), readFileSync(abs, 'utf8')),
);

test('every module of src/ is in a layer', () => {
  const files = sourceFiles(join(repoRoot, 'src')).map((f) => relative(repoRoot, f));
  assert.deepEqual(files.filter((f) => !layerOf(f)), []);
});

test('no import in src/ points up, none is computed, and core and machines do no I/O', () => {
  assert.ok(allImports.length > 300, `parsed ${allImports.length} imports`);
  const found = violations(allImports).filter((v) => !isKnown(v));
  assert.deepEqual(found.map((v) => v.message), []);
});

test('every known exception is still needed (remove it when its owner fixes it)', () => {
  const found = violations(allImports);
  const stale = KNOWN_EXCEPTIONS.filter((k) => !found.some((v) => v.file === k.file && v.kind === k.kind && v.specifier === k.specifier));
  assert.deepEqual(stale.map((k) => `${k.file}: ${k.why}`), []);
});

test('the checker catches each kind of violation it claims to', () => {
  const src = [
    "import { UsageError } from '../cli/exitCodes.js';", // core -> cli: up
    "import type { Tree } from '../engine/localTree.js';", // type-only counts too
    "export { x } from '../api/events.js';", // a re-export
    "const m = await import('../net/client.js');", // a dynamic import
    "const n = await import(`../net/${name}.js`);", // computed
    "const w = new URL('../daemon/daemon.js', import.meta.url);", // loaded by path
    "import { readFileSync } from 'node:fs';", // I/O in core
    "import type { Readable } from 'node:stream';", // a type: no I/O
    "import { join } from 'node:path';", // pure
    "import { parseConfig } from './config.js';", // same layer
  ].join('\n');
  const found = violations(importsOf('src/core/example.ts', src));
  assert.deepEqual(
    found.map((v) => `${v.line} ${v.kind}`),
    ['1 up', '2 up', '3 up', '4 up', '5 computed', '6 up', '7 impure'],
  );
  // Down and sideways are fine; a module outside the table is not.
  assert.deepEqual(violations(importsOf('src/daemon/x.ts', "import '../mm/runMm.js';\nimport '../core/tree.js';\nimport 'node:fs';")), []);
  assert.deepEqual(violations(importsOf('src/newArea/x.ts', "import '../core/tree.js';")).map((v) => v.kind), ['unlayered']);
  assert.deepEqual(violations(importsOf('src/workers/x.ts', "import '../engine/paths.js';")).map((v) => v.kind), ['up']);
});

test('docs/README.md carries the same layer table', () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'README.md'), 'utf8');
  for (const [prefix, , layer] of LAYERS) {
    const row = doc.split('\n').find((l) => l.startsWith('|') && l.includes(`\`${prefix}\``));
    assert.ok(row, `docs/README.md lists ${prefix}`);
    assert.ok(row.includes(layer), `docs/README.md puts ${prefix} in ${layer}`);
  }
});
