// ftp:// and ftps:// sites against a real vsftpd on a loopback port: `omirr sync` pulls a
// tree (anonymous, and a user login over explicit TLS), a rerun is a no-op, a change
// is fetched, a large partial file resumes with REST, a server that ignores LIST -R is
// walked, and what cannot be read or trusted fails loudly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeTree, removeDir, tempDir, type Described } from '../helpers/engineFixtures.js';
import { startVsftpd, type VsftpdServer } from '../helpers/vsftpdServer.js';
import { startNoEpsvProxy } from '../helpers/ftpNoEpsvProxy.js';
import { startStallProxy } from '../helpers/ftpStallProxy.js';
import { omirr as mirrorCli } from '../helpers/mirrorFixtures.js';
import { gzipSync } from 'node:zlib';
import { LocalTree } from '../../src/engine/localTree.js';
import { mirrorTree } from '../../src/api/mirrorTree.js';
import { tempPathFor } from '../../src/engine/paths.js';
import { closePools } from '../../src/workers/pool.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
const MIN = 60_000;
/** A recent time to the minute (listed as `Mon dd hh:mm`), and an old day (listed with its year). */
const RECENT = Math.floor((Date.now() - 3 * 3600_000) / MIN) * MIN;
const OLD = Date.UTC(2020, 0, 1);

function omirr(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, OMIRR_LOG_LEVEL: 'warn', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** This host's ephemeral port range. */
function ephemeralRange(): [number, number] {
  const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  return [lo!, hi!];
}

/** IPv4 sockets on this host in TIME_WAIT whose (local port, remote port) pass `pick` (/proc/net/tcp). */
function timeWait(pick: (local: number, remote: number) => boolean): number {
  let n = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] !== '06') continue; // TCP_TIME_WAIT
    const port = (addr: string | undefined): number => parseInt(addr?.split(':')[1] ?? '', 16);
    if (pick(port(f[1]), port(f[2]))) n++;
  }
  return n;
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** The served tree: small and large files, odd names, a dotfile, a symlink, modes, old and recent times. */
function makeFtpTree(root: string): void {
  const files: Array<[string, number, number, number]> = [
    ['readme.txt', 120, 0o644, OLD],
    ['empty', 0, 0o644, RECENT],
    ['.hidden', 10, 0o644, RECENT],
    ['name with spaces.txt', 77, 0o644, RECENT],
    ['bin/tool.sh', 300, 0o755, RECENT - 5 * MIN],
    ['pub/big.iso', 6 * (1 << 20) + 123, 0o644, RECENT],
    ['pub/deep/a/b/leaf', 513, 0o644, OLD],
  ];
  for (let i = 0; i < 30; i++) files.push([`many/f${String(i).padStart(2, '0')}`, i * 97, 0o644, RECENT - i * MIN]);
  files.forEach(([p, size, mode, t], i) => {
    const abs = join(root, p);
    mkdirSync(join(abs, '..'), { recursive: true });
    writeFileSync(abs, bytes(size, i + 1));
    chmodSync(abs, mode);
    utimesSync(abs, new Date(t), new Date(t));
  });
  symlinkSync('readme.txt', join(root, 'README'));
  for (const d of ['pub/deep/a/b', 'pub/deep/a', 'pub/deep', 'pub', 'bin', 'many']) utimesSync(join(root, d), new Date(RECENT), new Date(RECENT));
}

/** Files and links as the mirror must reproduce them (directory times and symlink times aside). */
function content(root: string): Record<string, Described> {
  const d = describeTree(root, { dirMtimes: false });
  return d;
}

/** Names, kinds, contents and link targets only (mirror sets its own modes: file_mode, dir_mode). */
function names(root: string): Record<string, string> {
  return Object.fromEntries(Object.entries(describeTree(root)).map(([p, d]) => [p, d.sha256 ?? d.target ?? d.kind]));
}

function sha(p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex');
}

let base: string;
let src: string;
let ftp: VsftpdServer;
let ftps: VsftpdServer;

before(async () => {
  base = tempDir('ftp');
  src = join(base, 'site');
  makeFtpTree(src);
  ftp = await startVsftpd({ root: src });
  ftps = await startVsftpd({ root: src, tls: true });
});

after(async () => {
  await ftp?.stop();
  await ftps?.stop();
  await closePools();
  if (base) removeDir(base);
});

describe('ftp:// site (vsftpd)', () => {
  test('omirr sync pulls the tree anonymously; a rerun is a no-op; a change is fetched', () => {
    const dst = join(base, 'anon');
    const r = omirr(['sync', ftp.url('/'), dst, '--json']);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const s = JSON.parse(r.stdout);
    assert.deepEqual(s.failed, []);
    assert.equal(s.filesSent, 37);
    assert.deepEqual(content(dst), content(src));

    const again = JSON.parse(omirr(['sync', ftp.url('/'), dst, '--json']).stdout);
    assert.equal(again.filesSent, 0, JSON.stringify(again.planned));
    assert.equal(again.planned.setattrs, 0, JSON.stringify(again.planned));

    // same size, new content, a later minute: fetched
    const f = join(src, 'many/f03');
    writeFileSync(f, bytes(3 * 97, 999));
    utimesSync(f, new Date(RECENT + 2 * MIN), new Date(RECENT + 2 * MIN));
    const third = JSON.parse(omirr(['sync', ftp.url('/'), dst, '--json']).stdout);
    assert.equal(third.filesSent, 1);
    assert.equal(sha(join(dst, 'many/f03')), sha(f));
  });

  test('a subdirectory URL mirrors only that directory', () => {
    const dst = join(base, 'sub');
    const r = omirr(['sync', ftp.url('/pub/deep'), dst, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(Object.keys(content(dst)), ['a', 'a/b', 'a/b/leaf']);
    assert.equal(sha(join(dst, 'a/b/leaf')), sha(join(src, 'pub/deep/a/b/leaf')));
  });

  test('a partial large file resumes with REST', async () => {
    const dst = join(base, 'resume');
    mkdirSync(dst, { recursive: true });
    const big = readFileSync(join(src, 'pub/big.iso'));
    // what a broken earlier transfer leaves: the temporary name holding a prefix
    const exp = { path: 'big.iso', kind: 'file' as const, size: big.length, mtimeMs: RECENT, mode: 0o644 };
    const tmp = tempPathFor(exp);
    writeFileSync(join(dst, tmp), big.subarray(0, 2_000_000));
    const local = new LocalTree(dst, { writable: true });
    const offsets = await local.resumeOffsets([exp]);
    await local.close();
    assert.equal(offsets.get('big.iso'), 2_000_000, 'the fixture must look like a resumable partial file');
    const r = omirr(['sync', ftp.url('/pub'), dst, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.resumedBytes, 2_000_000);
    assert.equal(sha(join(dst, 'big.iso')), sha(join(src, 'pub/big.iso')));
    assert.equal(existsSync(join(dst, tmp)), false);
  });

  test('a file the server will not send fails the sync loudly; the rest arrives', async () => {
    const root = join(base, 'locked-site');
    mkdirSync(root);
    writeFileSync(join(root, 'open.txt'), 'open\n');
    writeFileSync(join(root, 'secret.txt'), 'secret\n');
    chmodSync(join(root, 'secret.txt'), 0o600); // root's: anonymous (user ftp) cannot read it
    const server = await startVsftpd({ root });
    try {
      const dst = join(base, 'locked');
      const r = omirr(['sync', server.url('/'), dst, '--json']);
      assert.equal(r.status, 1, r.stderr);
      const s = JSON.parse(r.stdout);
      assert.deepEqual(s.failed.map((f: { path: string }) => f.path), ['secret.txt']);
      assert.equal(readFileSync(join(dst, 'open.txt'), 'utf8'), 'open\n');
      assert.equal(existsSync(join(dst, 'secret.txt')), false);
    } finally {
      await server.stop();
    }
  });

  for (const [how, extra, env] of [
    ['data connections half-closed as soon as made (vsftpd, forced on this host)', [], { OMIRR_FTP_HALF_CLOSE: '1' }],
    ['data connections closed after the server\'s FIN (vsftpd on this host)', [], {}],
    ['a greeting not known for the early half-close, even forced', ['ftpd_banner=Welcome to a mirror'], { OMIRR_FTP_HALF_CLOSE: '1' }],
  ] as Array<[string, string[], Record<string, string>]>) {
    test(`pipelined downloads, ${how}: refused and empty files among many keep every reply with its file`, async () => {
      // Several files' commands are out at once on one connection (src/sites/ftpRetrPipeline.ts),
      // and each data connection's socket is reconnected for a later file: a refusal (550) or
      // an empty file between them must not shift a reply, a data connection or a reused
      // socket onto the wrong file. Adjacent refusals, one at the very end.
      const root = join(base, `pipelined-site-${how.length}`);
      mkdirSync(root);
      const locked = new Set([3, 4, 17, 39, 55, 56, 57, 119]);
      const want: Record<string, string> = {};
      for (let i = 0; i < 120; i++) {
        const name = `p${String(i).padStart(3, '0')}`;
        writeFileSync(join(root, name), i % 7 === 0 ? Buffer.alloc(0) : bytes(100 + i * 331, 1000 + i));
        if (locked.has(i)) chmodSync(join(root, name), 0o600); // root's: anonymous cannot read it
        else want[name] = sha(join(root, name));
      }
      const server = await startVsftpd({ root, extra });
      try {
        const dst = join(base, `pipelined-${how.length}`);
        const r = omirr(['sync', server.url('/'), dst, '--json'], env);
        assert.equal(r.status, 1, r.stderr);
        const s = JSON.parse(r.stdout);
        assert.deepEqual(
          s.failed.map((f: { path: string }) => f.path).sort(),
          [...locked].map((i) => `p${String(i).padStart(3, '0')}`),
        );
        // each named with the server's reply, not only as missing
        for (const f of s.failed as Array<{ path: string; error: string }>) assert.match(f.error, /^not sent: the site refused it: 550 /, f.path);
        const got = Object.fromEntries(readdirSync(dst).map((n) => [n, sha(join(dst, n))]));
        assert.deepEqual(got, want);
      } finally {
        await server.stop();
      }
    });
  }

  for (const [how, from, early] of [
    ['outside this host\'s ephemeral range: our end of each data connection closes first', 10_000 + Math.floor(Math.random() * 90) * 100, true],
    ['inside this host\'s ephemeral range: the server\'s end closes first', ephemeralRange()[0] + Math.floor(Math.random() * 90) * 100, false],
  ] as Array<[string, number, boolean]>) {
    test(`vsftpd on this host with its passive ports ${how}`, async () => {
      const FILES = 12;
      // With vsftpd (SO_LINGER on its data connections) our side is half-closed as soon as a
      // data connection is made, which leaves our end in TIME_WAIT. On this host that is safe
      // only where the server never binds one of our ephemeral ports (src/sites/ftp.ts,
      // halfClosePolicy). The kernel says who closed first: the end in TIME_WAIT. The files
      // are larger than a socket's first receive window, so the server cannot have sent all
      // of one, and its FIN, before our half-close goes out (a small file's FIN can: a race).
      const to = from + 99;
      const root = join(base, `pasv-${from}`);
      mkdirSync(root);
      const want: Record<string, string> = {};
      for (let i = 0; i < FILES; i++) {
        writeFileSync(join(root, `q${i}`), bytes((1 << 20) + i * 97, 7000 + i));
        want[`q${i}`] = sha(join(root, `q${i}`));
      }
      const server = await startVsftpd({ root, extra: [`pasv_min_port=${from}`, `pasv_max_port=${to}`] });
      try {
        const ours0 = timeWait((_local, remote) => remote >= from && remote <= to);
        const dst = join(base, `pasv-dst-${from}`);
        const r = omirr(['sync', server.url('/'), dst, '--json']);
        assert.equal(r.status, 0, r.stderr);
        const got = Object.fromEntries(readdirSync(dst).map((n) => [n, sha(join(dst, n))]));
        assert.deepEqual(got, want);
        const ours = timeWait((_local, remote) => remote >= from && remote <= to) - ours0;
        const theirs = timeWait((local) => local >= from && local <= to);
        if (early) {
          assert.ok(ours >= FILES, `our end of each of the ${FILES} data connections in TIME_WAIT (${ours})`);
        } else {
          // (other tests' connections to a port in the range may close first: not one per file)
          assert.ok(ours < FILES / 2, `our data connections did not close first (${ours} of ours in TIME_WAIT)`);
          assert.ok(theirs >= FILES, `the server's end of each data connection in TIME_WAIT (${theirs})`);
        }
      } finally {
        await server.stop();
      }
    });
  }

  test('a data connection that never ends (the server said 226) fails its file after the timeout; the rest arrives', async () => {
    // vsftpd behind a proxy that hands the client a silent data connection for stall.dat
    // (test/helpers/ftpStallProxy.ts): the server goes on to the next files, so the control
    // connection stays busy, and the stalled file outlives its 226 and the pipeline itself.
    // Only the client's timeout (timeout=2) can end it: the run must fail that file, not hang.
    const root = join(base, 'stall-site');
    mkdirSync(root);
    const want: Record<string, string> = {};
    for (let i = 0; i < 8; i++) {
      const name = `s${i}`;
      writeFileSync(join(root, name), bytes(500 + i * 997, 4000 + i));
      want[name] = sha(join(root, name));
    }
    writeFileSync(join(root, 'stall.dat'), bytes(3000, 4100));
    const server = await startVsftpd({ root });
    const proxy = await startStallProxy(server.port, /stall\.dat$/);
    try {
      const dir = join(base, 'mirror-stall');
      mkdirSync(dir);
      writeFileSync(join(dir, 'pk'), ['package=stall', `  site=127.0.0.1:${proxy.port}`, '  remote_dir=/', '  local_dir=out', '  timeout=2', ''].join('\n'));
      const r = await mirrorCli(['mirror', 'pk'], { cwd: dir });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.ok(proxy.stalled() >= 1, 'the stalled file was asked for');
      assert.match(r.stdout + r.stderr, /stall\.dat/);
      const out = join(dir, 'out');
      assert.deepEqual(Object.fromEntries(readdirSync(out).map((n) => [n, sha(join(out, n))])), want);
    } finally {
      await proxy.close();
      await server.stop();
    }
  });

  test('a server that ignores LIST -R is listed directory by directory', async () => {
    const server = await startVsftpd({ root: src, lsRecurse: false });
    try {
      const dst = join(base, 'walked');
      const r = omirr(['sync', server.url('/'), dst, '--json']);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(content(dst), content(src));
    } finally {
      await server.stop();
    }
  });
});

describe('ftps:// site (vsftpd, explicit TLS)', () => {
  test('a user login over TLS pulls the tree', () => {
    const dst = join(base, 'tls');
    const r = omirr(['sync', ftps.url('/', { login: true, tls: true }), dst, '--json'], { NODE_EXTRA_CA_CERTS: ftps.caFile! });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.deepEqual(content(dst), content(src));
  });

  test('an untrusted certificate is refused (exit 3), nothing written', () => {
    const dst = join(base, 'untrusted');
    const r = omirr(['sync', ftps.url('/', { tls: true }), dst, '--json']);
    assert.equal(r.status, 3, r.stderr + r.stdout);
    assert.match(r.stderr, /certificate/);
    assert.equal(existsSync(join(dst, 'readme.txt')), false);
  });

  test('a wrong password is refused (exit 3)', () => {
    const dst = join(base, 'badpw');
    const url = `ftps://${ftps.user}:wrong@127.0.0.1:${ftps.port}/`;
    const r = omirr(['sync', url, dst, '--json'], { NODE_EXTRA_CA_CERTS: ftps.caFile! });
    assert.equal(r.status, 3, r.stderr + r.stdout);
    assert.match(r.stderr + r.stdout, /login refused/);
  });
});

describe('omirr mirror from an FTP site (vsftpd)', () => {
  test('a bare host:port site is FTP; ftp:// URLs too; a rerun fetches nothing', async () => {
    const dir = join(base, 'mirror');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'pk'),
      [
        'package=bare',
        `  site=127.0.0.1:${ftp.port}`,
        '  remote_dir=/pub',
        '  local_dir=out/bare',
        'package=url',
        `  site=ftp://127.0.0.1:${ftp.port}`,
        '  remote_dir=many',
        '  local_dir=out/url',
        '  exclude_patt=f1\\d',
        '',
      ].join('\n'),
    );
    const r = await mirrorCli(['mirror', 'pk'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(names(join(dir, 'out/bare')), names(join(src, 'pub')));
    const want = Object.fromEntries(Object.entries(names(join(src, 'many'))).filter(([p]) => !/f1\d/.test(p)));
    assert.deepEqual(names(join(dir, 'out/url')), want);
    const again = await mirrorCli(['mirror', 'pk'], { cwd: dir });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /package=bare: got 0 file\(s\)/);
    assert.match(again.stdout, /package=url: got 0 file\(s\)/);
  });

  test('a server that refuses EPSV: every file comes by PASV, the first one too; the refusal is remembered', async () => {
    // vsftpd behind a proxy that answers EPSV `500 not understood` (test/helpers/ftpNoEpsvProxy.ts)
    const root = join(base, 'no-epsv-site');
    mkdirSync(join(root, 'd'), { recursive: true });
    const want: Record<string, string> = {};
    for (let i = 0; i < 12; i++) {
      const name = i < 6 ? `f${String(i).padStart(2, '0')}` : `d/g${i}`;
      writeFileSync(join(root, name), bytes(1 + i * 4099, 3000 + i));
      want[name] = sha(join(root, name));
    }
    const server = await startVsftpd({ root });
    const proxy = await startNoEpsvProxy(server.port);
    try {
      const dir = join(base, 'mirror-no-epsv');
      mkdirSync(dir);
      writeFileSync(join(dir, 'pk'), ['package=noepsv', `  site=127.0.0.1:${proxy.port}`, '  remote_dir=/', '  local_dir=out', ''].join('\n'));
      const r = await mirrorCli(['mirror', 'pk'], { cwd: dir });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const out = join(dir, 'out');
      assert.deepEqual(Object.fromEntries(Object.keys(want).map((n) => [n, existsSync(join(out, n)) ? sha(join(out, n)) : 'missing'])), want);
      assert.match(r.stdout, /package=noepsv: got 12 file\(s\)/);
      // asked once by the listing and once by the first pipeline, not once per file
      assert.ok(proxy.refused() >= 1 && proxy.refused() <= 2, `EPSV refused ${proxy.refused()} times`);
    } finally {
      await proxy.close();
      await server.stop();
    }
  });

  test('the first package is listed early (before the modules load): its listing warnings still reach the log; the second package lists on its own', async () => {
    // src/mirror/earlySite.ts: `omirr mirror pk` opens and lists the first package's site
    // while the command loads, with a logger that holds its lines until the command's own
    // is there (test/mirror/earlySite.test.ts). A fifo on the site makes the listing warn:
    // the warning must reach the command's log; both packages must come right.
    const root = join(base, 'early-site');
    mkdirSync(join(root, 'one'), { recursive: true });
    mkdirSync(join(root, 'two'), { recursive: true });
    writeFileSync(join(root, 'one/a.bin'), bytes(7000, 71));
    writeFileSync(join(root, 'two/b.bin'), bytes(9000, 72));
    spawnSync('mkfifo', [join(root, 'one/pipe')]);
    assert.ok(statSync(join(root, 'one/pipe')).isFIFO(), 'mkfifo made the fifo');
    const server = await startVsftpd({ root });
    try {
      const dir = join(base, 'mirror-early');
      mkdirSync(dir);
      const pkg = (name: string, sub: string): string => [`package=${name}`, `  site=127.0.0.1:${server.port}`, `  remote_dir=/${sub}`, `  local_dir=out-${sub}`, ''].join('\n');
      writeFileSync(join(dir, 'pk'), pkg('first', 'one') + pkg('second', 'two'));
      const r = await mirrorCli(['mirror', 'pk'], { cwd: dir });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stderr, /not a file, directory or symlink: not mirrored/);
      assert.equal(sha(join(dir, 'out-one/a.bin')), sha(join(root, 'one/a.bin')));
      assert.equal(sha(join(dir, 'out-two/b.bin')), sha(join(root, 'two/b.bin')));
      assert.deepEqual(readdirSync(join(dir, 'out-one')), ['a.bin']);
    } finally {
      await server.stop();
    }
  });

  test('a package that stops before its site is listed (local_dir is a file): exit 2, the site listed early is let go before the next package', async () => {
    const dir = join(base, 'mirror-early-unused');
    mkdirSync(dir);
    writeFileSync(join(dir, 'out'), 'not a directory\n');
    // one connection per client address: the early connection still open would make the
    // second package's own connection refused (421)
    const server = await startVsftpd({ root: src, extra: ['max_per_ip=1'] });
    try {
      const pkg = (name: string, local: string): string => `package=${name}\n  site=127.0.0.1:${server.port}\n  remote_dir=/\n  local_dir=${local}\n`;
      writeFileSync(join(dir, 'pk'), pkg('blocked', 'out') + pkg('next', 'copy'));
      // (mirrorCli fails the test if the command does not end: a connection left open would keep it)
      const r = await mirrorCli(['mirror', 'pk'], { cwd: dir });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stdout, /package=blocked: local_dir .* is not a directory/);
      assert.equal(readFileSync(join(dir, 'out'), 'utf8'), 'not a directory\n');
      assert.match(r.stdout, /package=next: got \d+ file\(s\)/);
      assert.deepEqual(names(join(dir, 'copy')), names(src));
    } finally {
      await server.stop();
    }
  });

  test('a server that answers 421 (too many connections) is asked again; the copy arrives once it lets us in', async () => {
    // vsftpd with one session per client address, taken by a connection of the test's own:
    // omirr's first try gets 421. The held session is let go only once omirr has said it
    // will ask again, so the copy can only come from a later try.
    const root = join(base, 'busy-site');
    mkdirSync(root);
    writeFileSync(join(root, 'a.txt'), 'busy but there\n');
    const server = await startVsftpd({ root, extra: ['max_per_ip=1'] });
    // the session held: connected until greeted with 220 (the fixture's own readiness
    // probe is counted by vsftpd for a moment after it has gone: a 421 then, try again)
    const greeted = (): Promise<{ sock: Socket; code: string }> =>
      new Promise((resolve, reject) => {
        const sock = createConnection({ host: '127.0.0.1', port: server.port });
        sock.once('data', (d: Buffer) => resolve({ sock, code: d.toString('latin1').slice(0, 3) }));
        sock.once('error', reject);
      });
    let held = await greeted();
    for (let i = 0; i < 200 && held.code !== '220'; i++) {
      held.sock.destroy();
      await new Promise((resolve) => held.sock.once('close', resolve));
      held = await greeted();
    }
    try {
      assert.equal(held.code, '220', 'the test could not hold a session');
      const dst = join(base, 'busy-dst');
      const child = spawn(process.execPath, [bin, 'sync', server.url('/'), dst], { env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' } });
      let stderr = '';
      const told = new Promise<void>((resolve) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/server is busy \(421\)/.test(stderr)) resolve();
        });
      });
      const code = new Promise<number | null>((resolve) => child.once('close', resolve));
      await Promise.race([told, code]);
      held.sock.destroy();
      assert.equal(await code, 0, stderr);
      assert.match(stderr, /server is busy \(421\)/);
      assert.equal(readFileSync(join(dst, 'a.txt'), 'utf8'), 'busy but there\n');
    } finally {
      held.sock.destroy();
      await server.stop();
    }
  });

  test('a site that is not there: exit 2 before local_dir is touched', async () => {
    const dir = join(base, 'mirror-down');
    mkdirSync(dir);
    const server = await startVsftpd({ root: src });
    const port = server.port;
    await server.stop();
    writeFileSync(join(dir, 'pk'), `package=gone\n  site=127.0.0.1:${port}\n  remote_dir=/pub\n  local_dir=out\n`);
    const r = await mirrorCli(['mirror', 'pk'], { cwd: dir });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /cannot open ftp:\/\/127\.0\.0\.1/);
  });
});

describe('ftp:// as a destination (mirror upload mode, vsftpd user login)', () => {
  test('omirr sync uploads a tree: temporary names renamed into place, modes by SITE CHMOD; --delete removes', async () => {
    const up = join(base, 'upload-site');
    mkdirSync(up);
    const server = await startVsftpd({ root: up, writable: true });
    try {
      const local = join(base, 'upload-src');
      mkdirSync(join(local, 'd/e'), { recursive: true });
      writeFileSync(join(local, 'a.txt'), 'a\n');
      writeFileSync(join(local, 'd/e/deep.bin'), bytes(200_000, 5));
      writeFileSync(join(local, 'run.sh'), '#!/bin/sh\n');
      chmodSync(join(local, 'run.sh'), 0o755);
      const url = server.url('/', { login: true });
      const r = omirr(['sync', local, url, '--json']);
      assert.equal(r.status, 0, r.stderr + r.stdout);
      assert.equal(JSON.parse(r.stdout).filesSent, 3);
      assert.equal(sha(join(up, 'd/e/deep.bin')), sha(join(local, 'd/e/deep.bin')));
      assert.equal(readFileSync(join(up, 'a.txt'), 'utf8'), 'a\n');
      assert.equal(statSync(join(up, 'run.sh')).mode & 0o777, 0o755);
      assert.deepEqual(readdirSync(up).filter((n) => n.startsWith('.omirr')), [], 'no temporary names left');
      // a deleted local file is removed from the site with --delete; a removed directory too
      rmSync(join(local, 'a.txt'));
      rmSync(join(local, 'd'), { recursive: true });
      const d = omirr(['sync', local, url, '--json', '--delete']);
      assert.equal(d.status, 0, d.stderr + d.stdout);
      assert.deepEqual(readdirSync(up).sort(), ['run.sh']);
    } finally {
      await server.stop();
    }
  });

  test('an anonymous (read-only) login refuses uploads: the sync fails, nothing is written', async () => {
    const up = join(base, 'upload-ro');
    mkdirSync(up);
    const server = await startVsftpd({ root: up });
    try {
      const local = join(base, 'upload-ro-src');
      mkdirSync(local);
      writeFileSync(join(local, 'a.txt'), 'a\n');
      const r = omirr(['sync', local, server.url('/'), '--json']);
      assert.equal(r.status, 1, r.stderr + r.stdout);
      assert.deepEqual(readdirSync(up), []);
    } finally {
      await server.stop();
    }
  });
});

describe('FTP site options through the API (FtpSiteOptions)', () => {
  test('login from options, a listing per directory, two connections', async () => {
    const dst = join(base, 'api-walk');
    const r = await mirrorTree(`ftp://127.0.0.1:${ftp.port}/`, dst, { ftp: { user: ftp.user, password: ftp.password, listing: 'walk', connections: 2 } });
    assert.equal(r.ok, true, JSON.stringify(r.failed));
    assert.deepEqual(content(dst), content(src));
  });

  test('ls_lR_file: the listing comes from a file on the site (gzipped too)', async () => {
    const site = join(base, 'lslr-site');
    mkdirSync(join(site, 'sub'), { recursive: true });
    writeFileSync(join(site, 'a.txt'), 'a\n');
    writeFileSync(join(site, 'sub/b.txt'), 'bb\n');
    writeFileSync(join(site, 'not-listed.txt'), 'the ls-lR file does not name me\n');
    const text = [
      '.:',
      'total 8',
      '-rw-r--r--    1 0        0               2 Jan 01  2020 a.txt',
      'drwxr-xr-x    2 0        0            4096 Jan 01  2020 sub',
      '',
      './sub:',
      'total 4',
      '-rw-r--r--    1 0        0               3 Jan 01  2020 b.txt',
      '',
    ].join('\n');
    writeFileSync(join(site, 'ls-lR.gz'), gzipSync(text));
    const server = await startVsftpd({ root: site });
    try {
      const dst = join(base, 'lslr');
      const r = await mirrorTree(server.url('/'), dst, { ftp: { lsLRFile: 'ls-lR.gz' } });
      assert.equal(r.ok, true, JSON.stringify(r.failed));
      assert.deepEqual(names(dst), { 'a.txt': sha(join(site, 'a.txt')), sub: 'dir', 'sub/b.txt': sha(join(site, 'sub/b.txt')) });
      assert.equal(statSync(join(dst, 'a.txt')).mtimeMs, Date.UTC(2020, 0, 1));
    } finally {
      await server.stop();
    }
  });
});
