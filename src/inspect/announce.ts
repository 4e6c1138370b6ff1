// Where a running omirr process tells `omirr inspect` the address of its inspector:
// one small JSON file per process in a private runtime directory,
//   $OMIRR_RUNTIME_DIR, else $XDG_RUNTIME_DIR/omirr, else <tmpdir>/omirr-<uid>,
// named inspect-<pid>.json and removed when the inspector closes or the process exits.
// A file whose process is gone (crash, kill -9) is ignored and cleaned by readers.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pidExists } from '../actors/pidExists.js';

export interface InspectAnnouncement {
  url: string;
  pid: number;
  /** What is being inspected: `daemon`, `mm`, ... */
  command: string;
  /** Epoch milliseconds. */
  startedAt: number;
}

export function inspectRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OMIRR_RUNTIME_DIR) return env.OMIRR_RUNTIME_DIR;
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'omirr');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return path.join(os.tmpdir(), `omirr-${uid}`);
}

/** Writes this process's announcement; the returned function removes it (idempotent). */
export function announceInspector(url: string, command: string, dir = inspectRuntimeDir()): { file: string; remove: () => void } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `inspect-${process.pid}.json`);
  const body: InspectAnnouncement = { url, pid: process.pid, command, startedAt: Date.now() };
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(body) + '\n', { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    process.off('exit', remove);
    try {
      fs.unlinkSync(file);
    } catch {
      // already gone
    }
  };
  process.on('exit', remove);
  return { file, remove };
}

/** Announcements of live processes, newest first; stale files are deleted. */
export function listInspectors(dir = inspectRuntimeDir()): InspectAnnouncement[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: InspectAnnouncement[] = [];
  for (const name of names) {
    if (!/^inspect-\d+\.json$/.test(name)) continue;
    const file = path.join(dir, name);
    try {
      const a = JSON.parse(fs.readFileSync(file, 'utf8')) as InspectAnnouncement;
      if (typeof a.url !== 'string' || typeof a.pid !== 'number') continue;
      if (!pidExists(a.pid)) {
        fs.rmSync(file, { force: true });
        continue;
      }
      out.push(a);
    } catch {
      // a half-written or foreign file: skip it
    }
  }
  return out.sort((a, b) => b.startedAt - a.startedAt);
}

/** Reads a URL from a file written with `startInspector({ urlFile })` (plain text) or an announcement (JSON). */
export function readUrlFile(file: string): string {
  const text = fs.readFileSync(file, 'utf8').trim();
  if (text.startsWith('{')) return (JSON.parse(text) as InspectAnnouncement).url;
  return text.split('\n')[0]!.trim();
}
