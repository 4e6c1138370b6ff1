// http:// sites against a real nginx with autoindex on a loopback port, and an index page
// in Apache's mod_autoindex format (served as a static page by the same nginx, beside
// the files it lists): `omirr sync` pulls the tree, a rerun is a no-op, a change is fetched,
// a partial large file resumes with Range, and an index page the server refuses fails the
// sync without deleting anything.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';
import { startNginx, type NginxServer } from '../helpers/nginxServer.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { tempPathFor } from '../../src/engine/paths.js';
import { parseIndexPage } from '../../src/core/indexPage.js';
import { closePools } from '../../src/workers/pool.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
const MIN = 60_000;
const T = Math.floor((Date.now() - 7200_000) / MIN) * MIN;

function omirr(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sha(p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex');
}

function write(root: string, p: string, data: string | Buffer, t = T): void {
  const abs = join(root, p);
  mkdirSync(join(abs, '..'), { recursive: true });
  writeFileSync(abs, data);
  utimesSync(abs, new Date(t), new Date(t));
}

/** Relative path -> sha256 of every file under root. */
function files(root: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(root, rel)).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    if (statSync(join(root, p)).isDirectory()) Object.assign(out, files(root, p));
    else out[p] = sha(join(root, p));
  }
  return out;
}

const APACHE_PAGE = (big: number) => `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html>
 <head>
  <title>Index of /apache</title>
 </head>
 <body>
<h1>Index of /apache</h1>
  <table>
   <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>
   <tr><th colspan="5"><hr></th></tr>
<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td><td><a href="/">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/folder.gif" alt="[DIR]"></td><td><a href="docs/">docs/</a></td><td align="right">2026-01-02 03:04  </td><td align="right">  - </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/compressed.gif" alt="[   ]"></td><td><a href="big%20file.bin">big file.bin</a></td><td align="right">2026-01-02 03:05  </td><td align="right">${(big / 1024).toFixed(1)}K</td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/text.gif" alt="[TXT]"></td><td><a href="small.txt">small.txt</a></td><td align="right">2026-01-02 03:06  </td><td align="right">  6 </td><td>&nbsp;</td></tr>
   <tr><th colspan="5"><hr></th></tr>
</table>
<address>Apache/2.4.62 (Debian) Server at 127.0.0.1 Port 80</address>
</body></html>
`;

let base: string;
let site: string;
let nginx: NginxServer;
const BIG = 3 * (1 << 20) + 77;

before(async () => {
  base = tempDir('http');
  site = join(base, 'site');
  write(site, 'a.txt', 'hello\n');
  write(site, 'name with spaces & more.txt', 'spaces\n');
  write(site, 'sub/deeper/leaf', 'leaf\n', T - 60 * MIN);
  write(site, 'sub/big.bin', Buffer.alloc(5 * (1 << 20) + 3, 7));
  for (let i = 0; i < 20; i++) write(site, `many/f${i}`, `file ${i}\n`.repeat(i + 1), T - i * MIN);
  // an Apache-format page beside the files it lists (nginx serves it for /apache/)
  write(site, 'apache/big file.bin', Buffer.alloc(BIG, 3));
  write(site, 'apache/small.txt', 'small\n');
  write(site, 'apache/docs/readme', 'readme\n');
  writeFileSync(join(site, 'apache/index.html'), APACHE_PAGE(BIG));
  write(site, 'apache/docs/index.html', '<html><body><table><tr><td><a href="readme">readme</a></td><td align="right">2026-01-02 03:07  </td><td align="right">  7 </td></tr></table></body></html>');
  nginx = await startNginx({ root: site, extra: ['location /forbidden/ { deny all; }'] });
});

after(async () => {
  await nginx?.stop();
  await closePools();
  if (base) removeDir(base);
});

describe('http:// site (nginx autoindex)', () => {
  test('omirr sync pulls the tree; a rerun is a no-op; a change is fetched', () => {
    const dst = join(base, 'dst');
    const r = omirr(['sync', nginx.url('/'), dst, '--json', '--exclude', 'apache/']);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const s = JSON.parse(r.stdout);
    assert.deepEqual(s.failed, []);
    const want = files(site);
    for (const k of Object.keys(want)) if (k.startsWith('apache/')) delete want[k];
    assert.deepEqual(files(dst), want);
    // times from the listing (to the minute, UTC)
    assert.equal(statSync(join(dst, 'sub/deeper/leaf')).mtimeMs, T - 60 * MIN);
    const again = JSON.parse(omirr(['sync', nginx.url('/'), dst, '--json', '--exclude', 'apache/']).stdout);
    assert.equal(again.filesSent, 0, JSON.stringify(again.planned));
    write(site, 'many/f5', 'changed, same minute later\n', T + 2 * MIN);
    const third = JSON.parse(omirr(['sync', nginx.url('/'), dst, '--json', '--exclude', 'apache/']).stdout);
    assert.equal(third.filesSent, 1);
    assert.equal(sha(join(dst, 'many/f5')), sha(join(site, 'many/f5')));
  });

  test('a partial large file resumes with Range', async () => {
    const dst = join(base, 'resume');
    mkdirSync(dst);
    const big = readFileSync(join(site, 'sub/big.bin'));
    const exp = { path: 'big.bin', kind: 'file' as const, size: big.length, mtimeMs: T, mode: 0o644 };
    writeFileSync(join(dst, tempPathFor(exp)), big.subarray(0, 1_500_000));
    const local = new LocalTree(dst, { writable: true });
    assert.equal((await local.resumeOffsets([exp])).get('big.bin'), 1_500_000);
    const r = omirr(['sync', nginx.url('/sub/'), dst, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).resumedBytes, 1_500_000);
    assert.equal(sha(join(dst, 'big.bin')), sha(join(site, 'sub/big.bin')));
  });

  test('an index page the server refuses fails the sync; --delete deletes nothing', () => {
    write(site, 'forbidden/x', 'x\n');
    const dst = join(base, 'refused');
    write(dst, 'forbidden/keep', 'mine\n');
    const r = omirr(['sync', nginx.url('/'), dst, '--json', '--delete']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr + r.stdout, /403/);
    assert.equal(readFileSync(join(dst, 'forbidden/keep'), 'utf8'), 'mine\n');
  });

  test('a page that is no listing (a maintenance page for every URL) fails the sync; --delete deletes nothing', async () => {
    // nginx serves the directory's index.html instead of its autoindex: a page without a
    // single child link, as a site in maintenance answers every URL with
    const down = join(base, 'down-site');
    write(down, 'a.txt', 'a\n');
    writeFileSync(join(down, 'index.html'), '<html><head><title>Down for maintenance</title></head><body><p>Back soon.</p><a href="https://status.example/">status</a></body></html>');
    const server = await startNginx({ root: down });
    try {
      const dst = join(base, 'down-dst');
      write(dst, 'a.txt', 'mine\n');
      write(dst, 'sub/b.txt', 'mine too\n');
      const r = omirr(['sync', server.url('/'), dst, '--json', '--delete']);
      assert.notEqual(r.status, 0, r.stdout);
      assert.match(r.stderr + r.stdout, /not a directory listing/);
      assert.equal(readFileSync(join(dst, 'a.txt'), 'utf8'), 'mine\n');
      assert.equal(readFileSync(join(dst, 'sub/b.txt'), 'utf8'), 'mine too\n');
    } finally {
      await server.stop();
    }
  });
});

describe('http:// site (Apache mod_autoindex page)', () => {
  test('the page parses: children only, rounded sizes marked, times to the minute', () => {
    const links = parseIndexPage(APACHE_PAGE(BIG));
    assert.deepEqual(
      links.map((l) => [l.name, l.dir, l.size, l.approxSize ?? false, l.mtimeMs]),
      [
        ['docs', true, undefined, false, Date.UTC(2026, 0, 2, 3, 4)],
        ['big file.bin', false, undefined, true, Date.UTC(2026, 0, 2, 3, 5)],
        ['small.txt', false, 6, false, Date.UTC(2026, 0, 2, 3, 6)],
      ],
    );
  });

  test('omirr sync: exact sizes and times from HEAD where the page rounds them', () => {
    const dst = join(base, 'apache');
    const r = omirr(['sync', nginx.url('/apache'), dst, '--json']);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.deepEqual(files(dst), { 'big file.bin': sha(join(site, 'apache/big file.bin')), 'docs/readme': sha(join(site, 'apache/docs/readme')), 'small.txt': sha(join(site, 'apache/small.txt')) });
    // big file.bin's time came from HEAD's Last-Modified (the file's real mtime), not the page
    assert.equal(statSync(join(dst, 'big file.bin')).mtimeMs, T);
    assert.equal(existsSync(join(dst, 'index.html')), false);
  });
});
