// Where a child node that hangs is stuck. A hang seen once in a whole-suite run and never
// alone cannot be reproduced on demand, so the first one must say enough: the child runs
// with node's diagnostic report on a signal (`--report-on-signal`), and before the test
// kills it, it is asked for one. The report names what keeps its event loop alive (libuv's
// handles: sockets, pipes, timers, child processes), the main thread's JavaScript stack, and
// its worker threads; the process tree shows which of its children are still up.
import { mkdtempSync, readdirSync, readFileSync, rmSync, watch } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPORT_SIGNAL = 'SIGUSR2';

export interface HangReporter {
  /** The child's environment: NODE_OPTIONS asking for a report on REPORT_SIGNAL. */
  env(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Asks the child `pid` for its report and says what it holds (a few KiB of text). */
  describe(pid: number): Promise<string>;
  /** Removes the reports' directory. */
  dispose(): void;
}

export function hangReporter(): HangReporter {
  const dir = mkdtempSync(join(tmpdir(), 'omirr-hang-'));
  return {
    env(base) {
      const options = `--report-on-signal --report-signal=${REPORT_SIGNAL} --report-directory=${dir}`;
      return { ...base, NODE_OPTIONS: [base.NODE_OPTIONS, options].filter(Boolean).join(' ') };
    },
    async describe(pid) {
      const tree = processTree(pid);
      try {
        process.kill(pid, REPORT_SIGNAL);
      } catch {
        return `process ${pid} is gone\n${tree}`;
      }
      const report = await waitForReport(dir, pid, 5000);
      return `${tree}\n${report === undefined ? 'no diagnostic report within 5 s (the main thread may be blocked)' : summarise(report)}`;
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function processTree(pid: number): string {
  try {
    const all = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,stat=,args='], { encoding: 'utf8' });
    const rows = all.split('\n').map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/)).filter((m) => m !== null);
    const mine = new Set([pid]);
    // a child may be listed before its parent (pids wrap): loop until nothing is added
    for (let grew = true; grew; ) {
      grew = false;
      for (const m of rows) {
        if (mine.has(Number(m[2])) && !mine.has(Number(m[1]))) {
          mine.add(Number(m[1]));
          grew = true;
        }
      }
    }
    return 'process tree:\n' + rows.filter((m) => mine.has(Number(m[1]))).map((m) => `  ${m[1]} ${m[2]} ${m[3]} ${m[4]!.slice(0, 200)}`).join('\n');
  } catch (err) {
    return `process tree: ${(err as Error).message}`;
  }
}

/** The child's report once node has written it (each write is a change in `dir`), or undefined after `ms`. */
function waitForReport(dir: string, pid: number, ms: number): Promise<Report | undefined> {
  return new Promise((resolve) => {
    const read = (): Report | undefined => {
      const name = readdirSync(dir).find((n) => n.includes(`.${pid}.`) && n.endsWith('.json'));
      try {
        return name ? (JSON.parse(readFileSync(join(dir, name), 'utf8')) as Report) : undefined;
      } catch {
        return undefined; // still being written: its next write is another change
      }
    };
    const finish = (r: Report | undefined): void => {
      watcher.close();
      clearTimeout(timer);
      resolve(r);
    };
    const watcher = watch(dir, () => {
      const r = read();
      if (r) finish(r);
    });
    const timer = setTimeout(() => finish(read()), ms);
    const now = read();
    if (now) finish(now);
  });
}

interface Report {
  javascriptStack?: { message?: string; stack?: string[] };
  libuv?: Array<Record<string, unknown>>;
  workers?: Report[];
}

function summarise(r: Report, indent = ''): string {
  const stack = r.javascriptStack;
  // what keeps the loop alive: a referenced handle (an unreferenced one never does)
  const handles = (r.libuv ?? []).filter((h) => (h.is_active && h.is_referenced) || h.type === 'process');
  const lines = [
    `${indent}main thread: ${stack?.message ?? '?'}`,
    ...(stack?.stack ?? []).slice(0, 15).map((s) => `${indent}  ${s.trim()}`),
    `${indent}referenced handles (${handles.length}):`,
    ...handles.map((h) => `${indent}  ${JSON.stringify(h)}`),
    ...(r.workers ?? []).map((w, i) => `${indent}worker ${i}:\n${summarise(w, indent + '  ')}`),
  ];
  return lines.join('\n');
}
