// `omirr mirror [-pPKG]... [-kkey=val]... [-n] [package-files...]`: mirror 2.9's command line
// over runMirror (src/mirror/runMirror.ts). The report goes to stdout (mm captures it in
// logs/<site>:<pkg>), logs to stderr; the exit status is mirror's (docs/mirror.md).
import type { Command } from 'commander';
import { UsageError } from './exitCodes.js';
import { runMirror } from '../mirror/runMirror.js';
import { PackageFileError, parseOverrideArgs, type PackageFileInput } from '../core/packageFile.js';
import { PackageSettingsError } from '../core/mirrorPackage.js';
import { createLogger } from '../log.js';
import { closePools } from '../workers/pool.js';
import { optionalConfigPath } from '../api/configPath.js';
import { addInspectOptions, startCliInspect, type InspectCliOptions } from '../inspect/cliInspect.js';

interface MirrorCliOptions extends InspectCliOptions {
  package: string[];
  keyword: string[];
  dryRun?: boolean;
  debug: number;
  recursive?: boolean;
  force?: boolean;
  modeCopy?: boolean;
  site?: string;
  defaults?: boolean;
  config?: string;
  secretFile?: string;
  pin: string[];
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** mirror flags we know but do not implement: accepted with a warning so mm's args never break a run. */
const UNSUPPORTED_FLAGS: Record<string, string> = {
  F: 'dbm files (use_files)',
  T: 'timestamps-only mode',
  g: 'one-shot get',
  L: 'package list',
  U: 'upload log',
  C: 'extra config file',
  P: 'interactive put',
  G: 'interactive get',
  t: 'text mode',
  u: 'remote user',
  R: 'restart from a package',
  v: 'version',
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function register(program: Command): void {
  const cmd = program
    .command('mirror')
    .description("run mirror package files (mirror 2.9's format) with the built-in engine")
    .argument('[package-files...]', 'package files, read in order as one stream (default: standard input)')
    .option('-p, --package <name>', 'run only this package (exact name; repeatable, -pNAME works)', collect, [])
    .option('-k, --keyword <key=value>', 'override a keyword in every package (repeatable, -kkey=val works)', collect, [])
    .option('-n, --dry-run', 'show what would be done; change nothing')
    .option('-d, --debug', 'more logging (repeatable: -d info, -dd debug)', (_v: string, prev: number) => prev + 1, 0)
    .option('-r, --no-recursive', 'recursive=0 for every package')
    .option('-f, --force', 'force=1 for every package')
    .option('-m, --mode-copy', 'mode_copy=1 for every package')
    .option('-s, --site <site>', 'override site= for every package')
    .option('--config <file>', 'omirr.conf with our key and the pins of omirr:// sites (default: $OMIRR_CONFIG, else ./omirr.conf or /etc/omirr/omirr.conf if present)')
    .option('--secret-file <file>', 'shared secret for omirr:// sites')
    .option('--pin <fingerprint>', 'accepted key fingerprint of omirr:// sites (repeatable)', collect, [])
    .option('-N, --no-defaults', 'accepted for mirror compatibility (no mirror.defaults file is ever loaded)');
  addInspectOptions(cmd)
    .allowUnknownOption()
    .addHelpText(
      'after',
      '\nExit status (mirror\'s): 0 ok or skipped, 1 failed after reaching the site (listing or a\n' +
        'transfer failed), 2 could not reach the site, local_dir problem or bad settings. With several\n' +
        'packages the worst status is returned. See docs/mirror.md.',
    )
    .action(async (args: string[], o: MirrorCliOptions) => {
      const log = createLogger(o.debug >= 2 ? { level: 'debug' } : o.debug === 1 ? { level: 'info' } : process.env.OMIRR_LOG_LEVEL ? {} : { level: 'warn' });
      // Unknown flags land among the files (allowUnknownOption): warn and drop them.
      const files: string[] = [];
      for (const a of args) {
        if (a.length > 1 && a.startsWith('-')) {
          const known = UNSUPPORTED_FLAGS[a[1]!];
          log.warn(`mirror: ignoring flag ${a}${known ? ` (${known} is not supported)` : ''}`);
        } else files.push(a);
      }
      let overrides: Record<string, string>;
      try {
        overrides = parseOverrideArgs(o.keyword);
      } catch (err) {
        throw new UsageError(`mirror: ${(err as Error).message}`);
      }
      if (o.recursive === false) overrides.recursive = '0';
      if (o.force) overrides.force = '1';
      if (o.modeCopy) overrides.mode_copy = '1';
      if (o.site !== undefined) overrides.site = o.site;

      const config = o.config ?? optionalConfigPath();
      const connect: Record<string, unknown> = {
        ...(config ? { config } : {}),
        ...(o.secretFile ? { secretFile: o.secretFile } : {}),
        ...(o.pin.length > 0 ? { pin: o.pin } : {}),
      };

      const texts: PackageFileInput[] = [];
      const paths = files.filter((f) => f !== '-');
      if (files.length === 0 || files.includes('-')) texts.push({ file: '(stdin)', text: await readStdin() });

      // --inspect: each package's transfer session live, and /metrics (files and bytes received).
      const inspector = o.inspect !== undefined || o.stately !== undefined ? await startCliInspect(o, { log, command: 'mirror' }) : undefined;
      try {
        const result = await runMirror({
          files: paths,
          texts,
          packages: o.package,
          overrides,
          dryRun: o.dryRun === true,
          log,
          connect,
          out: (line) => process.stdout.write(line + '\n'),
          ...(inspector?.inspect ? { inspect: inspector.inspect } : {}),
          ...(inspector ? { metrics: inspector.m } : {}),
        });
        for (const w of result.warnings) process.stderr.write(`omirr mirror: ${w}\n`);
        process.exitCode = result.exitCode;
      } catch (err) {
        if (err instanceof PackageFileError || err instanceof PackageSettingsError) {
          throw new UsageError(`mirror: ${err.message}`);
        }
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
          throw new UsageError(`mirror: ${(err as Error).message}`);
        }
        throw err;
      } finally {
        await inspector?.close();
        await closePools();
      }
    });
}
