// Parses the value of `--inspect [host:port]`: nothing, `port`, `host`, `host:port`
// or `[v6]:port`. The default is loopback and a free port, so nothing is exposed
// beyond this machine unless the user names another address.
import { UsageError } from '../core/exitCodes.js';

export interface InspectAddress {
  host: string;
  port: number;
}

export const DEFAULT_INSPECT_HOST = '127.0.0.1';

export function parseInspectAddress(arg: string | boolean | undefined): InspectAddress {
  const def: InspectAddress = { host: DEFAULT_INSPECT_HOST, port: 0 };
  if (arg === undefined || arg === true || arg === false || arg === '') return def;
  const s = arg.trim();
  const port = (p: string): number => {
    if (!/^\d{1,5}$/.test(p) || Number(p) > 65535) throw new UsageError(`--inspect: bad port "${p}" in "${arg}" (expected host:port, e.g. 127.0.0.1:9464)`);
    return Number(p);
  };
  let m = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (m) return { host: m[1]!, port: m[2] === undefined ? 0 : port(m[2]) };
  if (/^\d+$/.test(s)) return { host: DEFAULT_INSPECT_HOST, port: port(s) };
  if (/^:\d+$/.test(s)) return { host: DEFAULT_INSPECT_HOST, port: port(s.slice(1)) };
  m = /^([^:]+):([^:]*)$/.exec(s);
  if (m) return { host: m[1]!, port: m[2] === '' ? 0 : port(m[2]!) };
  if (!s.includes(':')) return { host: s, port: 0 };
  throw new UsageError(`--inspect: cannot parse "${arg}" (expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464)`);
}
