// The reference tools the benchmarks compare omirr with, in one place so that `bench/sync.ts`
// and `bench/floor.ts` run exactly the same commands: a `tar -cf - | tar -xf -` pipe, local
// `rsync -a`, and `rsync -a` to an rsync daemon on 127.0.0.1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Command = [cmd: string, args: string[]];

/** A tar pipe from `src` into the existing directory `dst` (tar makes no temporary names). */
export function tarPipe(src: string, dst: string): Command {
  return ['sh', ['-c', `tar -C '${src}' -cf - . | tar -C '${dst}' -xf -`]];
}

export function rsyncLocal(src: string, dst: string): Command {
  return ['rsync', ['-a', `${src}/`, `${dst}/`]];
}

/** `rsync -a` into `sub` of the daemon's `dst` module. */
export function rsyncToDaemon(src: string, port: number, sub: string): Command {
  return ['rsync', ['-a', `${src}/`, `rsync://127.0.0.1:${port}/dst/${sub}/`]];
}

/** `rsync -a` of `sub` of the daemon's read-only `src` module into the local `dst` (a pull). */
export function rsyncFromDaemon(port: number, sub: string, dst: string): Command {
  return ['rsync', ['-a', `rsync://127.0.0.1:${port}/src/${sub}/`, `${dst}/`]];
}

export interface Rsyncd {
  port: number;
  process: ChildProcess;
  /** SIGTERM; resolves when the daemon has exited. */
  stop: () => Promise<void>;
}

/** An rsync daemon on 127.0.0.1 serving `dstPath` as module `dst` (read-write), and
 *  `srcPath`, if given, as module `src` (read-only, for pulls); its config written into
 *  `confDir`; resolves once it answers a module listing (or after 5 s). */
export async function startRsyncd(confDir: string, dstPath: string, srcPath?: string): Promise<Rsyncd> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const conf = join(confDir, 'rsyncd.conf');
  const src = srcPath === undefined ? '' : `[src]\npath = ${srcPath}\nread only = yes\n`;
  writeFileSync(conf, `use chroot = no\nuid = root\ngid = root\n[dst]\npath = ${dstPath}\nread only = no\n${src}`);
  const child = spawn('rsync', ['--daemon', '--no-detach', `--port=${port}`, '--address=127.0.0.1', `--config=${conf}`], { stdio: 'ignore' });
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && spawnSync('rsync', [`rsync://127.0.0.1:${port}/`], { stdio: 'ignore' }).status !== 0) await new Promise((r) => setTimeout(r, 50));
  return {
    port,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    },
  };
}
