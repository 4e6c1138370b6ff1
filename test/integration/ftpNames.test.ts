// Names that are not UTF-8 on an FTP site (an old site's Latin-1 names) against a real
// vsftpd, which sends and takes a name as the bytes its file system holds: the listing
// (LIST -R, and directory by directory), the fetch (pipelined RETR), a rerun and an upload
// all keep the exact bytes. Before names crossed the control connection as bytes, such a
// name came back as U+FFFD, the fetch asked for a file that is not there ("550 Failed to
// open file") and the sync failed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytePath as at, byteTree, latin1 } from '../helpers/byteNames.js';
import { runOmirr } from '../helpers/omirrRun.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';
import { startVsftpd, type VsftpdServer } from '../helpers/vsftpdServer.js';


const omirr = (args: string[]) => runOmirr(args);

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const CAFE = latin1('caf\xe9.txt');
const DIR = latin1('r\xe9pertoire');
const INNER = latin1('\xfcber.bin');
const NAIVE = utf8('na\u00efve.txt');
const SPACED = latin1(' lead \xe0 trail');

let base: string;
let site: string;
let ftp: VsftpdServer;
let walkFtp: VsftpdServer;

before(async () => {
  base = tempDir('ftp-names');
  site = join(base, 'site');
  mkdirSync(at(site, DIR), { recursive: true });
  writeFileSync(at(site, CAFE), 'caf\xe9 in Latin-1\n');
  writeFileSync(at(site, DIR, INNER), Buffer.alloc(70_000, 7));
  writeFileSync(at(site, NAIVE), 'UTF-8 name\n');
  writeFileSync(at(site, SPACED), 'blanks at both ends\n');
  writeFileSync(join(site, 'plain.txt'), 'ascii\n');
  ftp = await startVsftpd({ root: site });
  walkFtp = await startVsftpd({ root: site, lsRecurse: false });
});

after(async () => {
  await ftp?.stop();
  await walkFtp?.stop();
  if (base) removeDir(base);
});

describe('FTP names that are not UTF-8 (vsftpd)', () => {
  for (const [how, server] of [
    ['one LIST -R', () => ftp],
    ['directory by directory', () => walkFtp],
  ] as const) {
    test(`listed by ${how}, fetched and rerun under their exact bytes`, () => {
      const dst = join(base, `dst-${how.replace(/\W+/g, '-')}`);
      const r = omirr(['sync', server().url('/'), dst, '--json']);
      assert.equal(r.status, 0, r.stderr + r.stdout);
      assert.deepEqual(JSON.parse(r.stdout).failed, []);
      const want = byteTree(site);
      assert.equal(Object.keys(want).length, 5);
      assert.deepEqual(byteTree(dst), want);
      const again = omirr(['sync', server().url('/'), dst, '--json']);
      assert.equal(again.status, 0, again.stderr + again.stdout);
      assert.equal(JSON.parse(again.stdout).filesSent, 0, again.stdout);
    });
  }

  test('an upload (user login) stores a Latin-1 name under its bytes', async () => {
    const up = join(base, 'upload-site');
    mkdirSync(up);
    const server = await startVsftpd({ root: up, writable: true });
    try {
      const local = join(base, 'upload-src');
      mkdirSync(at(local, DIR), { recursive: true });
      writeFileSync(at(local, CAFE), 'up\n');
      writeFileSync(at(local, DIR, INNER), 'inner\n');
      const r = omirr(['sync', local, server.url('/', { login: true }), '--json']);
      assert.equal(r.status, 0, r.stderr + r.stdout);
      assert.deepEqual(byteTree(up), byteTree(local));
    } finally {
      await server.stop();
    }
  });

  test('two Latin-1 names the tar reader cannot tell apart are refused loudly, the rest uploaded', async () => {
    const up = join(base, 'upload-alike');
    mkdirSync(up);
    const server = await startVsftpd({ root: up, writable: true });
    try {
      const local = join(base, 'upload-alike-src');
      mkdirSync(local);
      writeFileSync(at(local, latin1('caf\xe9.txt')), 'e acute\n');
      writeFileSync(at(local, latin1('caf\xe8.txt')), 'e grave\n');
      writeFileSync(join(local, 'plain.txt'), 'plain\n');
      const r = omirr(['sync', local, server.url('/', { login: true }), '--json']);
      assert.equal(r.status, 1, r.stderr + r.stdout);
      const failed = ((JSON.parse(r.stdout).failed ?? assert.fail(r.stdout + r.stderr)) as Array<{ path: string; error: string }>).map((f) => f.path).sort();
      assert.deepEqual(failed, ['caf\udce8.txt', 'caf\udce9.txt']);
      assert.deepEqual(readdirSync(up), ['plain.txt']);
      assert.equal(readFileSync(join(up, 'plain.txt'), 'utf8'), 'plain\n');
    } finally {
      await server.stop();
    }
  });
});
