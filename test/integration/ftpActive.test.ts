// Active-mode FTP (mirror's passive_ftp=0; src/sites/ftpActive.ts). Against a real vsftpd
// on loopback with passive mode turned off (pasv_enable=NO), so a transfer that works can
// only have been active: the default (passive) mode fails there, active mode lists,
// downloads, resumes with REST, uploads, and does it over FTPS. Then, with a scripted
// server (a real TCP peer on loopback playing a hostile or broken FTP server): a data
// connection from another address is closed unread and the server's own one is used, and
// a server that never connects fails the transfer after the timeout, loudly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Client } from 'basic-ftp';
import { bytes, describeTree, removeDir, tempDir } from '../helpers/engineFixtures.js';
import { omirr as mirrorCli, pkgText } from '../helpers/mirrorFixtures.js';
import { startVsftpd, type VsftpdServer } from '../helpers/vsftpdServer.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { tempPathFor } from '../../src/engine/paths.js';
import { mirrorTree } from '../../src/api/mirrorTree.js';
import { activeMode, portCommand } from '../../src/sites/ftpActive.js';
import { closePools } from '../../src/workers/pool.js';

const RECENT = Math.floor((Date.now() - 3 * 3600_000) / 60_000) * 60_000;
const ACTIVE_ONLY = ['pasv_enable=NO', 'port_enable=YES', 'connect_from_port_20=NO'];

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const content = (root: string): ReturnType<typeof describeTree> => describeTree(root, { dirMtimes: false });

let base: string;
let src: string;
let ftp: VsftpdServer;

before(async () => {
  base = tempDir('ftpactive');
  src = join(base, 'site');
  mkdirSync(join(src, 'pub/deep'), { recursive: true });
  writeFileSync(join(src, 'readme.txt'), 'read me\n');
  writeFileSync(join(src, 'empty'), '');
  writeFileSync(join(src, 'pub/big.bin'), bytes(3 * (1 << 20) + 17, 3));
  writeFileSync(join(src, 'pub/deep/leaf'), bytes(5000, 4));
  // times to the minute (what LIST gives): the copies compare equal, the resume test can name the partial file
  for (const f of ['readme.txt', 'empty', 'pub/big.bin', 'pub/deep/leaf']) utimesSync(join(src, f), new Date(RECENT), new Date(RECENT));
  ftp = await startVsftpd({ root: src, extra: ACTIVE_ONLY });
});

after(async () => {
  await ftp?.stop();
  await closePools();
  if (base) removeDir(base);
});

describe('active FTP against vsftpd with passive mode off', () => {
  test('passive mode (the default) fails there: nothing is written', async () => {
    const dst = join(base, 'passive');
    await assert.rejects(mirrorTree(ftp.url('/'), dst, { ftp: { timeoutSec: 10 } }), /transfer strategies|550|denied/i);
    assert.deepEqual(existsSync(dst) ? readdirSync(dst) : [], []);
  });

  test('active mode lists (recursive LIST, and per directory) and downloads the tree; a rerun is a no-op', async () => {
    const dst = join(base, 'active');
    const r = await mirrorTree(ftp.url('/'), dst, { ftp: { passive: false } });
    assert.equal(r.ok, true, JSON.stringify(r.failed));
    assert.equal(r.filesSent, 4);
    assert.deepEqual(content(dst), content(src));
    const again = await mirrorTree(ftp.url('/'), dst, { ftp: { passive: false, listing: 'walk' } });
    assert.equal(again.ok, true, JSON.stringify(again.failed));
    assert.equal(again.filesSent, 0);
  });

  test('a partial large file resumes with REST in active mode', async () => {
    const dst = join(base, 'resume');
    mkdirSync(dst, { recursive: true });
    const big = readFileSync(join(src, 'pub/big.bin'));
    const exp = { path: 'big.bin', kind: 'file' as const, size: big.length, mtimeMs: RECENT, mode: 0o644 };
    const tmp = tempPathFor(exp);
    writeFileSync(join(dst, tmp), big.subarray(0, 1_000_000));
    const local = new LocalTree(dst, { writable: true });
    const offsets = await local.resumeOffsets([exp]);
    await local.close();
    assert.equal(offsets.get('big.bin'), 1_000_000, 'the fixture must look like a resumable partial file');
    const r = await mirrorTree(ftp.url('/pub'), dst, { ftp: { passive: false } });
    assert.equal(r.ok, true, JSON.stringify(r.failed));
    assert.equal(r.resumedBytes, 1_000_000);
    assert.equal(sha(join(dst, 'big.bin')), sha(join(src, 'pub/big.bin')));
    assert.equal(existsSync(join(dst, tmp)), false);
  });

  test('omirr mirror with passive_ftp=0 (as mirror 2.9 wrote it) mirrors; a rerun gets nothing', async () => {
    const dir = join(base, 'mirror');
    mkdirSync(dir);
    writeFileSync(join(dir, 'pk'), pkgText('act', { site: `127.0.0.1:${ftp.port}`, remote_dir: '/pub', local_dir: 'out', passive_ftp: 'false', mode_copy: '1' }));
    const r = await mirrorCli(['mirror', 'pk'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /not supported/);
    assert.equal(sha(join(dir, 'out/big.bin')), sha(join(src, 'pub/big.bin')));
    assert.equal(sha(join(dir, 'out/deep/leaf')), sha(join(src, 'pub/deep/leaf')));
    const again = await mirrorCli(['mirror', 'pk'], { cwd: dir });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /package=act: got 0 file\(s\)/);
  });

  test('upload mode in active mode: STOR over a data connection the server opens', async () => {
    const up = join(base, 'upload-site');
    mkdirSync(up);
    const server = await startVsftpd({ root: up, writable: true, extra: ACTIVE_ONLY });
    try {
      const local = join(base, 'upload-src');
      mkdirSync(join(local, 'd'), { recursive: true });
      writeFileSync(join(local, 'a.txt'), 'a\n');
      writeFileSync(join(local, 'd/big.bin'), bytes(1_500_000, 9));
      writeFileSync(join(local, 'd/zero'), '');
      const r = await mirrorTree(local, server.url('/', { login: true }), { ftp: { passive: false } });
      assert.equal(r.ok, true, JSON.stringify(r.failed));
      assert.equal(r.filesSent, 3);
      for (const p of ['a.txt', 'd/big.bin', 'd/zero']) assert.equal(sha(join(up, p)), sha(join(local, p)), p);
      assert.deepEqual(readdirSync(up).filter((n) => n.startsWith('.omirr')), []);
    } finally {
      await server.stop();
    }
  });

  test('FTPS in active mode: the data connection is TLS too (we are its TLS client)', async () => {
    const server = await startVsftpd({ root: src, tls: true, extra: [...ACTIVE_ONLY, 'force_local_data_ssl=YES'] });
    try {
      const dst = join(base, 'tls');
      const r = await mirrorTree(server.url('/', { login: true, tls: true }), dst, { ftp: { passive: false, ca: readFileSync(server.caFile!) } });
      assert.equal(r.ok, true, JSON.stringify(r.failed));
      assert.deepEqual(content(dst), content(src));
    } finally {
      await server.stop();
    }
  });
});

/**
 * A scripted FTP server on 127.0.0.1: greets, says 200 to anything but PORT (whose port it
 * keeps) and RETR, which `onRetr` answers.
 */
async function scriptedServer(onRetr: (ctl: Socket, port: number) => Promise<void>): Promise<{ port: number; server: Server }> {
  const server = createServer((ctl) => {
    let port = 0;
    let buf = '';
    ctl.write('220 scripted\r\n');
    ctl.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const m = /^PORT (\d+),(\d+),(\d+),(\d+),(\d+),(\d+)$/.exec(line);
        if (m) {
          port = Number(m[5]) * 256 + Number(m[6]);
          ctl.write('200 PORT ok\r\n');
        } else if (line.startsWith('RETR ')) void onRetr(ctl, port);
        else ctl.write('200 ok\r\n');
      }
    });
    ctl.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port, server };
}

function collect(): { sink: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  return { sink, text: () => Buffer.concat(chunks).toString() };
}

describe('active FTP data connections: hostile and broken servers', () => {
  test('PORT for IPv4, EPRT for IPv6', () => {
    assert.equal(portCommand('127.0.0.1', 0x1234), 'PORT 127,0,0,1,18,52');
    assert.equal(portCommand('::1', 40000), 'EPRT |2|::1|40000|');
  assert.equal(portCommand('fe80::1%eth0', 40000), 'EPRT |2|fe80::1|40000|');
  });

  test('a connection from another address is closed unread; the server’s own is the data', async () => {
    let intruderGot = '';
    const { port, server } = await scriptedServer(async (ctl, dataPort) => {
      ctl.write('150 here it comes\r\n');
      // someone else on the machine races for the port first (from 127.0.0.2)
      const evil = createConnection({ host: '127.0.0.1', port: dataPort, localAddress: '127.0.0.2' });
      evil.on('data', (d: Buffer) => (intruderGot += d.toString()));
      evil.on('error', () => {});
      evil.on('connect', () => evil.write('EVIL'));
      await once(evil, 'close');
      const good = createConnection({ host: '127.0.0.1', port: dataPort });
      await once(good, 'connect');
      good.end('GOOD');
      await once(good, 'close');
      ctl.write('226 done\r\n');
    });
    const c = new Client(10_000);
    try {
      await c.connect('127.0.0.1', port);
      c.prepareTransfer = activeMode();
      const out = collect();
      await c.downloadTo(out.sink, 'file');
      assert.equal(out.text(), 'GOOD');
      assert.equal(intruderGot, '');
    } finally {
      c.close();
      server.close();
    }
  });

  test('a server that never connects: the transfer fails after the timeout, naming active mode', async () => {
    const { port, server } = await scriptedServer(async () => {
      // says nothing and never connects
    });
    const c = new Client(400);
    try {
      await c.connect('127.0.0.1', port);
      c.prepareTransfer = activeMode();
      await assert.rejects(c.downloadTo(collect().sink, 'file'), /no data connection within 0\.4 s/);
    } finally {
      c.close();
      server.close();
    }
  });

  test('a server refusing PORT fails the transfer with its answer', async () => {
    const server = createServer((ctl) => {
      ctl.write('220 scripted\r\n');
      ctl.on('data', () => ctl.write('500 Illegal PORT command.\r\n'));
      ctl.on('error', () => {});
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const c = new Client(5000);
    try {
      await c.connect('127.0.0.1', (server.address() as { port: number }).port);
      c.prepareTransfer = activeMode();
      await assert.rejects(c.downloadTo(collect().sink, 'file'), /active FTP: 500 Illegal PORT/);
    } finally {
      c.close();
      server.close();
    }
  });
});
