// Before tsc: removes from dist/ every file no source makes any more (a file deleted or renamed
// in src/ or test/ must not linger, or scripts/test.mjs would still run its test), and keeps the
// rest with tsc's incremental record (dist/.tsbuildinfo), so a build after a small change
// re-emits only what changed (a full build is ~30 s of CPU). If an output tsc would not make
// again is missing (dist/ edited by hand, half deleted), the record goes too: a full build.
// `node scripts/clean.mjs --all` removes dist/ whole.
import { existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const buildInfo = join(dist, '.tsbuildinfo');
// tsconfig.json's include (src, test, bench, examples: **/*.ts), declaration and sourceMap on
const sourceDirs = ['src', 'test', 'bench', 'examples'];

if (process.argv.includes('--all') || !existsSync(buildInfo)) {
  rmSync(dist, { recursive: true, force: true });
} else {
  const expected = new Set();
  for (const dir of sourceDirs) {
    for (const f of walk(join(root, dir))) {
      if (!f.endsWith('.ts') || f.endsWith('.d.ts')) continue;
      const out = join(dist, relative(root, f)).slice(0, -3);
      for (const ext of ['.js', '.js.map', '.d.ts']) expected.add(out + ext);
    }
  }
  const present = new Set(walk(dist));
  for (const f of present) if (f !== buildInfo && !expected.has(f)) rmSync(f);
  removeEmptyDirs(dist);
  if ([...expected].some((f) => !present.has(f))) rmSync(buildInfo);
}

function walk(dir) {
  const out = [];
  let names;
  try {
    names = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out; // a source folder that does not exist
  }
  for (const e of names) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') out.push(...walk(p));
    } else out.push(p);
  }
  return out;
}

/** Removes the empty directories below dir (not dir itself); true if dir is left empty. */
function removeEmptyDirs(dir) {
  let empty = true;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && removeEmptyDirs(p)) rmdirSync(p);
    else empty = false;
  }
  return empty;
}
