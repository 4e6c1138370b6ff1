// The omirr daemon demo: three nodes (alpha, beta, gamma) on 127.0.0.1 mirror one tree,
// each in its own temporary directory, exactly as three hosts would: a key per node made
// with `omirr keygen`, an omirr.conf per node pinning the others' fingerprints, and
// `omirr daemon` per node. A file written on one node appears on the others; an edit and a
// delete on another node travel back; `omirr status` shows the links. Checks every step by
// SHA-256 and exits non-zero on any mismatch. Uses only the CLI.
//
// Usage: node scripts/demo-daemon.mjs [--keep]
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'omirr.js');
const keep = process.argv.includes('--keep');
const names = ['alpha', 'beta', 'gamma'];
const dir = mkdtempSync(join(tmpdir(), 'omirr-daemon-demo-'));
const omirr = (...args) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
/** The file's sha256, or undefined when it is not there (also when a peer removes it while we read). */
const sha = (p) => {
  try {
    return createHash('sha256').update(readFileSync(p)).digest('hex');
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  }
};

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Polls `cond` until it returns a value, or fails after `ms`. */
async function until(cond, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const nodes = {};
for (const name of names) {
  const key = join(dir, `${name}.key`);
  const r = omirr('keygen', '--out', key);
  if (r.status !== 0) throw new Error(`keygen failed: ${r.stderr}`);
  const tree = join(dir, name, 'www');
  mkdirSync(tree, { recursive: true });
  nodes[name] = { name, key, fingerprint: r.stdout.trim().split(/\s+/).pop(), tree, port: await freePort(), conf: join(dir, `${name}.conf`) };
}
for (const n of Object.values(nodes)) {
  const others = names.filter((o) => o !== n.name);
  const lines = [
    `# ${n.name}: one host of the demo cluster`,
    `node   = ${n.name}`,
    `listen = 127.0.0.1:${n.port}`,
    `key    = ${n.key}`,
    `state  = ${join(dir, 'state', n.name)}`,
    ...others.map((o) => `peer   = ${o} 127.0.0.1:${nodes[o].port} ${nodes[o].fingerprint}`),
    `tree   = www ${n.tree} ${others.join(' ')}`,
  ];
  writeFileSync(n.conf, lines.join('\n') + '\n');
}
console.log(`cluster: ${dir}`);
console.log(readFileSync(nodes.alpha.conf, 'utf8').replace(/^/gm, '  '));

const procs = names.map((name) =>
  spawn(process.execPath, [bin, 'daemon', '-c', nodes[name].conf], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' } }),
);
let bad = 0;
try {
  const status = (name) => {
    const r = omirr('status', '-c', nodes[name].conf, '--json');
    return r.status === 0 ? JSON.parse(r.stdout) : undefined;
  };
  for (const name of names) {
    await until(() => status(name)?.peers.every((p) => p.state === 'live'), `${name}'s links to go live`);
  }
  console.log('$ omirr status -c alpha.conf');
  console.log(omirr('status', '-c', nodes.alpha.conf).stdout.replace(/^/gm, '  '));

  const step = async (label, node, act, path, expect) => {
    const t0 = performance.now();
    act(join(nodes[node].tree, path));
    const others = names.filter((n) => n !== node);
    await until(() => others.every((o) => sha(join(nodes[o].tree, path)) === expect), `${label} to reach ${others.join(', ')}`);
    console.log(`  ok  ${label} on ${node}: on ${others.join(' and ')} after ${(performance.now() - t0).toFixed(1)} ms`);
  };
  const content = (s) => createHash('sha256').update(s).digest('hex');
  console.log('changes (each checked by sha256 on the other two nodes):');
  await step('write index.html', 'alpha', (p) => writeFileSync(p, '<h1>hello from alpha</h1>\n'), 'index.html', content('<h1>hello from alpha</h1>\n'));
  await step('edit index.html', 'gamma', (p) => writeFileSync(p, '<h1>edited on gamma</h1>\n'), 'index.html', content('<h1>edited on gamma</h1>\n'));
  await step('write css/site.css', 'beta', (p) => (mkdirSync(join(p, '..'), { recursive: true }), writeFileSync(p, 'body{}\n')), 'css/site.css', content('body{}\n'));
  await step('delete index.html', 'alpha', (p) => unlinkSync(p), 'index.html', undefined);
} catch (err) {
  bad++;
  console.log(`  FAIL ${err.message}`);
} finally {
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => (p.exitCode !== null ? 0 : new Promise((r) => p.once('exit', r)))));
  if (keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
console.log(bad ? 'DAEMON DEMO FAILED' : 'daemon demo ok');
process.exit(bad ? 1 : 0);
