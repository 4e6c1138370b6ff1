// The inspector's HTTP server: the page (from assets/inspector, shipped in the package,
// nothing from a CDN), JSON about actors and charts, a Server-Sent Events stream that
// tells the page what changed, and Prometheus metrics on /metrics.
//   GET /                      the page            GET /api/actors        every actor
//   GET /api/actors/:id        one actor's detail  GET /api/graphs/:gid   chart + layout
//   GET /api/stream            SSE: {now, actors, changed} at most every `flushMs`
//   GET /metrics               Prometheus text format 0.0.4
import * as http from 'node:http';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from '../core/metrics.js';
import { ActorCollector, type CollectorOptions } from './collector.js';
import { announceInspector } from './announce.js';

export interface InspectorOptions extends CollectorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port (see `url`). */
  port?: number;
  log?: Logger;
  /** Share a registry with the rest of the process (default: a new one). */
  metrics?: MetricsRegistry;
  /** Write the page's URL to this file (plain text) and delete it on close. */
  urlFile?: string;
  /** Announce the URL for `omirr inspect` under this command name (see announce.ts). */
  announce?: string;
  /** Directory for the announcement (default inspectRuntimeDir()). */
  announceDir?: string;
  /** Coalescing interval of the live stream (default 100 ms). */
  flushMs?: number;
}

export interface Inspector {
  url: string;
  host: string;
  port: number;
  /** Pass to createActor(..., { inspect }) of every root actor to show. */
  inspect: (ev: InspectionEvent) => void;
  collector: ActorCollector;
  metrics: MetricsRegistry;
  close(): Promise<void>;
}

/** assets/inspector at the package root: two levels up from src/inspect or dist/src/inspect. */
export function inspectorAssetsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const dir = path.resolve(here, up, 'assets', 'inspector');
    if (fs.existsSync(path.join(dir, 'index.html'))) return dir;
  }
  throw new Error(`inspector assets not found near ${here} (is assets/ in the package?)`);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function startInspector(opts: InspectorOptions = {}): Promise<Inspector> {
  const log = opts.log ?? silentLogger;
  const host = opts.host ?? '127.0.0.1';
  const metrics = opts.metrics ?? new MetricsRegistry();
  const collector = new ActorCollector(opts);
  const flushMs = opts.flushMs ?? 100;

  // the page's files, read once: the set is small and fixed
  const assetsDir = inspectorAssetsDir();
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const name of fs.readdirSync(assetsDir)) {
    const type = TYPES[path.extname(name)];
    if (type) assets.set(`/${name}`, { type, body: fs.readFileSync(path.join(assetsDir, name)) });
  }
  assets.set('/', assets.get('/index.html')!);

  const streams = new Set<http.ServerResponse>();
  const changed = new Set<string>();
  let flushTimer: NodeJS.Timeout | undefined;
  const flush = () => {
    flushTimer = undefined;
    if (streams.size === 0) {
      changed.clear();
      return;
    }
    const data = JSON.stringify({ now: Date.now(), actors: collector.list(), changed: [...changed] });
    changed.clear();
    for (const res of streams) res.write(`data: ${data}\n\n`);
  };
  const unsubscribe = collector.subscribe((c) => {
    if (streams.size === 0) return;
    changed.add(c.id);
    flushTimer ??= setTimeout(flush, flushMs);
  });

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    try {
      // refuse pages from other origins that resolve a name to 127.0.0.1 (DNS rebinding)
      if (isLoopback(host)) {
        const h = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
        if (!isLoopback(h)) return json(res, 403, { error: 'forbidden host' });
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'GET only' });
      const url = new URL(req.url ?? '/', 'http://x');
      const p = url.pathname;
      const asset = assets.get(p);
      if (asset) {
        res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' });
        return res.end(asset.body);
      }
      if (p === '/metrics') {
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
        return res.end(metrics.render());
      }
      if (p === '/api/actors') return json(res, 200, { now: Date.now(), actors: collector.list() });
      let m = /^\/api\/actors\/(.+)$/.exec(p);
      if (m) {
        const d = collector.get(decodeURIComponent(m[1]!));
        return d ? json(res, 200, { now: Date.now(), actor: d }) : json(res, 404, { error: 'no such actor' });
      }
      m = /^\/api\/graphs\/(.+)$/.exec(p);
      if (m) {
        const g = collector.graph(decodeURIComponent(m[1]!));
        return g ? json(res, 200, g) : json(res, 404, { error: 'no such graph' });
      }
      if (p === '/api/stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        res.write(`retry: 1000\ndata: ${JSON.stringify({ now: Date.now(), actors: collector.list(), changed: [] })}\n\n`);
        streams.add(res);
        req.on('close', () => streams.delete(res));
        return;
      }
      json(res, 404, { error: 'not found' });
    } catch (err) {
      log.error({ err }, 'inspector request failed');
      if (!res.headersSent) json(res, 500, { error: String(err) });
      else res.end();
    }
  });
  // SSE comments keep idle connections (and proxies) from timing out
  const keepAlive = setInterval(() => {
    for (const res of streams) res.write(': keep-alive\n\n');
  }, 15_000);
  keepAlive.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // the inspector must never keep the process alive on its own
  server.unref();
  const addr = server.address() as { port: number };
  const url = `http://${formatHost(host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host)}:${addr.port}/`;
  log.debug({ url }, 'inspector listening'); // the CLI prints "inspector at URL" itself

  if (opts.urlFile) fs.writeFileSync(opts.urlFile, url + '\n');
  const announced = opts.announce ? announceInspector(url, opts.announce, opts.announceDir) : undefined;

  let closed: Promise<void> | undefined;
  return {
    url,
    host,
    port: addr.port,
    inspect: collector.inspect,
    collector,
    metrics,
    close() {
      closed ??= (async () => {
        unsubscribe();
        clearInterval(keepAlive);
        if (flushTimer) clearTimeout(flushTimer);
        announced?.remove();
        if (opts.urlFile) fs.rmSync(opts.urlFile, { force: true });
        for (const res of streams) res.end();
        streams.clear();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}

/** Feeds several inspectors (ours, logTransitions, Stately's) from one `inspect` option. */
export function combineInspectors(...fns: (((ev: InspectionEvent) => void) | undefined | false)[]): (ev: InspectionEvent) => void {
  const list = fns.filter((f): f is (ev: InspectionEvent) => void => typeof f === 'function');
  return (ev) => {
    for (const f of list) f(ev);
  };
}
