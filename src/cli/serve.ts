// `omirr serve`: export the trees of an omirr.conf over TLS, or one directory over
// stdin/stdout for ssh (`omirr serve --stdio PATH`, what ssh:// URLs run remotely).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { LevelWithSilent } from 'pino';
import { createLogger } from '../log.js';
import { defaultConfigPath, SYSTEM_CONFIG_PATH } from '../api/configPath.js';
import { listenReason, UsageError } from './exitCodes.js';
import { runServeStdio } from './serveStdio.js';
import { relaunchServe, serveChildWatch, serveRelaunchFlags } from './serveGc.js';

interface ServeFlags {
  config?: string;
  listen?: string;
  stdio?: boolean;
  socket?: string | true;
  root?: string;
  readOnly?: boolean;
  writable?: boolean;
  logLevel?: LevelWithSilent;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('export trees to authenticated omirr peers over TLS, or one directory over stdin/stdout (--stdio, for ssh)')
    .argument('[path]', 'with --stdio: the directory to export')
    .option('-c, --config <file>', `omirr.conf with node, listen, key, peer, secret and tree lines (default: $OMIRR_CONFIG, else ./omirr.conf if present, else ${SYSTEM_CONFIG_PATH})`)
    .option('--listen <host:port>', 'listen here instead of the config\'s listen (port 0: any free port)')
    .option('--stdio', 'speak the protocol on stdin/stdout (ssh already authenticated the peer)')
    .option('--writable', 'with --stdio: allow the peer to write to the directory')
    .option('--socket [path]', 'serve ssh:// clients on a UNIX socket of this user (default $XDG_RUNTIME_DIR/omirr/serve.sock, else ~/.omirr/serve.sock); clients reach it through sshd with ssh://HOST/PATH?socket=SOCKET')
    .option('--root <dir>', 'with --socket: serve directories at or below this one only (default /)')
    .option('--read-only', 'with --socket: refuse clients that ask to write')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .addHelpText(
      'after',
      '\nPrints "listening on HOST:PORT key FINGERPRINT" (with --socket: "listening on SOCKET") on stdout\n' +
        'once ready. SIGTERM or SIGINT closes every connection and exits 0. See docs/config.md and\n' +
        'docs/security.md.',
    )
    .action(async (path: string | undefined, flags: ServeFlags) => {
      if (flags.stdio) {
        if (!path) throw new UsageError('serve --stdio: give the directory to export');
        return runServeStdio(path, flags);
      }
      // the server itself in a child node with the single-threaded GC (serveGc.ts)
      const relaunch = serveRelaunchFlags(process.execArgv);
      if (relaunch) {
        process.exitCode = await relaunchServe(relaunch);
        return;
      }
      serveChildWatch();
      if (flags.socket !== undefined) return runServeSocket(path, flags);
      if (flags.root !== undefined || flags.readOnly) throw new UsageError('serve: --root and --read-only go with --socket');
      const log = createLogger({ level: flags.logLevel, name: 'omirr-serve' });
      if (path) throw new UsageError(`serve: unexpected argument '${path}' (trees come from the config; PATH is for --stdio)`);
      // Loaded here, not at the top: `serve --stdio` (every ssh:// sync starts one on the far
      // side) needs none of the config and supervisor modules, and their load time was part of
      // each ssh:// run's start-up.
      const [{ ConfigError, DEFAULT_PORT, parseHostPort }, { serveConfig }] = await Promise.all([import('../core/config.js'), import('../api/serveConfig.js')]);
      let listen;
      if (flags.listen) {
        const hp = parseHostPort(flags.listen, DEFAULT_PORT);
        if (typeof hp === 'string') throw new UsageError(`serve --listen: ${hp}`);
        listen = hp;
      }
      let server;
      try {
        server = await serveConfig(flags.config ?? defaultConfigPath(), { ...(listen ? { listen } : {}), log });
      } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(err.message);
        // Everything before listening is the configuration's fault (no key or listen line, an
        // unreadable key), and so is an address in use or not ours to take: usage (exit 2,
        // as the daemon), with the address named. Other listen errors are not.
        const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
        if (e.syscall === 'listen' && e.code !== 'EADDRINUSE' && e.code !== 'EACCES' && e.code !== 'EADDRNOTAVAIL') throw err;
        if (e.syscall === 'listen') throw new UsageError(`serve: cannot listen on ${e.address ?? '?'}:${e.port ?? '?'}: ${listenReason(e.code)}`);
        throw new UsageError(`serve: ${(err as Error).message}`);
      }
      // a server outlives its clients: one io thread stays up for the next one's scan
      (await import('../workers/pool.js')).keepIoThreadWarm();
      // the stop handlers go in before the line: a supervisor may send SIGTERM as soon as it reads it
      const stopped = untilSignal(log);
      process.stdout.write(`listening on ${server.address.host}:${server.address.port} key ${server.fingerprint}\n`);
      await stopped;
      await server.close();
      await (await import('../workers/pool.js')).closePools();
    });
}

/** `omirr serve --socket [SOCKET]`: the far side of ssh://HOST/PATH?socket=SOCKET, started once. */
async function runServeSocket(path: string | undefined, flags: ServeFlags): Promise<void> {
  if (path) throw new UsageError(`serve --socket: unexpected argument '${path}' (clients name their directory; --root limits them)`);
  const log = createLogger({ level: flags.logLevel, name: 'omirr-serve' });
  const { defaultSocketPath, serveSocket, SocketSetupError } = await import('../net/sshSocketServer.js');
  const socket = flags.socket === true || flags.socket === undefined ? defaultSocketPath() : resolve(flags.socket);
  let server;
  try {
    server = await serveSocket({ socket, ...(flags.root !== undefined ? { root: resolve(flags.root) } : {}), readOnly: flags.readOnly === true, log });
  } catch (err) {
    if (err instanceof SocketSetupError) throw new UsageError(`serve --socket: ${err.message}`);
    const e = err as NodeJS.ErrnoException;
    if (e.syscall === 'listen') throw new UsageError(`serve --socket: cannot listen on ${socket}: ${e.code ?? e.message}`);
    throw err;
  }
  // a server outlives its clients: one io thread stays up for the next one's scan
  (await import('../workers/pool.js')).keepIoThreadWarm();
  const stopped = untilSignal(log); // before the line, as above
  process.stdout.write(`listening on ${server.socket}\n`);
  await stopped;
  await server.close();
  await (await import('../workers/pool.js')).closePools();
}

/** A server runs until SIGTERM or SIGINT. */
function untilSignal(log: { info(o: object, msg: string): void }): Promise<void> {
  return new Promise<void>((done) => {
    const stop = (sig: string): void => {
      log.info({ signal: sig }, 'shutting down');
      done();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
