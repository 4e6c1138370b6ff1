// The supervisor's I/O: `home=` (a directory check: we never process.chdir, each child gets
// cwd=home), `cmd=` (system(), as mm did: the command's output is mm's output) and `cmdin=`
// (a command whose standard output is read as more mm input).
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { resolve } from 'node:path';
import { fromPromise } from 'xstate';
import { parseMmInput, type MmParseResult } from '../core/mmInput.js';
import type { MmCommandInput } from '../machines/mmSupervisor.js';
import { waitStatusOf } from './mmJobProcess.js';

/** Where cmd's output goes: mm's own stdout/stderr by default. */
export interface CommandStdio {
  stdout?: 'inherit' | 'ignore' | number;
  stderr?: 'inherit' | 'ignore' | number;
}

/** `home=DIR`: resolved against the current home; must be a directory. */
export async function resolveHome(home: string, dir: string): Promise<string> {
  const abs = resolve(home, dir);
  const st = await fsp.stat(abs);
  if (!st.isDirectory()) throw new Error('not a directory');
  return abs;
}

export function runShell(home: string, command: string, stdio: CommandStdio = {}): Promise<number> {
  return new Promise((res, rej) => {
    const child = spawn('/bin/sh', ['-c', command], {
      cwd: home,
      stdio: ['ignore', stdio.stdout ?? 'inherit', stdio.stderr ?? 'inherit'],
    });
    child.once('error', rej);
    child.once('exit', (code, signal) => res(waitStatusOf(code, signal)));
  });
}

/** The diagnostics name of a cmdin's output: where the cmdin line was. */
export function cmdinSourceName(loc: { file: string; line: number }): string {
  return `cmdin(${loc.file}:${loc.line})`;
}

export async function readCommandOutput(
  input: MmCommandInput,
  stderr: CommandStdio['stderr'] = 'inherit',
): Promise<MmParseResult & { waitStatus: number }> {
  const child = spawn('/bin/sh', ['-c', input.command], { cwd: input.home, stdio: ['ignore', 'pipe', stderr] });
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const waitStatus = await new Promise<number>((res, rej) => {
    child.once('error', rej);
    // 'close' (not 'exit'): all of stdout has been read by then.
    child.once('close', (code, signal) => res(waitStatusOf(code, signal)));
  });
  const parsed = parseMmInput(Buffer.concat(chunks).toString('utf8'), cmdinSourceName(input.loc));
  return { ...parsed, waitStatus };
}

export function checkHomeActor() {
  return fromPromise<string, { home: string; dir: string }>(({ input }) => resolveHome(input.home, input.dir));
}

export function runCommandActor(stdio: CommandStdio = {}) {
  return fromPromise<number, MmCommandInput>(({ input }) => runShell(input.home, input.command, stdio));
}

export function readCommandInputActor(stdio: CommandStdio = {}) {
  return fromPromise<MmParseResult & { waitStatus: number }, MmCommandInput>(({ input }) =>
    readCommandOutput(input, stdio.stderr),
  );
}
