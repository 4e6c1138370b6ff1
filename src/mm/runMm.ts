// The mirror master as an API: `runMm` is one `omirr mm` run (every due job once, at most
// `max` at once, then finish); `startMmSupervisor` starts the same supervisor long-running
// (the retry timers fire and the jobs run again) and hands back its root actor.
import { existsSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createActor, toPromise, type AnyActorRef, type InspectionEvent } from 'xstate';
import { silentLogger, type Logger } from '../log.js';
import { logTransitions } from '../actors/transitionLog.js';
import { formatDiagnostic, parseMmInput, sitePackageOf, type MmDiagnostic, type MmStatement } from '../core/mmInput.js';
import type { MmOptions } from '../core/mmArgs.js';
import { defaultMirrorTemplate, shellQuote } from '../core/mmTemplate.js';
import type { MmJobActorRef, MmJobResult } from '../machines/mmJob.js';
import type { MmCommandResult, MmSupervisorOutput } from '../machines/mmSupervisor.js';
import { provideMmSupervisor } from './mmLogic.js';
import type { CommandStdio } from '../actors/mmCommands.js';
import { stoppedJobsEnded } from '../actors/mmJobProcess.js';
import type { OmirrMetrics } from '../inspect/omirrMetrics.js';
import type { OrphanPolicy } from '../actors/mmStatusStore.js';

/** Forward a signal to every running job's process group (jobs run in their own sessions). */
export { signalJobGroups } from '../actors/mmJobProcess.js';

/** One input text: a file's content, standard input, or text a program made. */
export interface MmInputText {
  /** Name used in file:line diagnostics. */
  name: string;
  text: string;
}

export interface MmSupervisorOptions {
  /** The flags of `omirr mm` (parseMmArgs); all optional. */
  options?: Partial<MmOptions>;
  /** Starting home (default: process.cwd()); `home=` lines resolve against it. */
  home?: string;
  /** Mirror template before any `mirror=` line (default: the built-in `omirr mirror`). */
  template?: string;
  /** Shell command starting omirr, for the default template (default: this node + bin/omirr.js). */
  omirrCommand?: string;
  logger?: Logger;
  /** Where cmd= and cmdin= write (default: this process's stdout/stderr). */
  stdio?: CommandStdio;
  /** Extra xstate inspection (e.g. a statechart viewer); transitions are logged at debug anyway. */
  inspect?: (ev: InspectionEvent) => void;
  /**
   * Where job runs are counted (omirr_mm_job_runs_total by result, durations, time of the
   * last success): e.g. omirrMetrics(inspector.metrics), served on the inspector's /metrics.
   */
  metrics?: OmirrMetrics;
  /** Called for every job actor when it is created, before it starts: subscribe here. */
  onJobActor?: (job: MmJobActorRef) => void;
  /** Give up waiting for another process's mm.status mutex after this long (default 60 s). */
  lockTimeoutMs?: number;
  /**
   * A job still running after the omirr mm that started it died (kill -9): 'wait' (default)
   * honours it as a lock; 'stop' stops its process group when the job is due, then runs it.
   * Default: options.orphans (--orphans=), else 'wait'.
   */
  orphans?: OrphanPolicy;
  /** Long-running timing (see MmJobInput). */
  lockPollMs?: number;
  errorRetryMs?: number;
  minRerunMs?: number;
}

export interface StartMmSupervisorOptions extends MmSupervisorOptions {
  /** The mm input: parsed statements, or texts to parse (in order). */
  statements?: MmStatement[];
  inputs?: MmInputText[];
  /** true (default here): jobs re-run when their timers fire; false: one pass, like runMm. */
  longRunning?: boolean;
}

export interface MmSupervisorHandle {
  /** The root actor; its children are the job actors (ids `job:<site>:<package>`). */
  actor: AnyActorRef;
  /** Unparsable lines of the given inputs (cmdin outputs' are in the output). */
  warnings: MmDiagnostic[];
  /** Resolves when the supervisor finishes (one-shot, or a fatal error, or stop()). */
  done: Promise<MmSupervisorOutput>;
  /** The live job actors. */
  jobs(): MmJobActorRef[];
  /**
   * Stops the supervisor; resolves once the jobs it was running have ended (SIGTERM, SIGKILL
   * after 10 s) and its mm.status I/O under way has finished: nothing of it writes in a home
   * afterwards, and a lock taken as it stopped is given back.
   */
  stop(): Promise<void>;
}

export interface RunMmOptions extends MmSupervisorOptions {
  /** Input texts; when absent, options.files are read ('-' or no files: `stdin`). */
  inputs?: MmInputText[];
  stdin?: NodeJS.ReadableStream;
}

export interface MmRunResult {
  /** 0: every started job succeeded; 1: a job failed (or hit an I/O error); 2: bad input or config. */
  exitCode: 0 | 1 | 2;
  results: MmJobResult[];
  warnings: MmDiagnostic[];
  commands: MmCommandResult[];
  fatal?: string;
}

/** `exec node .../bin/omirr.js`: the omirr that is running now, whatever the PATH says. */
export function defaultOmirrCommand(): string {
  const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
  return existsSync(bin) ? `${shellQuote(process.execPath)} ${shellQuote(bin)}` : 'omirr';
}

function parseInputs(inputs: MmInputText[]): { statements: MmStatement[]; warnings: MmDiagnostic[] } {
  const statements: MmStatement[] = [];
  const warnings: MmDiagnostic[] = [];
  for (const inp of inputs) {
    const r = parseMmInput(inp.text, inp.name);
    statements.push(...r.statements);
    warnings.push(...r.warnings);
  }
  return { statements, warnings };
}

/** Start a supervisor on an mm input. Long-running by default; see runMm for one pass. */
export function startMmSupervisor(opts: StartMmSupervisorOptions): MmSupervisorHandle {
  const log = opts.logger ?? silentLogger;
  const o = opts.options ?? {};
  const parsed = opts.statements ? { statements: opts.statements, warnings: [] } : parseInputs(opts.inputs ?? []);
  const { supervisor, job, statusIo } = provideMmSupervisor({
    log,
    ...(o.showStatus !== undefined ? { showStatus: o.showStatus } : {}),
    ...(opts.stdio ? { stdio: opts.stdio } : {}),
    ...(opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: opts.lockTimeoutMs } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    orphans: opts.orphans ?? o.orphans ?? 'wait',
  });
  const logT = logTransitions(log);
  const inspect = (ev: InspectionEvent) => {
    // A job actor is announced when created, before it starts: subscribers miss nothing.
    if (ev.type === '@xstate.actor' && (ev.actorRef as { logic?: unknown }).logic === job) {
      opts.onJobActor?.(ev.actorRef as unknown as MmJobActorRef);
    }
    logT(ev);
    opts.inspect?.(ev);
  };
  const actor = createActor(supervisor, {
    id: 'mm',
    input: {
      statements: parsed.statements,
      home: resolve(opts.home ?? process.cwd()),
      template: opts.template ?? defaultMirrorTemplate(opts.omirrCommand ?? defaultOmirrCommand()),
      ignoreTimers: o.ignoreTimers ?? false,
      ...(o.only !== undefined ? { only: o.only } : {}),
      extraArgs: o.extraArgs ?? [],
      strict: o.strict ?? false,
      longRunning: opts.longRunning ?? true,
      ...(opts.lockPollMs !== undefined ? { lockPollMs: opts.lockPollMs } : {}),
      ...(opts.errorRetryMs !== undefined ? { errorRetryMs: opts.errorRetryMs } : {}),
      ...(opts.minRerunMs !== undefined ? { minRerunMs: opts.minRerunMs } : {}),
    },
    inspect,
  });
  const done = toPromise(actor);
  actor.start();
  return {
    actor,
    warnings: parsed.warnings,
    done,
    jobs: () =>
      Object.entries(actor.getSnapshot().children)
        .filter(([id]) => id.startsWith('job:'))
        .map(([, ref]) => ref as unknown as MmJobActorRef),
    stop: async () => {
      actor.stop();
      // the stopped jobs' processes, and their mm.status I/O already under way: once this
      // resolves nothing of this supervisor writes in a home (a program may remove it)
      await Promise.all([stoppedJobsEnded(), statusIo.settled()]);
    },
  };
}

async function readStream(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Read the input files ('-' is standard input; none means standard input). */
export async function readMmInputs(
  files: string[],
  stdin: NodeJS.ReadableStream = process.stdin,
  opts: { /** The name standard input gets (default `(stdin)`). */ stdinName?: string } = {},
): Promise<MmInputText[]> {
  const names = files.length > 0 ? files : ['-'];
  const out: MmInputText[] = [];
  for (const f of names) {
    if (f === '-') out.push({ name: opts.stdinName ?? '(stdin)', text: await readStream(stdin) });
    else {
      try {
        out.push({ name: f, text: await fsp.readFile(f, 'utf8') });
      } catch (err) {
        const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new MmInputError(`${f}: cannot read: ${reason}`, f, reason);
      }
    }
  }
  return out;
}

export class MmInputError extends Error {
  override name = 'MmInputError';
  constructor(
    message: string,
    /** The file that could not be read, and why (an errno code such as ENOENT). */
    readonly file?: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

/** Results in the order their jobs first appear in the input (the jobs finish in any order). */
function inInputOrder(results: MmJobResult[], statements: MmStatement[]): MmJobResult[] {
  const rank = new Map<string, number>();
  for (const s of statements) if (s.kind === 'job' && !rank.has(sitePackageOf(s))) rank.set(sitePackageOf(s), rank.size);
  const at = (r: MmJobResult): number => rank.get(r.sitePackage) ?? rank.size;
  return [...results].sort((a, b) => at(a) - at(b));
}

function exitCodeOf(out: MmSupervisorOutput): 0 | 1 | 2 {
  if (out.fatal !== undefined) return 2;
  return out.results.some((r) => r.outcome === 'failed' || r.outcome === 'error') ? 1 : 0;
}

/** One `omirr mm` run: obey the input, run every due job once (<= max at once), wait, finish. */
export async function runMm(opts: RunMmOptions = {}): Promise<MmRunResult> {
  const log = opts.logger ?? silentLogger;
  const o = opts.options ?? {};
  let inputs: MmInputText[];
  try {
    inputs = opts.inputs ?? (await readMmInputs(o.files ?? [], opts.stdin));
  } catch (err) {
    if (!(err instanceof MmInputError)) throw err;
    log.error(err.message);
    return { exitCode: 2, results: [], warnings: [], commands: [], fatal: err.message };
  }
  const { statements, warnings } = parseInputs(inputs);
  for (const w of warnings) (o.strict ? log.error.bind(log) : log.warn.bind(log))(formatDiagnostic(w));
  if (o.strict && warnings.length > 0) {
    // --strict: nothing runs when any line of the input is unparsable.
    return { exitCode: 2, results: [], warnings, commands: [], fatal: formatDiagnostic(warnings[0]!) };
  }
  const handle = startMmSupervisor({ ...opts, statements, longRunning: false });
  const out = await handle.done;
  return {
    exitCode: exitCodeOf(out),
    results: inInputOrder(out.results, statements),
    warnings: [...warnings, ...out.warnings],
    commands: out.commands,
    ...(out.fatal !== undefined ? { fatal: out.fatal } : {}),
  };
}
