// A real nginx (Debian's nginx-light) on a loopback ephemeral port serving `root` with
// autoindex, for the http:// site driver's tests. One process (master_process off), all its
// files in a temp directory. A missing nginx is an error, not a skip: .ci/run installs it.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild, waitForPort } from './loopback.js';

export const NGINX = '/usr/sbin/nginx';

export interface NginxServer {
  port: number;
  /** http://127.0.0.1:PORT + path */
  url(path?: string): string;
  errorLog(): string;
  stop(): Promise<void>;
}

export async function startNginx(opts: { root: string; extra?: string[] }): Promise<NginxServer> {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: apt-get install nginx-light (.ci/run installs it)`);
  const work = mkdtempSync(join(tmpdir(), 'omirr-nginx-'));
  mkdirSync(join(work, 'tmp'));
  const port = await freePort();
  const t = join(work, 'tmp');
  const conf = [
    'daemon off;',
    'master_process off;',
    `error_log ${join(work, 'error.log')};`,
    `pid ${join(work, 'nginx.pid')};`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${t}; proxy_temp_path ${t}; fastcgi_temp_path ${t}; uwsgi_temp_path ${t}; scgi_temp_path ${t};`,
    '  server {',
    `    listen 127.0.0.1:${port};`,
    `    root ${opts.root};`,
    '    location / { autoindex on; }',
    ...(opts.extra ?? []).map((l) => `    ${l}`),
    '  }',
    '}',
    '',
  ].join('\n');
  writeFileSync(join(work, 'nginx.conf'), conf);
  const proc = spawn(NGINX, ['-c', join(work, 'nginx.conf'), '-p', work], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const errorLog = (): string => (existsSync(join(work, 'error.log')) ? readFileSync(join(work, 'error.log'), 'utf8') : '');
  await waitForPort(port, () => proc.exitCode !== null || proc.signalCode !== null, () => `nginx: ${stderr} ${errorLog()}`);
  return {
    port,
    url: (path = '/') => `http://127.0.0.1:${port}${path.startsWith('/') ? path : '/' + path}`,
    errorLog,
    async stop() {
      await stopChild(proc);
      rmSync(work, { recursive: true, force: true });
    },
  };
}
