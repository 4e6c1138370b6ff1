// Names of conflict copies: when two concurrent versions of a file meet, the loser's
// content is kept beside the winner as NAME.omirr-conflict-YYYYMMDD-HHMMSS-NODE.EXT.
// The name is derived only from the losing version (its time and writer), so every node
// that resolves the same conflict picks the same name and the copies converge.

export const CONFLICT_MARK = '.omirr-conflict-';

/** Linux NAME_MAX: a longer file name cannot be created. */
const NAME_MAX_BYTES = 255;

/** YYYYMMDD-HHMMSS in UTC. */
export function conflictStamp(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}-` +
    `${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`
  );
}

/**
 * Splits a file name into NAME and .EXT. The extension is the last '.'-part, when there
 * is one with at least one character after the dot and the name before it is not only
 * dots: '.bashrc' and 'Makefile' have none, 'a.tar.gz' -> ['a.tar', '.gz'],
 * '.config.json' -> ['.config', '.json'], 'name.' -> ['name.', ''].
 */
export function splitExt(base: string): [string, string] {
  const dot = base.lastIndexOf('.');
  if (dot <= 0 || dot === base.length - 1) return [base, ''];
  if (/^\.*$/.test(base.slice(0, dot))) return [base, ''];
  return [base.slice(0, dot), base.slice(dot)];
}

/** Node names go into file names: anything but [A-Za-z0-9._-] becomes '_'. */
function safeNode(node: string): string {
  const s = node.replace(/[^A-Za-z0-9._-]/g, '_');
  return s === '' ? '_' : s;
}

function truncateBytes(s: string, maxBytes: number): string {
  if (maxBytes <= 0) return '';
  let out = s;
  while (Buffer.byteLength(out) > maxBytes) out = out.slice(0, -1);
  // never leave half a surrogate pair behind
  if (/[\uD800-\uDBFF]$/.test(out)) out = out.slice(0, -1);
  return out;
}

/**
 * The conflict copy's path for `path` (tree-relative, POSIX), losing version made at
 * `date` (UTC) by `node`: 'docs/a.txt' -> 'docs/a.omirr-conflict-20240102-030405-beta.txt'.
 * The directory is kept; the extension is kept so the copy opens like the original; a
 * name that would exceed 255 bytes is shortened in its NAME part.
 */
export function conflictName(path: string, date: Date, node: string): string {
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '' : path.slice(0, slash + 1);
  const [name, ext] = splitExt(path.slice(slash + 1));
  const mark = `${CONFLICT_MARK}${conflictStamp(date)}-${safeNode(node)}`;
  let tail = mark + ext;
  if (Buffer.byteLength(tail) > NAME_MAX_BYTES - 1) tail = truncateBytes(tail, NAME_MAX_BYTES - 1);
  const room = NAME_MAX_BYTES - Buffer.byteLength(tail);
  return dir + truncateBytes(name, room) + tail;
}

/** True when a file name (not a path) looks like one of omirr's conflict copies. */
export function isConflictName(base: string): boolean {
  return /\.omirr-conflict-\d{8}-\d{6}-[A-Za-z0-9._-]+/.test(base);
}
