// omirr.conf: mm's input language plus the keywords of a node (docs/config.md). The mm
// statements (home, max, jobs, ...) are kept in order for the supervisor; the node keywords
// are interpreted here. Every error names file:line and what was expected, and all of them
// are reported at once. Pure: reading the file is loadConfig's (src/actors/configFile.ts).
//
// Strict where mm was not: a `word = value` line whose word is no keyword (a typo such as
// `lisen = ...`) is an error with a "did you mean" hint, since ignoring it would run a node
// that silently does less than asked. Other unparsable lines keep mm's warning.
import { dirname, isAbsolute, join } from 'node:path';
import { CANNOT_PARSE, formatDiagnostic, parseMmInput, type MmDiagnostic, type MmStatement, type SourceLoc } from './mmInput.js';

export const DEFAULT_PORT = 7878;

export const NODE_KEYWORDS: ReadonlySet<string> = new Set(['node', 'listen', 'key', 'secret', 'state', 'peer', 'tree', 'conflicts', 'tombstones', 'owner', 'handshake-timeout', 'max-unauthenticated']);

export interface HostPort {
  host: string;
  port: number;
}

export interface PeerConfig {
  name: string;
  /** Where to reach it; undefined for a peer that only connects to us ('-'). */
  address?: HostPort;
  /** Its pinned key; undefined when it authenticates with the shared secret only ('-'). */
  fingerprint?: string;
  loc: SourceLoc;
}

/**
 * What a daemon does with a tree's changes (Syncthing's folder types, docs/daemon.md "Tree
 * modes"): send-receive both ways; send-only (a publishing master) sends its local changes
 * and neither applies nor relays the peers'; receive-only (a mirror) applies and relays the
 * peers' changes and keeps its own local changes to itself (reported, `omirr revert`).
 */
export type TreeMode = 'send-receive' | 'send-only' | 'receive-only';
export const TREE_MODES: readonly TreeMode[] = ['send-receive', 'send-only', 'receive-only'];

export interface TreeConfig {
  name: string;
  path: string;
  /** Peers that may use (and mirror) this tree; empty: every authenticated peer. */
  peers: string[];
  /** Exported read-write to `omirr sync` clients ('rw'); read-only by default. */
  writable: boolean;
  /** send-receive unless a mode word (or 'ro': receive-only) says otherwise. */
  mode: TreeMode;
  loc: SourceLoc;
}

export interface OmirrConfig {
  file: string;
  node?: string;
  listen?: HostPort;
  /** This node's key file (absolute). */
  key?: string;
  /** File holding the cluster's shared secret (absolute). */
  secret?: string;
  /** The daemon's state directory: index, outboxes, control socket (absolute). */
  stateDir?: string;
  /** `conflicts = on|off`: keep the loser of a concurrent change as a conflict copy (daemon default: on). */
  conflicts?: boolean;
  /** `tombstones = DAYS`: how long the daemon remembers deletes (default 30 days). */
  tombstoneDays?: number;
  /** `owner = on|off`: mirror owner and group, when running as root (default: off). */
  owner?: boolean;
  /** `handshake-timeout = SECONDS`: from TCP accept to authenticated, else the connection is closed (default 10 s). */
  handshakeTimeoutMs?: number;
  /** `max-unauthenticated = N`: connections not yet authenticated at once (default 64). */
  maxUnauthenticated?: number;
  peers: PeerConfig[];
  trees: TreeConfig[];
  /** mm's own statements (home, max, mirror, cmd, cmdin, skip, jobs), in order. */
  statements: MmStatement[];
  warnings: MmDiagnostic[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly diagnostics: MmDiagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
  }
}

const NAME_RE = /^[A-Za-z0-9_][\w.-]{0,63}$/;
/** The words a switch accepts (mirror's booleans too). */
const ONOFF: ReadonlyMap<string, boolean> = new Map([['on', true], ['off', false], ['yes', true], ['no', false], ['true', true], ['false', false], ['1', true], ['0', false]]);
const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** HOST:PORT, [v6]:PORT, or a bare HOST with the default port when `defaultPort` is set. */
export function parseHostPort(s: string, defaultPort?: number): HostPort | string {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:\s]+)(?::(\d+))?$/.exec(s);
  if (!m) return `expected HOST:PORT, got '${s}'`;
  if (m[2] === undefined && defaultPort === undefined) return `expected HOST:PORT, got '${s}' (no port)`;
  const port = m[2] === undefined ? defaultPort! : Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `port must be 0..65535, got '${m[2]}'`;
  return { host: m[1]!, port };
}

/** mm's own statement keywords (mmInput.ts): valid in omirr.conf too. */
const MM_KEYWORDS: readonly string[] = ['home', 'max', 'mirror', 'cmd', 'cmdin', 'skip'];
/** What a `key = value` line looks like, whatever the key. */
const KEY_LINE_RE = /^([A-Za-z_][\w.-]*)\s*=/;

/** Edit distance (insert, delete, substitute, swap of neighbours), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The keyword a misspelt one most likely meant, or undefined when none is close. */
export function closestKeyword(word: string): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of [...NODE_KEYWORDS, ...MM_KEYWORDS]) {
    const dist = editDistance(word.toLowerCase(), k);
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  return bestD <= Math.max(1, Math.floor((best?.length ?? 0) / 3)) ? best : undefined;
}

/**
 * The words after a tree's peers: at most one mode word and rw / ro. `rw`: send-receive,
 * exported writable; `ro`: receive-only (its local changes are not sent), exported read-only.
 * A mode word with `rw` exports that mode writable (a send-only master fed by `omirr sync`);
 * `receive-only rw` and a mode word with `ro` other than receive-only contradict each other.
 * Pops the words it takes from `rest`; a word that is no peer and close to a mode word is
 * a typo (an error), not a peer name.
 */
export function parseTreeFlags(rest: string[], isPeer: (w: string) => boolean): { writable: boolean; mode: TreeMode } | string {
  let export_: 'rw' | 'ro' | undefined;
  let mode: TreeMode | undefined;
  for (let i = 0; i < 2 && rest.length > 0; i++) {
    const w = rest[rest.length - 1]!;
    if ((w === 'rw' || w === 'ro') && export_ === undefined) export_ = w;
    else if ((TREE_MODES as readonly string[]).includes(w) && mode === undefined) mode = w as TreeMode;
    else break;
    rest.pop();
  }
  for (const w of rest) {
    if (isPeer(w)) continue;
    const lw = w.toLowerCase();
    const typo = TREE_MODES.some((m) => editDistance(lw, m) <= 3) || (lw.length === 2 && ['rw', 'ro'].some((m) => editDistance(lw, m) <= 1)) || /^(send|receive|recv|mode)/.test(lw) || w.includes('=');
    if (typo) return `unknown mode '${w}' (modes: ${TREE_MODES.join(', ')}; or rw / ro; docs/config.md)`;
  }
  if (export_ === 'ro' && mode !== undefined && mode !== 'receive-only') return `'${mode}' with 'ro' contradicts (ro means receive-only; a tree is exported read-only unless 'rw')`;
  if (export_ === 'rw' && mode === 'receive-only') return `'receive-only rw' contradicts (writes by sync clients into a mirror would never be sent; use send-receive or send-only with rw)`;
  return { writable: export_ === 'rw', mode: mode ?? (export_ === 'ro' ? 'receive-only' : 'send-receive') };
}

export function parseConfig(text: string, file: string): OmirrConfig {
  const parsed = parseMmInput(text, file, { settings: NODE_KEYWORDS });
  const errors: MmDiagnostic[] = [];
  const cfg: OmirrConfig = { file, peers: [], trees: [], statements: [], warnings: parsed.warnings };
  const seen = new Map<string, SourceLoc>();
  // peers are declared anywhere in the file: a tree line's words are told from peer names by them
  const names = new Set(parsed.statements.flatMap((st) => (st.kind === 'setting' && st.key === 'peer' ? [st.value.split(/\s+/).filter((w) => w !== '')[0] ?? ''] : [])));
  const base = dirname(file);
  const filePath = (p: string): string => (isAbsolute(p) ? p : join(base, p));
  const err = (loc: SourceLoc, message: string): void => {
    errors.push({ loc, message });
  };
  const once = (key: string, loc: SourceLoc): boolean => {
    const first = seen.get(key);
    if (first) {
      err(loc, `${key} given twice (first at ${first.file}:${first.line})`);
      return false;
    }
    seen.set(key, loc);
    return true;
  };

  // Unknown keywords: mm skipped the line with a warning; a node refuses it.
  const lines = text.split('\n');
  cfg.warnings = parsed.warnings.filter((w) => {
    const line = (lines[w.loc.line - 1] ?? '').replace(/\r$/, '');
    const m = w.message.startsWith(CANNOT_PARSE) ? KEY_LINE_RE.exec(line) : null;
    if (!m) return true;
    const hint = closestKeyword(m[1]!);
    err(w.loc, `unknown keyword '${m[1]}'${hint ? ` (did you mean ${hint}?)` : ''}; keywords: ${[...NODE_KEYWORDS, ...MM_KEYWORDS].join(' ')} (docs/config.md)`);
    return false;
  });

  for (const st of parsed.statements) {
    if (st.kind !== 'setting') {
      cfg.statements.push(st);
      continue;
    }
    const { key, value, loc } = st;
    const words = value.split(/\s+/).filter((w) => w !== '');
    switch (key) {
      case 'node':
        if (words.length !== 1 || !NAME_RE.test(words[0]!)) err(loc, `node: expected one name (letters, digits, _ . -), got '${value}'`);
        else if (once('node', loc)) cfg.node = words[0];
        break;
      case 'listen': {
        const hp = words.length === 1 ? parseHostPort(words[0]!, DEFAULT_PORT) : `expected HOST:PORT, got '${value}'`;
        if (typeof hp === 'string') err(loc, `listen: ${hp}`);
        else if (once('listen', loc)) cfg.listen = hp;
        break;
      }
      case 'key':
      case 'secret':
        if (words.length !== 1) err(loc, `${key}: expected one file name, got '${value}'`);
        else if (once(key, loc)) cfg[key] = filePath(words[0]!);
        break;
      case 'state':
        if (words.length !== 1) err(loc, `state: expected one directory, got '${value}'`);
        else if (once('state', loc)) cfg.stateDir = filePath(words[0]!);
        break;
      case 'conflicts':
      case 'owner': {
        const on = words.length === 1 ? ONOFF.get(words[0]!.toLowerCase()) : undefined;
        if (on === undefined) err(loc, `${key}: expected on or off, got '${value}'`);
        else if (once(key, loc)) cfg[key] = on;
        break;
      }
      case 'tombstones': {
        const days = words.length === 1 && /^\d+(\.\d+)?$/.test(words[0]!) ? Number(words[0]) : NaN;
        if (!(days > 0)) err(loc, `tombstones: expected a number of days greater than 0, got '${value}'`);
        else if (once('tombstones', loc)) cfg.tombstoneDays = days;
        break;
      }
      case 'handshake-timeout': {
        const s = words.length === 1 && /^\d+(\.\d+)?$/.test(words[0]!) ? Number(words[0]) : NaN;
        if (!(s > 0 && s <= 3600)) err(loc, `handshake-timeout: expected seconds greater than 0 (at most 3600), got '${value}'`);
        else if (once(key, loc)) cfg.handshakeTimeoutMs = Math.round(s * 1000);
        break;
      }
      case 'max-unauthenticated': {
        const n = words.length === 1 && /^\d+$/.test(words[0]!) ? Number(words[0]) : NaN;
        if (!(n >= 1 && n <= 100_000)) err(loc, `max-unauthenticated: expected a number of connections from 1 to 100000, got '${value}'`);
        else if (once(key, loc)) cfg.maxUnauthenticated = n;
        break;
      }
      case 'peer': {
        if (words.length !== 3) {
          err(loc, `peer: expected NAME HOST:PORT|- FINGERPRINT|-, got '${value}'`);
          break;
        }
        const [name, addr, fp] = words as [string, string, string];
        if (!NAME_RE.test(name)) {
          err(loc, `peer: bad name '${name}' (letters, digits, _ . -)`);
          break;
        }
        const peer: PeerConfig = { name, loc };
        if (addr !== '-') {
          const hp = parseHostPort(addr, DEFAULT_PORT);
          if (typeof hp === 'string') {
            err(loc, `peer ${name}: ${hp}`);
            break;
          }
          peer.address = hp;
        }
        if (fp !== '-') {
          if (!FINGERPRINT_RE.test(fp)) {
            err(loc, `peer ${name}: expected a key fingerprint SHA256:... (omirr keygen prints it) or '-', got '${fp}'`);
            break;
          }
          peer.fingerprint = fp;
        }
        if (once(`peer ${name}`, loc)) cfg.peers.push(peer);
        break;
      }
      case 'tree': {
        if (words.length < 2) {
          err(loc, `tree: expected NAME PATH [PEER...] [rw|ro], got '${value}'`);
          break;
        }
        const [name, path, ...rest] = words as [string, string, ...string[]];
        if (!NAME_RE.test(name)) {
          err(loc, `tree: bad name '${name}' (letters, digits, _ . -)`);
          break;
        }
        // trailing words: a mode (send-receive, send-only, receive-only) and/or rw / ro
        const flags = parseTreeFlags(rest, (w) => names.has(w));
        if (typeof flags === 'string') {
          err(loc, `tree ${name}: ${flags}`);
          break;
        }
        const { writable, mode } = flags;
        if (once(`tree ${name}`, loc)) cfg.trees.push({ name, path: filePath(path), peers: rest, writable, mode, loc });
        break;
      }
    }
  }

  for (const t of cfg.trees) {
    for (const p of t.peers) if (!names.has(p)) err(t.loc, `tree ${t.name}: unknown peer '${p}' (declare it with peer = ${p} HOST:PORT FINGERPRINT)`);
  }
  if (errors.length > 0) throw new ConfigError(errors.sort((a, b) => a.loc.line - b.loc.line));
  return cfg;
}
