// `npm run demo`: the two jobs omirr rebuilds, each on an embedded default that needs
// nothing but this checkout: an mm run mirroring packages between local directories
// (scripts/demo-mm.mjs), then three daemons on 127.0.0.1 keeping one tree identical
// (scripts/demo-daemon.mjs). Each part checks its result by SHA-256; any failure exits 1.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const parts = [
  ['the mirror master: omirr mm', 'demo-mm.mjs'],
  ['the online mirror daemon: three omirr daemons on loopback', 'demo-daemon.mjs'],
];
let failed = 0;
for (const [title, script] of parts) {
  console.log(`\n=== ${title} ===\n`);
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
