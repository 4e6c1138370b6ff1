// The far end dies in the middle of a push (kill -9 of the far `omirr serve --stdio` under
// ssh, or of `omirr serve`): `omirr sync` exits 3 with an error that names the URL, says the
// connection was lost (over ssh: ssh's exit status and stderr tail) and how far it got, and
// the destination holds only complete, correct files under their real names.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../../src/engine/paths.js';
import { makeKey, omirrBin, rmTemp, startServe, startSocketServe, tempDir, waitFor, writeConfig, type ServeProcess } from '../helpers/netFixtures.js';
import { SSHD, startSshd, type SshdServer } from '../helpers/sshdServer.js';
import { startVsftpd } from '../helpers/vsftpdServer.js';

const haveSshd = existsSync(SSHD) && existsSync('/usr/bin/ssh') && existsSync('/usr/bin/ssh-keygen');
const FILES = 200;
let base: string;
let src: string;

before(() => {
  base = tempDir('lost');
  src = join(base, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  // big enough to be caught mid-transfer once the first file has its real name
  for (let i = 0; i < FILES; i++) writeFileSync(join(src, 'd', `f${String(i).padStart(3, '0')}`), randomBytes(256 * 1024));
});

after(() => {
  if (base) rmTemp(base);
});

/** Files under their real names (not temp part files) below `dir`, relative paths. */
function realFiles(dir: string, rel = ''): string[] {
  if (!existsSync(join(dir, rel))) return [];
  const out: string[] = [];
  for (const n of readdirSync(join(dir, rel))) {
    if (n.startsWith(TEMP_PREFIX)) continue;
    const p = rel ? `${rel}/${n}` : n;
    if (statSync(join(dir, p)).isDirectory()) out.push(...realFiles(dir, p));
    else out.push(p);
  }
  return out;
}

/** `s` matched literally in a RegExp. */
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

/** Every file under its real name in `dst` is one of the source's, byte for byte; returns how many. */
function assertOnlyCompleteFiles(dst: string): number {
  const files = realFiles(dst);
  for (const f of files) {
    assert.ok(existsSync(join(src, f)), `stray file ${f}`);
    assert.equal(sha(join(dst, f)), sha(join(src, f)), `${f} is complete and correct`);
  }
  return files.length;
}

function runSync(args: string[], env: NodeJS.ProcessEnv): { pid: number; done: Promise<{ code: number | null; stderr: string }> } {
  const p = spawn(process.execPath, [omirrBin, 'sync', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, OMIRR_LOG_LEVEL: 'warn', ...env } });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return { pid: p.pid!, done: new Promise((r) => p.on('close', (code) => r({ code, stderr }))) };
}

/**
 * `omirr sync ARGS` killed under by `kill` once the first file has its real name in `dst`:
 * exit 3, the error names `url` and says the connection was lost and how far it got, and
 * `dst` holds only complete, correct files, fewer than all.
 */
async function lostMidway(t: TestContext, args: string[], env: NodeJS.ProcessEnv, dst: string, url: string, kill: (syncPid: number) => unknown): Promise<string> {
  const run = runSync(args, env);
  await waitFor(() => realFiles(dst).length > 0, 60_000, 'the first file renamed into place');
  await kill(run.pid);
  const r = await run.done;
  t.diagnostic(r.stderr.trim());
  assert.equal(r.code, 3, r.stderr);
  assert.ok(r.stderr.includes(`${url}: connection lost`), r.stderr);
  assert.match(r.stderr, new RegExp(`\\d+ of ${FILES} files sent by then`), r.stderr);
  const n = assertOnlyCompleteFiles(dst);
  assert.ok(n < FILES, `caught in the middle (${n} of ${FILES} in place)`);
  return r.stderr;
}

const FAR_LINE = 'far shell: starting omirr';

/**
 * ssh's stderr tail in the error: the far side's own lines, not the far omirr's info log
 * records (`... INFO  omirr-serve: peer authenticated`), which would hide them.
 */
function assertSshTail(said: string): void {
  assert.match(said, /ssh exited with code \d+|ssh killed by SIG/, said);
  assert.ok(said.includes(FAR_LINE), said);
  assert.doesNotMatch(said, /connection lost.* (INFO|DEBUG) +omirr/, said);
}

/** An sshd, and a far command through a wrapper that records its pid (exec: the pid is omirr's own). */
async function sshSide(tag: string): Promise<{ sshd: SshdServer; args: string[]; farPid: () => number; url: (path: string) => string }> {
  const sshd = await startSshd();
  const rsh = `ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -i ${sshd.userKey}`;
  const pidFile = join(base, `${tag}.pid`);
  const wrapper = join(base, `${tag}.sh`);
  // a line of the far side's own on ssh's stderr (as a login banner or a shell's complaint): kept in the error
  writeFileSync(wrapper, `#!/bin/sh\necho $$ > ${pidFile}\necho "${FAR_LINE}" >&2\nexec ${process.execPath} ${omirrBin} "$@"\n`);
  return {
    sshd,
    args: ['--rsh', rsh, '--omirr-path', `sh ${wrapper}`],
    farPid: () => Number(readFileSync(pidFile, 'utf8').trim()),
    url: (path) => `ssh://${userInfo().username}@127.0.0.1:${sshd.port}${path}`,
  };
}

test('ssh:// push: kill -9 of the far omirr serve --stdio mid-transfer; exit 3 naming the URL, ssh status, progress; a rerun completes', async (t) => {
  if (!haveSshd) return t.skip('sshd not installed (apt-get install openssh-server openssh-client)');
  const side = await sshSide('push');
  try {
    const dst = join(base, 'ssh-dst');
    const url = side.url(dst);
    const stderr = await lostMidway(t, [src, url, ...side.args], {}, dst, url, () => process.kill(side.farPid(), 'SIGKILL'));
    assertSshTail(stderr);
    // nothing was left that the next run cannot finish: it completes the copy, no temp file stays
    const again = await runSync([src, url, ...side.args], {}).done;
    assert.equal(again.code, 0, again.stderr);
    assert.equal(assertOnlyCompleteFiles(dst), FILES);
    assert.deepEqual(readdirSync(join(dst, 'd')).filter((f) => f.startsWith(TEMP_PREFIX)), []);
  } finally {
    await side.sshd.stop();
  }
});

test('ssh:// pull: kill -9 of the far omirr serve --stdio mid-transfer; exit 3 naming the URL; only complete files here', async (t) => {
  if (!haveSshd) return t.skip('sshd not installed (apt-get install openssh-server openssh-client)');
  const side = await sshSide('pull');
  try {
    const dst = join(base, 'pulled');
    const url = side.url(src);
    const stderr = await lostMidway(t, [url, dst, ...side.args], {}, dst, url, () => process.kill(side.farPid(), 'SIGKILL'));
    assertSshTail(stderr);
  } finally {
    await side.sshd.stop();
  }
});

test('ssh:// through omirr serve --socket: kill -9 of the server mid-transfer; exit 3 naming the socket, not a running ssh', async (t) => {
  if (!haveSshd) return t.skip('sshd not installed (apt-get install openssh-server openssh-client)');
  const side = await sshSide('sock');
  mkdirSync(join(base, 'sockrun'), { mode: 0o700 });
  const server = await startSocketServe(join(base, 'sockrun/serve.sock'), ['--root', base]);
  try {
    const dst = join(base, 'sock-dst');
    const url = `${side.url(dst)}?socket=${server.socket}`;
    // `false` on the far side: the sync goes through the socket or fails
    const args = [src, url, ...side.args.slice(0, 2), '--omirr-path', 'false'];
    const stderr = await lostMidway(t, args, {}, dst, url, () => server.proc.kill('SIGKILL'));
    assert.match(stderr, /the far side's omirr serve --socket \S+serve\.sock closed the connection \(ssh's forward is still up\)/, stderr);
    assert.doesNotMatch(stderr, /ssh still running/, stderr);
  } finally {
    server.proc.kill('SIGKILL');
    await side.sshd.stop();
  }
});

test('omirr:// push: kill -9 of omirr serve mid-transfer; exit 3 naming the URL', async (t) => {
  makeKey(base, 'alpha');
  const client = makeKey(base, 'beta');
  mkdirSync(join(base, 'tcp-dst'));
  const config = writeConfig(base, ['node = alpha', 'key = alpha.key', `peer = beta - ${client.fingerprint}`, 'tree = dst tcp-dst beta rw']);
  let serve: ServeProcess | undefined;
  try {
    serve = await startServe(config);
    const dst = join(base, 'tcp-dst');
    const url = `omirr://127.0.0.1:${serve.port}/dst`;
    const s = serve;
    await lostMidway(t, [src, url], { OMIRR_KEY: client.file, OMIRR_PIN: s.fingerprint }, dst, url, () => s.kill9());
  } finally {
    await serve?.stop();
  }
});

/** The ssh client child of a process (its children from /proc, the one whose command is ssh). */
function sshChildOf(pid: number): number {
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const ssh = kids.find((k) => readFileSync(`/proc/${k}/cmdline`, 'utf8').split('\0')[0] === 'ssh');
  assert.ok(ssh, `an ssh child of ${pid}`);
  return ssh;
}

test('ssh:// push: kill -9 of the local ssh client mid-transfer; exit 3 naming the URL and the signal', async (t) => {
  if (!haveSshd) return t.skip('sshd not installed (apt-get install openssh-server openssh-client)');
  const side = await sshSide('sshkill');
  try {
    const dst = join(base, 'sshkill-dst');
    const url = side.url(dst);
    const stderr = await lostMidway(t, [src, url, ...side.args], {}, dst, url, (pid) => process.kill(sshChildOf(pid), 'SIGKILL'));
    assert.match(stderr, /ssh killed by SIGKILL/, stderr);
  } finally {
    await side.sshd.stop();
  }
});

// `omirr mirror`: a package whose site (ssh://, omirr://) dies mid-transfer fails with
// mirror's exit 1 (mm sees a failure and retries after min-restart-last-notok), and says
// which package, the URL, that the connection was lost and why, and how far it got.

function runMirror(pkgFile: string, env: NodeJS.ProcessEnv): { pid: number; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const p = spawn(process.execPath, [omirrBin, 'mirror', '-N', pkgFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OMIRR_LOG_LEVEL: 'warn', ...env } });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return { pid: p.pid!, done: new Promise((r) => p.on('close', (code) => r({ code, stdout, stderr }))) };
}

/**
 * `omirr mirror` of package `lost` (site, remote_dir) into `dst`, `kill` once the first file
 * is in place, and a second package `after` from a local dir that still runs: exit 1, the
 * report and the log name the package, the URL, the lost connection and how far it got; only
 * complete files in `dst`; the update_log does not say the package completed.
 */
async function mirrorLostMidway(t: TestContext, site: string, remoteDir: string, url: string, env: NodeJS.ProcessEnv, tag: string, kill: () => unknown): Promise<string> {
  const dst = join(base, `${tag}-dst`);
  const other = join(base, `${tag}-other`);
  mkdirSync(join(base, `${tag}-small`), { recursive: true });
  writeFileSync(join(base, `${tag}-small`, 'x'), 'x');
  const pkg = join(base, `${tag}.pkg`);
  writeFileSync(
    pkg,
    `package=lost\nsite=${site}\nremote_dir=${remoteDir}\nlocal_dir=${dst}\nupdate_log=upd.log\n` +
      `package=after\nsite=${join(base, `${tag}-small`)}\nremote_dir=.\nlocal_dir=${other}\n`,
  );
  const run = runMirror(pkg, env);
  await waitFor(() => realFiles(dst).length > 0, 60_000, 'the first file renamed into place');
  await kill();
  const r = await run.done;
  const said = `${r.stdout}\n${r.stderr}`;
  t.diagnostic(said.trim());
  assert.equal(r.code, 1, said);
  const line = new RegExp(`package=lost: ${escapeRe(url)}: connection lost.*; \\d+ of ${FILES} files got by then`);
  assert.match(r.stdout, line, 'the report (mm keeps it in logs/SITE:PKG)');
  assert.ok(r.stderr.includes(`${url}: connection lost`) && /files got by then/.test(r.stderr), 'the log');
  assert.doesNotMatch(r.stdout, /not received/, 'one line for the lost connection, not one per file');
  const n = assertOnlyCompleteFiles(dst);
  assert.ok(n < FILES, `caught in the middle (${n} of ${FILES} in place)`);
  assert.ok(!existsSync(join(dst, 'upd.log')), 'no "completed successfully" in the update_log');
  // the next package still ran
  assert.equal(readFileSync(join(other, 'x'), 'utf8'), 'x');
  return said;
}

test('mirror, ssh:// site: kill -9 of the far omirr serve --stdio mid-transfer; exit 1 naming the package, URL, ssh status, progress', async (t) => {
  if (!haveSshd) return t.skip('sshd not installed (apt-get install openssh-server openssh-client)');
  const side = await sshSide('mirror-ssh');
  try {
    const [, rsh, , remote] = side.args as [string, string, string, string];
    const site = side.url('').replace(/\/$/, '');
    const said = await mirrorLostMidway(t, site, src, side.url(src), { OMIRR_RSH: rsh, OMIRR_REMOTE_COMMAND: remote }, 'mirror-ssh', () => process.kill(side.farPid(), 'SIGKILL'));
    assertSshTail(said);
  } finally {
    await side.sshd.stop();
  }
});

test('mirror, omirr:// site: kill -9 of omirr serve mid-transfer; exit 1 naming the package and URL', async (t) => {
  const dir = join(base, 'mirror-tcp');
  mkdirSync(dir);
  makeKey(dir, 'alpha');
  const client = makeKey(dir, 'beta');
  const config = writeConfig(dir, ['node = alpha', 'key = alpha.key', `peer = beta - ${client.fingerprint}`, `tree = src ${src} beta`]);
  let serve: ServeProcess | undefined;
  try {
    serve = await startServe(config);
    const s = serve;
    const site = `omirr://127.0.0.1:${s.port}`;
    await mirrorLostMidway(t, site, 'src', `${site}/src`, { OMIRR_KEY: client.file, OMIRR_PIN: s.fingerprint }, 'mirror-tcp', () => s.kill9());
  } finally {
    await serve?.stop();
  }
});

/** A process and all its descendants (from /proc), children first. */
function processTree(pid: number): number[] {
  let kids: number[] = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // gone already
  }
  return [...kids.flatMap(processTree), pid];
}

/**
 * `omirr mirror` of package `lost` (from `pkgText`) into `dst`, and the server process `pid`
 * with all its sessions killed once the first file is in place: a failed run (exit 1) and
 * only complete files in `dst`. The report: with `lostLine`, that one line (the URL, why, how
 * far) and no line per file but `failedLines` (files that failed for another reason); else
 * the files not got, each named.
 */
async function mirrorServerDies(t: TestContext, pkgText: string, dst: string, pid: number, env: NodeJS.ProcessEnv = {}, lostLine?: RegExp, failedLines: RegExp[] = []): Promise<string> {
  const pkg = `${dst}.pkg`;
  writeFileSync(pkg, `package=lost\nlocal_dir=${dst}\ntimeout=20\n${pkgText}`);
  const run = runMirror(pkg, env);
  await waitFor(() => realFiles(dst).length > 0, 60_000, 'the first file renamed into place');
  for (const p of processTree(pid)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  const r = await run.done;
  const said = `${r.stdout}\n${r.stderr}`;
  t.diagnostic(said.split('\n').slice(0, 12).join('\n'));
  assert.equal(r.code, 1, said);
  if (lostLine) {
    assert.match(r.stdout, lostLine, said);
    assert.doesNotMatch(r.stdout, /not received/, 'one line for the lost site, not one per file');
    for (const l of failedLines) assert.match(r.stdout, l, said);
    assert.equal(r.stdout.match(/^failed /gm)?.length ?? 0, failedLines.length, `only the files that failed for another reason have a line: ${said}`);
  } else {
    assert.match(r.stdout, /package=lost: got \d+ file\(s\).*, \d+ failed/, said);
    assert.match(r.stdout, /^failed d\/f\d{3}: /m, said);
  }
  const n = assertOnlyCompleteFiles(dst);
  assert.ok(n < FILES, `caught in the middle (${n} of ${FILES} in place)`);
  return r.stdout;
}

test('mirror, FTP site: vsftpd and its sessions killed mid-transfer; exit 1 with one line naming the URL (with ftp_port), why and how far; only complete files', async (t) => {
  const ftp = await startVsftpd({ root: src });
  try {
    const url = `ftp://127.0.0.1:${ftp.port}/`;
    const lost = new RegExp(`^package=lost: ${escapeRe(url)}: connection lost \\(.+\\); connecting again failed: .*ECONNREFUSED.*; \\d+ of ${FILES} files got by then$`, 'm');
    const report = await mirrorServerDies(t, `site=127.0.0.1\nftp_port=${ftp.port}\nremote_user=anonymous\nremote_dir=/\n`, join(base, 'mirror-ftp-dst'), ftp.pid, {}, lost);
    assert.ok(report.startsWith(`package=lost ${url} -> `), `the header names the port: ${report.split('\n')[0]}`);
  } finally {
    await ftp.stop();
  }
});

test('mirror, FTP site: a file vsftpd refused (550) before it was killed is named with its reply; the files lost with it are in the one lost line', async (t) => {
  const refused = join(src, 'd', 'f000');
  chmodSync(refused, 0o600); // root's: anonymous cannot read it
  const ftp = await startVsftpd({ root: src });
  try {
    const url = `ftp://127.0.0.1:${ftp.port}/`;
    const lost = new RegExp(`^package=lost: ${escapeRe(url)}: connection lost \\(.+\\); connecting again failed: .*; \\d+ of ${FILES} files got by then$`, 'm');
    // the stream goes in order: f000's refusal is in before any later file is in place
    const named = /^failed d\/f000: not sent: the site refused it: 550 .+$/m;
    await mirrorServerDies(t, `site=127.0.0.1\nftp_port=${ftp.port}\nremote_user=anonymous\nremote_dir=/\n`, join(base, 'mirror-ftp-550-dst'), ftp.pid, {}, lost, [named]);
  } finally {
    chmodSync(refused, 0o644);
    await ftp.stop();
  }
});

test('mirror, sftp:// site: sshd and its sessions killed mid-transfer; exit 1 with one line naming the URL and how far; only complete files', async (t) => {
  if (!haveSshd) return t.skip('sshd not installed (apt-get install openssh-server openssh-client)');
  const sshd = await startSshd();
  try {
    const env = { OMIRR_SSH_IDENTITY: sshd.userKey, OMIRR_SSH_KNOWN_HOSTS: sshd.knownHosts, SSH_AUTH_SOCK: '' };
    const url = `sftp://${userInfo().username}@127.0.0.1:${sshd.port}${src}`;
    const lost = new RegExp(`^package=lost: ${escapeRe(url)}: connection lost.*; \\d+ of ${FILES} files got by then$`, 'm');
    await mirrorServerDies(t, `site=sftp://${userInfo().username}@127.0.0.1:${sshd.port}\nremote_dir=${src}\n`, join(base, 'mirror-sftp-dst'), sshd.pid, env, lost);
  } finally {
    await sshd.stop();
  }
});

test('mirror, ssh:// site: the far omirr killed when the listing request arrives; exit 1 naming the URL, ssh status and stderr, before any file', async (t) => {
  if (!haveSshd) return t.skip('sshd not installed (apt-get install openssh-server openssh-client)');
  const sshd = await startSshd();
  try {
    const rsh = `ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -i ${sshd.userKey}`;
    // the far side: omirr behind a relay of its stdin that, when the site's listing request
    // (a JSON frame with "op":"scan") comes by, kills omirr and itself before passing it on
    const relay = join(base, 'listing-relay.mjs');
    writeFileSync(
      relay,
      `import { spawn } from 'node:child_process';\n` +
        `const kid = spawn(process.execPath, process.argv.slice(2), { stdio: ['pipe', 'inherit', 'inherit'] });\n` +
        `let seen = '';\n` +
        `process.stdin.on('data', (d) => {\n` +
        `  seen = (seen + d.toString('latin1')).slice(-65536);\n` +
        `  if (seen.includes('"op":"scan"')) { kid.kill('SIGKILL'); process.kill(process.pid, 'SIGKILL'); }\n` +
        `  kid.stdin.write(d);\n` +
        `});\n` +
        `process.stdin.on('end', () => kid.stdin.end());\n` +
        `kid.on('exit', (code) => process.exit(code ?? 1));\n`,
    );
    const wrapper = join(base, 'listing-far.sh');
    writeFileSync(wrapper, `#!/bin/sh\necho "${FAR_LINE}" >&2\nexec ${process.execPath} ${relay} ${omirrBin} "$@"\n`);
    const url = `ssh://${userInfo().username}@127.0.0.1:${sshd.port}${src}`;
    const dst = join(base, 'listing-dst');
    const other = join(base, 'listing-other');
    mkdirSync(join(base, 'listing-small'), { recursive: true });
    writeFileSync(join(base, 'listing-small', 'x'), 'x');
    const pkg = join(base, 'listing.pkg');
    writeFileSync(
      pkg,
      `package=lost\nsite=${url.slice(0, -src.length)}\nremote_dir=${src}\nlocal_dir=${dst}\n` +
        `package=after\nsite=${join(base, 'listing-small')}\nremote_dir=.\nlocal_dir=${other}\n`,
    );
    const r = await runMirror(pkg, { OMIRR_RSH: rsh, OMIRR_REMOTE_COMMAND: `sh ${wrapper}` }).done;
    const said = `${r.stdout}\n${r.stderr}`;
    t.diagnostic(said.trim());
    assert.equal(r.code, 1, said);
    const line = new RegExp(`package=lost: ${escapeRe(url)}: connection lost.*; while listing the site, before any file was got`);
    assert.match(r.stdout, line, 'the report says the connection was lost while listing');
    assert.doesNotMatch(said, /listing .* failed/, 'not the bare listing failure');
    assertSshTail(said);
    assert.deepEqual(realFiles(dst), [], 'nothing got');
    assert.equal(readFileSync(join(other, 'x'), 'utf8'), 'x', 'the next package still ran');
  } finally {
    await sshd.stop();
  }
});

test('ssh:// that fails before the connection is set up (exit 255): the error keeps ssh\'s lines and the far omirr\'s warnings, not its info records', async (t) => {
  // an "ssh" that writes what a real one could have on stderr by then, then exits 255
  const fakeSsh = join(base, 'fail255.sh');
  writeFileSync(
    fakeSsh,
    '#!/bin/sh\n' +
      'echo "2026-12-06T18:00:00.000Z INFO  omirr-serve: peer authenticated peer=ssh" >&2\n' +
      'echo \'{"level":20,"time":1,"name":"omirr-serve","msg":"tree opened"}\' >&2\n' +
      'echo "2026-12-06T18:00:00.001Z WARN  omirr-serve: far warning kept" >&2\n' +
      'echo "ssh: connect to host 127.0.0.1 port 9: Connection refused" >&2\n' +
      'exit 255\n',
  );
  const url = `ssh://nobody@127.0.0.1:9${join(base, 'never-src')}`;
  const r = await runSync([url, join(base, 'fail255-dst'), '--rsh', `sh ${fakeSsh}`], {}).done;
  t.diagnostic(r.stderr.trim());
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /ssh exited \(255\): .*far warning kept.*ssh: connect to host 127\.0\.0\.1 port 9: Connection refused/, r.stderr);
  assert.doesNotMatch(r.stderr, /peer authenticated|tree opened/, 'the far omirr\'s info and debug records are left out');
  assert.ok(!existsSync(join(base, 'fail255-dst')), 'nothing written');
});
