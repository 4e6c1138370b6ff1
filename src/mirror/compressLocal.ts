// compress_patt's second step, as mirror's transfer_file does it: the file was fetched under
// mirror's temporary name (`.in.NAME.`, verified and complete), then the compress program
// runs on it (`PROG < .in.NAME. > .in.NAME..SUFFIX`, through /bin/sh as mirror ran it), the
// result gets the mode and mtime the plan gave the file and is renamed to its local name
// (NAME.gz, NAME.Z), and the temporary file goes. The bytes pass from file to program to file
// without entering this process; only opens, renames and attribute calls run here. Each file
// is opened without following a symlink, and the output is created fresh (O_EXCL), so nothing
// is written outside the directory the executor already checked.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { posix } from 'node:path';

export interface CompressJob {
  /** Absolute directory the two relative paths are in (the local tree's real root). */
  root: string;
  /** The fetched file, relative to root. */
  staged: string;
  /** The local name of the compressed copy, relative to root. */
  final: string;
  /** The shell command reading stdin and writing the compressed bytes to stdout. */
  command: string;
  mode: number;
  /** mtime to give the compressed copy (the remote one with force_times). */
  mtimeMs: number;
}

/** mirror's temporary name of a file being fetched: `dir/.in.NAME.`. */
export function stagingName(path: string): string {
  const dir = posix.dirname(path);
  const base = posix.basename(path);
  return `${dir === '.' ? '' : dir + '/'}.in.${base}.`;
}

/** Runs one compression; throws with the program's message when it fails. */
export async function compressStaged(job: CompressJob): Promise<void> {
  const src = `${job.root}/${job.staged}`;
  // mirror's name for the program's output: the temporary name plus the suffix
  const base = job.final.slice(job.final.lastIndexOf('/') + 1);
  const tmp = `${src}.${base.includes('.') ? base.slice(base.lastIndexOf('.') + 1) : 'z'}`;
  await unlink(tmp).catch(() => {});
  const input = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW);
  let output;
  try {
    output = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    await input.close();
    await unlink(src).catch(() => {});
    throw err;
  }
  try {
    await runWithFds(job.command, input.fd, output.fd);
    await output.chmod(job.mode & 0o7777);
    const t = new Date(job.mtimeMs);
    await output.utimes(t, t);
  } catch (err) {
    await output.close().catch(() => {});
    await input.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    await unlink(src).catch(() => {}); // no half-made copy and no fetched file left behind
    throw err;
  }
  await output.close();
  await input.close();
  await rename(tmp, `${job.root}/${job.final}`);
  await unlink(src);
}

function runWithFds(command: string, stdin: number, stdout: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: [stdin, stdout, 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (err.length < 2000) err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} failed (${signal ?? `exit ${code}`})${err ? `: ${err.trim()}` : ''}`));
    });
  });
}
