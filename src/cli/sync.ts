// `omirr sync SRC DST`: one-way mirror of a tree, as `rsync -a SRC/ DST/` would:
// each side a local path, omirr://host:port/tree, ssh://[user@]host[:port]/path, or a site
// URL (docs/sites.md).
// The work is mirrorTree (src/api/mirrorTree.ts); this maps flags to its options and its
// result and errors to the output and the exit code.
import type { Command } from 'commander';
import type { LevelWithSilent } from 'pino';
import { createLogger } from '../log.js';
import { isConnectError, mirrorTree, type MirrorTreeResult } from '../api/mirrorTree.js';
import { addInspectOptions, startCliInspect, type CliInspect, type InspectCliOptions } from '../inspect/cliInspect.js';
import { closePools } from '../workers/pool.js';
import { EXIT, UsageError } from './exitCodes.js';
import { ProgressLine, summaryLine } from './progress.js';
import { formatItem, type ItemizedChange } from '../core/itemize.js';

interface SyncCliOptions extends InspectCliOptions {
  delete?: boolean;
  exclude: string[];
  dryRun?: boolean;
  checksum?: boolean;
  wholeFile?: boolean;
  progress?: boolean;
  json?: boolean;
  verbose?: boolean;
  itemizeChanges?: boolean;
  saveDir?: string;
  streams?: string;
  logLevel?: LevelWithSilent;
  config?: string;
  key?: string;
  pin?: string[];
  secretFile?: string;
  rsh?: string;
  omirrPath?: string;
}

/** The --json summary: both ends named first, then the sync's counts. */
export function jsonSummary(r: MirrorTreeResult): object {
  const { src, dst, ok, ...rest } = r;
  return { src, dst, ok, ...rest };
}

export function register(program: Command): void {
  const cmd = program
    .command('sync')
    .description('mirror the tree SRC into DST, one way (like rsync -a SRC/ DST/)')
    .argument('<src>', 'source: a path, omirr://host:port/tree, ssh://[user@]host[:port]/path, or a site: ftp://, ftps://, http(s)://, sftp:// (docs/sites.md)')
    .argument('<dst>', 'destination, in the same forms (sites: ftp:// and ftps:// only); a missing local directory is created')
    .option('--delete', 'delete destination entries that are not in the source')
    .option('--exclude <pattern>', 'leave out paths matching this rsync-style pattern (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('-n, --dry-run', 'show what would be done; change nothing')
    .option('-c, --checksum', 'compare content hashes, not size and mtime')
    .option('-W, --whole-file', 'send changed files whole, never as deltas against the old version (like rsync -W)')
    .option('--progress', 'a live progress line on a terminal, and a summary at the end')
    .option('--json', 'print a JSON summary on stdout')
    .option('-v, --verbose', 'print the summary line at the end; with -n, every change too (as -i)')
    .option('-i, --itemize-changes', 'print every change, one line per path (`>f+++++++ new.txt`, `*deleting old.txt`; see docs/cli.md); with --json, one JSON line per change')
    .option('--save-dir <dir>', 'move deleted entries into this directory of DST instead of deleting them')
    .option('--streams <n>', 'parallel tar streams for file contents')
    .option('--log-level <level>', 'log level (trace, debug, info, warn, error, silent)')
    .option('--config <file>', 'omirr:// ends: an omirr.conf giving our key, the peer pins and the secret')
    .option('--key <file>', 'omirr:// ends: our key file')
    .option('--pin <fingerprint>', "omirr:// ends: accept the server's key with this fingerprint (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--secret-file <file>', 'omirr:// ends: the shared secret')
    .option('--rsh <command>', 'ssh:// ends: the ssh command and its options (like rsync -e)')
    .option('--omirr-path <command>', 'ssh:// ends: the omirr command on the remote host (like rsync --rsync-path)');
  addInspectOptions(cmd)
    .addHelpText(
      'after',
      '\nExit status: 0 all done, 1 some entries failed (or deletes refused), 2 usage, 3 cannot connect (or the connection was lost), 70 internal error.',
    )
    .action(async (srcSpec: string, dstSpec: string, o: SyncCliOptions) => {
      const log = createLogger({ ...(o.logLevel ? { level: o.logLevel } : {}) });
      const streams = o.streams === undefined ? undefined : Number(o.streams);
      if (streams !== undefined && !(Number.isInteger(streams) && streams > 0 && streams <= 64)) {
        throw new UsageError(`--streams: expected an integer 1..64, got ${o.streams}`);
      }
      // --inspect: the transfer session's statechart live, and /metrics (files and bytes sent).
      const inspector: CliInspect | undefined =
        o.inspect !== undefined || o.stately !== undefined ? await startCliInspect(o, { log, command: 'sync' }) : undefined;
      const bar = o.progress ? new ProgressLine(process.stderr) : undefined;
      // -i, or -n -v: every planned change, written as soon as the plan is made (JSON lines
      // with --json, so a large tree streams instead of building one huge document).
      const itemize = o.itemizeChanges === true || (o.dryRun === true && o.verbose === true);
      const onItemize = (changes: ItemizedChange[]): void => {
        bar?.clear();
        const lines = changes.map((c) => (o.json ? JSON.stringify(c) : formatItem(c)));
        if (lines.length) process.stdout.write(lines.join('\n') + '\n');
      };
      try {
        const r = await mirrorTree(srcSpec, dstSpec, {
          delete: o.delete === true,
          dryRun: o.dryRun === true,
          checksum: o.checksum === true,
          ...(o.wholeFile ? { delta: false } : {}),
          exclude: o.exclude,
          ...(o.saveDir ? { saveDir: o.saveDir } : {}),
          ...(streams ? { streams } : {}),
          ...(bar ? { onProgress: (p) => bar.update(p) } : {}),
          ...(itemize ? { onItemize } : log.isLevelEnabled('debug') ? { onItemize: (cs: ItemizedChange[]) => cs.forEach((c) => log.debug({ path: c.path, action: c.action }, formatItem(c))) } : {}),
          log,
          ...(o.config ? { config: o.config } : {}),
          ...(o.key ? { key: o.key } : {}),
          ...(o.pin && o.pin.length ? { pin: o.pin } : {}),
          ...(o.secretFile ? { secretFile: o.secretFile } : {}),
          // ssh:// ends (src/net/ssh.ts); they win over $OMIRR_RSH / $OMIRR_REMOTE_COMMAND
          ...(o.rsh ? { rsh: o.rsh } : {}),
          ...(o.omirrPath ? { remoteCommand: o.omirrPath } : {}),
          ...(inspector?.inspect ? { inspect: inspector.inspect } : {}),
          ...(inspector ? { metrics: inspector.m } : {}),
        });
        bar?.clear();
        for (const f of r.failed) log.error({ path: f.path }, `failed: ${f.error}`);
        if (r.deletesRefused) log.warn(r.deletesRefused);
        if (o.json) process.stdout.write(JSON.stringify(jsonSummary(r)) + '\n');
        else if (o.progress || o.verbose || o.dryRun) process.stdout.write(summaryLine(r) + '\n');
        if (!r.ok) process.exitCode = EXIT.FAILED;
      } catch (err) {
        bar?.clear();
        if (err instanceof UsageError) throw err;
        if (isConnectError(err)) throw new UsageError(`sync: ${(err as Error).message}`, EXIT.CONNECT);
        if (o.json) process.stdout.write(JSON.stringify({ src: srcSpec, dst: dstSpec, ok: false, error: (err as Error).message }) + '\n');
        throw new UsageError(`sync: ${(err as Error).message}`, EXIT.FAILED);
      } finally {
        await inspector?.close();
        await closePools();
      }
    });
}
