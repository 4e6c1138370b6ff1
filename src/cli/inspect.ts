// `omirr inspect`: prints (or opens) the inspector URL of running omirr processes
// started with --inspect. They announce themselves in the runtime directory
// ($OMIRR_RUNTIME_DIR, else $XDG_RUNTIME_DIR/omirr, else <tmp>/omirr-<uid>; see
// src/inspect/announce.ts), or in a file named with --url-file.
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { EXIT, UsageError } from './exitCodes.js';
import { inspectRuntimeDir, listInspectors, readUrlFile, type InspectAnnouncement } from '../inspect/announce.js';

interface InspectOpts {
  urlFile?: string;
  pid?: string;
  command?: string;
  open?: boolean;
  json?: boolean;
  all?: boolean;
}

function openInBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => process.stderr.write(`omirr: could not run ${cmd}; open ${url} yourself\n`));
  child.unref();
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('print (or --open) the inspector URL of a running `omirr daemon --inspect` or `omirr mm --inspect`')
    .option('--url-file <file>', 'read the URL from this file (written by --inspect-url-file) instead of the runtime directory')
    .option('--pid <pid>', 'the process to inspect (default: the newest)')
    .option('--command <name>', 'only processes running this command (daemon, mm)')
    .option('--all', 'print every running inspector, one per line: URL pid command')
    .option('--open', 'open the page in a browser (xdg-open)')
    .option('--json', 'print JSON')
    .addHelpText('after', `\nRunning processes announce their inspector in ${inspectRuntimeDir()}`)
    .action((opts: InspectOpts) => {
      let found: InspectAnnouncement[];
      if (opts.urlFile) {
        let url: string;
        try {
          url = readUrlFile(opts.urlFile);
        } catch (err) {
          throw new UsageError(`inspect: cannot read ${opts.urlFile}: ${(err as Error).message}`, EXIT.FAILED);
        }
        found = [{ url, pid: 0, command: '', startedAt: 0 }];
      } else {
        found = listInspectors();
        if (opts.pid) found = found.filter((a) => String(a.pid) === opts.pid);
        if (opts.command) found = found.filter((a) => a.command === opts.command);
        if (found.length === 0) {
          throw new UsageError(
            `inspect: no running omirr process with an inspector${opts.pid ? ` (pid ${opts.pid})` : ''} in ${inspectRuntimeDir()}; start one with --inspect`,
            EXIT.FAILED,
          );
        }
      }
      const shown = opts.all ? found : found.slice(0, 1);
      if (opts.json) process.stdout.write(JSON.stringify(opts.all ? shown : shown[0]) + '\n');
      else if (opts.all) for (const a of shown) process.stdout.write(`${a.url} ${a.pid} ${a.command}\n`);
      else process.stdout.write(`${shown[0]!.url}\n`);
      if (opts.open) openInBrowser(shown[0]!.url);
    });
}
