// The omirr mm demo: copies examples/mm (input, package files, source trees) into a
// temporary home, runs `omirr mm` (whose default mirror template runs
// `omirr mirror`), then checks every mirrored file against its source by SHA-256.
// Exits non-zero on any mismatch.
//
// Usage: node scripts/demo-mm.mjs [--keep] [--mirror-cmd TEMPLATE]
//   --mirror-cmd  an mm `mirror=` template to use instead of the built-in mirror
//   --keep        leave the temporary home in place (its path is printed)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'omirr.js');
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const mcIdx = args.indexOf('--mirror-cmd');
const mirrorCmd = mcIdx >= 0 ? args[mcIdx + 1] : undefined;

const home = mkdtempSync(join(tmpdir(), 'omirr-mm-demo-'));
cpSync(join(root, 'examples', 'mm'), home, { recursive: true });

// The source trees (the "sites" of the package files: site=./upstream/a, ...) ship in
// examples/mm/upstream and came with the copy.

if (mirrorCmd) {
  const inPath = join(home, 'mm.in');
  writeFileSync(inPath, `mirror=${mirrorCmd}\n` + readFileSync(inPath, 'utf8'));
}
console.log(`home: ${home}`);
console.log(
  `mirror: ${mirrorCmd ? `--mirror-cmd ${mirrorCmd}` : 'built-in omirr mirror'}`,
);

function mm(extra = []) {
  const r = spawnSync(process.execPath, [bin, 'mm', ...extra, 'mm.in'], { cwd: home, encoding: 'utf8', env: { ...process.env, OMIRR_LOG_LEVEL: '' } });
  const msgs = r.stderr
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l).msg;
      } catch {
        return l;
      }
    });
  return { status: r.status, stdout: r.stdout, msgs };
}

console.log('\n$ omirr mm mm.in');
const first = mm();
if (first.stdout) process.stdout.write(first.stdout);
for (const m of first.msgs) console.log(`  ${m}`);
console.log(`exit ${first.status}`);

// Verify by content hash.
const hashOf = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');
function files(dir, skip) {
  const out = {};
  if (!existsSync(dir)) return out;
  const walk = (d) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (!skip || !skip.test(p)) out[relative(dir, p)] = hashOf(p);
    }
  };
  walk(dir);
  return out;
}
let bad = first.status === 0 ? 0 : 1;
const packages = [
  ['upstream-a:docs', 'upstream/a/docs', 'mirrors/a/docs'],
  ['upstream-a:tools', 'upstream/a/tools', 'mirrors/a/tools', /\.tmp$/],
  ['upstream-b:data', 'upstream/b/data', 'mirrors/b/data'],
];
console.log('\nverification (sha256 of every file):');
for (const [sp, src, dst, skip] of packages) {
  const a = files(join(home, src), skip);
  const b = files(join(home, dst));
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  let ok = 0;
  const problems = [];
  for (const n of names) {
    if (a[n] && a[n] === b[n]) ok++;
    else problems.push(`${n}: ${!b[n] ? 'missing' : !a[n] ? 'unexpected' : 'content differs'}`);
  }
  console.log(`  ${problems.length ? 'FAIL' : 'ok  '} ${sp}: ${ok}/${Object.keys(a).length} files identical`);
  for (const p of problems) console.log(`       ${p}`);
  if (problems.length || Object.keys(a).length === 0) bad++;
}
console.log(`\nmm.status:\n${readFileSync(join(home, 'mm.status'), 'utf8').replace(/^/gm, '  ')}`);

console.log('$ omirr mm mm.in    # again: every retry timer (1 hour) is still running');
const second = mm();
for (const m of second.msgs) console.log(`  ${m}`);
if (!second.msgs.some((m) => /Not trying upstream-a:docs: \d+ seconds to go/.test(m))) {
  console.log('  expected "Not trying ... seconds to go"');
  bad++;
}

if (keep) console.log(`\nkept ${home}`);
else rmSync(home, { recursive: true, force: true });
console.log(bad ? '\nDEMO FAILED' : '\ndemo ok');
process.exit(bad ? 1 : 0);
