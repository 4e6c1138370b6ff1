// The `--inspect`, `--inspect-url-file` and `--stately` options shared by `omirr daemon`
// and `omirr mm`, and starting what they ask for. The CLI stays thin: it adds the
// options, calls startCliInspect(), and passes `inspect` to createActor of its root actor.
import type { Command } from 'commander';
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../log.js';
import { MetricsRegistry } from '../core/metrics.js';
import { UsageError } from '../core/exitCodes.js';
import { parseInspectAddress } from './address.js';
// The inspector's server and Stately's client load only when asked for (--inspect, --stately):
// every `omirr sync` registers these options, and their module graph was part of its start-up.
import type { loadStatelyInspector } from './stately.js';
import { omirrMetrics, type OmirrMetrics } from './omirrMetrics.js';

export interface InspectCliOptions {
  inspect?: string | boolean;
  inspectUrlFile?: string;
  stately?: string | boolean;
}

export function addInspectOptions(cmd: Command): Command {
  return cmd
    .option('--inspect [host:port]', 'serve the live statechart inspector and /metrics (default 127.0.0.1 and a free port; the URL is printed)')
    .option('--inspect-url-file <file>', 'also write the inspector URL to this file (read by `omirr inspect --url-file`)')
    .option('--stately [ws-url]', "also send actor events to Stately's inspector (needs the optional package @statelyai/inspect)");
}

export interface CliInspect {
  /** For createActor(root, { inspect }); undefined when nothing inspects. */
  inspect?: (ev: InspectionEvent) => void;
  /** The process's metrics (served on /metrics with --inspect). */
  metrics: MetricsRegistry;
  m: OmirrMetrics;
  url?: string;
  close(): Promise<void>;
}

export async function startCliInspect(opts: InspectCliOptions, ctx: { log: Logger; command: string; metrics?: MetricsRegistry }): Promise<CliInspect> {
  const metrics = ctx.metrics ?? new MetricsRegistry();
  const m = omirrMetrics(metrics);
  // the inspector's server (http, the page, the graph layout) loads only when asked for
  const asked = opts.inspect !== undefined && opts.inspect !== false;
  const server = asked || (opts.stately !== undefined && opts.stately !== false) ? await import('./server.js') : undefined;
  const inspector = asked && server
    ? await server.startInspector({ ...parseInspectAddress(opts.inspect), log: ctx.log, metrics, announce: ctx.command, urlFile: opts.inspectUrlFile }).catch((err: NodeJS.ErrnoException) => {
        throw new UsageError(`--inspect: cannot listen: ${err.message}`);
      })
    : undefined;
  if (inspector) process.stderr.write(`omirr ${ctx.command}: inspector at ${inspector.url}\n`);
  let stately: Awaited<ReturnType<typeof loadStatelyInspector>> | undefined;
  if (opts.stately !== undefined && opts.stately !== false) {
    const { loadStatelyInspector, StatelyUnavailableError } = await import('./stately.js');
    try {
      stately = await loadStatelyInspector(opts.stately === true ? true : opts.stately);
    } catch (err) {
      await inspector?.close();
      if (err instanceof StatelyUnavailableError) throw new UsageError(err.message);
      throw err;
    }
  }
  return {
    inspect: server && (inspector || stately) ? server.combineInspectors(inspector?.inspect, stately?.inspect) : undefined,
    metrics,
    m,
    url: inspector?.url,
    async close() {
      stately?.stop();
      await inspector?.close();
    },
  };
}
