// `omirr mirror [-pPKG]... [-kkey=val]... [-n] [package-files...]`: mirror 2.9's command line
// over runMirror (src/mirror/runMirror.ts). The report goes to stdout (mm captures it in
// logs/<site>:<pkg>), logs to stderr; the exit status is mirror's (docs/mirror.md).
import type { Command } from 'commander';
import { UsageError } from './exitCodes.js';
import { VERSION } from '../version.js';
import { runMirror } from '../mirror/runMirror.js';
import { PackageFileError, commandLineOverrides, type PackageFileInput } from '../core/packageFile.js';
import { InteractiveArgsError, perlTrue } from '../core/mirrorInteractive.js';
import { PackageSettingsError } from '../core/mirrorPackage.js';
import { createLogger } from '../log.js';
import { closePools } from '../workers/pool.js';
import { optionalConfigPath } from '../api/configPath.js';
import { addInspectOptions, startCliInspect, type InspectCliOptions } from '../inspect/cliInspect.js';

interface MirrorCliOptions extends InspectCliOptions {
  package: string[];
  restart: string[];
  get: string[];
  configFile: string[];
  list?: boolean;
  timestamps?: boolean;
  version?: boolean;
  text?: boolean;
  put?: boolean;
  getInteractive?: boolean;
  user?: string;
  useFiles?: boolean;
  uploadLog?: string | boolean;
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

/** mirror's `die` in interactive mode (no remote directory, -p with -G/-P): Perl exits 255. */
const PERL_DIE = 255;

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/**
 * mirror flags omirr does not implement. Each one would change what a run does to local
 * files, so a run that gives one stops before anything is touched (exit 2) rather than
 * warning and then transferring everything.
 */
const REFUSED_FLAGS: Record<string, string> = {
  user: '-u (remote user, password prompted on the terminal) is not implemented; use -kremote_user=NAME -kremote_password=<FILE',
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
    .option('-R, --restart <name>', 'skip packages until NAME, then run it and all later ones (mirror\'s -Rpkg)', collect, [])
    .option('-L, --list', 'list what each package mirrors (name, comment, site:dir --> local_dir); mirror nothing')
    .option('-T, --timestamps', 'transfer nothing: give existing local files the remote mtimes')
    .option('-g, --get <site:path>', 'one-shot get of site:path into the current directory, without mirror.defaults (repeatable)', collect, [])
    .option('-C, --config-file <file>', 'a package file read before the others (repeatable)', collect, [])
    .option('-t, --text', 'text_mode=1 for every package (refused: omirr transfers in binary)')
    .option('-v, --version', 'print the version and exit')
    .option('-P, --put', 'interactive put: -kget_file=false -kinteractive=true (arguments: local_dir remote_dir [pattern]...)')
    .option('-G, --get-interactive', 'interactive get: -kget_file=true -kinteractive=true (arguments: local_dir remote_dir [pattern]...)')
    .option('-u, --user <user>', 'remote user with a password prompt (refused: use -kremote_user= -kremote_password=<FILE)')
    .option('-F, --use-files', 'accepted: mirror kept big listings in dbm files; omirr needs no such setting')
    .option('-U, --upload-log [file]', 'accepted with a warning: the upload log is not written')
    .option('-N, --no-defaults', 'do not read mirror.defaults (see docs/mirror.md for where it is found)');
  // mirror.pl fills %command_line in argument order: each -k, and each flag that stands for
  // keywords, is kept as a step as commander parses it, for commandLineOverrides.
  const steps: Array<string | Record<string, string>> = [];
  const keywordsOf: Record<string, (v: string) => string | Record<string, string>> = {
    keyword: (v) => v,
    'no-recursive': () => ({ recursive: '0' }),
    force: () => ({ force: '1' }),
    'mode-copy': () => ({ mode_copy: '1' }),
    site: (v) => ({ site: v }),
    text: () => ({ text_mode: '1' }),
    timestamps: () => ({ force_times: '1' }),
    put: () => ({ get_file: 'false', interactive: 'true' }),
    'get-interactive': () => ({ get_file: 'true', interactive: 'true' }),
  };
  for (const [name, set] of Object.entries(keywordsOf)) cmd.on(`option:${name}`, (v: string) => steps.push(set(v)));
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
      if (o.version) {
        process.stdout.write(`omirr mirror ${VERSION} (reads mirror 2.9 package files: $Id: mirror.pl,v 2.9 1998/05/29 $)\n`);
        return;
      }
      for (const [key, why] of Object.entries(REFUSED_FLAGS)) {
        if (o[key as keyof MirrorCliOptions] !== undefined) throw new UsageError(`mirror: ${why}; nothing was done`);
      }
      if (o.uploadLog !== undefined) log.warn('mirror: -U: the upload log is not written by omirr');
      // A flag omirr does not know lands among the files (allowUnknownOption), and so does
      // everything after it, -p included. mirror warned "Unknown arg" and carried on; that
      // would run every package here, so it is refused.
      const files: string[] = [];
      for (const a of args) {
        if (a.length > 1 && a.startsWith('-')) {
          throw new UsageError(`mirror: unknown flag ${a}: nothing was done (see omirr mirror --help)`);
        }
        files.push(a);
      }
      // -k and the flags that stand for keywords, in their order (commandLineOverrides); -G
      // and -P are -kget_file=true|false -kinteractive=true, and a -kinteractive that Perl
      // reads as true is interactive too. The arguments are then the transfer list.
      let overrides: Record<string, string>;
      try {
        overrides = commandLineOverrides(steps);
      } catch (err) {
        throw new UsageError(`mirror: ${(err as Error).message}`);
      }
      const interactive = perlTrue(overrides.interactive);
      delete overrides.interactive;
      if (interactive && o.package.length > 0) throw new UsageError('mirror: Can not mix -p and interactive', PERL_DIE);
      // mirror.pl logged in and transferred nothing (exit 1); an empty transfer list is a mistake
      if (interactive && files.length === 0) throw new UsageError('mirror: interactive mode (-G/-P) needs local_dir remote_dir [pattern] arguments; nothing was done');

      const config = o.config ?? optionalConfigPath();
      const connect: Record<string, unknown> = {
        ...(config ? { config } : {}),
        ...(o.secretFile ? { secretFile: o.secretFile } : {}),
        ...(o.pin.length > 0 ? { pin: o.pin } : {}),
      };

      const texts: PackageFileInput[] = [];
      // -C files first, then the rest, as mirror's @config_files.
      const paths = interactive ? [] : [...o.configFile, ...files.filter((f) => f !== '-')];
      const oneShot = o.get.length > 0;
      if (!oneShot && !interactive && (paths.length === 0 || files.includes('-'))) texts.push({ file: '(stdin)', text: await readStdin() });

      // --inspect: each package's transfer session live, and /metrics (files and bytes received).
      const inspector = o.inspect !== undefined || o.stately !== undefined ? await startCliInspect(o, { log, command: 'mirror' }) : undefined;
      try {
        const result = await runMirror({
          files: paths,
          texts,
          packages: o.package,
          restartFrom: o.restart,
          overrides,
          dryRun: o.dryRun === true,
          listOnly: o.list === true,
          timestampsOnly: o.timestamps === true,
          oneShot: o.get,
          ...(interactive ? { interactive: files } : {}),
          defaults: o.defaults !== false,
          log,
          connect,
          out: (line) => process.stdout.write(line + '\n'),
          ...(inspector?.inspect ? { inspect: inspector.inspect } : {}),
          ...(inspector ? { metrics: inspector.m } : {}),
        });
        for (const w of result.warnings) process.stderr.write(`omirr mirror: ${w}\n`);
        process.exitCode = result.exitCode;
      } catch (err) {
        if (err instanceof InteractiveArgsError) throw new UsageError(`mirror: ${err.message}`, PERL_DIE);
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
