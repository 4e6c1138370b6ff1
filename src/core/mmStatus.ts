// mm.status, the original's line format (pure): `site:package LAST_TRIED STATUS l|u PID`.
// Unparsable lines are kept verbatim, so a rewrite never loses them (the original truncated
// the file at the first blank or unparsable line). Records nobody changed are written back
// byte for byte, as the original did. See docs/mm-input.md ("mm.status").

export interface StatusRecord {
  sitePackage: string;
  /** Unix epoch seconds of the last start or end. */
  lastTried: number;
  /** Raw wait status: exit code * 256, plus the signal number if killed. 0 = success. */
  status: number;
  locked: boolean;
  pid: number;
}

/** The file as an ordered list of lines: records, or raw text we could not parse. */
export type StatusLine = { record: StatusRecord } | { raw: string };

/**
 * mm.pl's status-line regex: the site:package may hold spaces (greedy), one extra non-space
 * character after the l/u flag is tolerated. A trailing \r (a CRLF file) is tolerated too.
 */
const STATUS_RE = /^(.+:.+)\s+(\d+)\s+(\d+)\s+(l|u)\S?\s+(\d+)$/s;

/**
 * The text each parsed record came from, with the field values it had then. A record whose
 * fields still match is written back verbatim (odd spacing, `lx` flags, \r kept); a changed
 * one is written in the canonical form. A WeakMap keeps StatusLine's shape plain data.
 */
const origin = new WeakMap<StatusRecord, { text: string; fields: string }>();

function fieldsOf(r: StatusRecord): string {
  return `${r.sitePackage}\0${r.lastTried}\0${r.status}\0${r.locked}\0${r.pid}`;
}

/** Parse one line; undefined when it is not a status record. */
export function parseStatusLine(line: string): StatusRecord | undefined {
  const m = STATUS_RE.exec(line.endsWith('\r') ? line.slice(0, -1) : line);
  if (!m) return undefined;
  const lastTried = Number(m[2]);
  const status = Number(m[3]);
  const pid = Number(m[5]);
  if (![lastTried, status, pid].every(Number.isSafeInteger)) return undefined;
  // The greedy site:package keeps all but one blank before LAST_TRIED; trimmed, so an
  // aligned (hand-edited) line still matches its job (whose package is trimmed too).
  return { sitePackage: m[1]!.trimEnd(), lastTried, status, locked: m[4] === 'l', pid };
}

export function parseStatusFile(text: string): StatusLine[] {
  if (text === '') return [];
  const parts = text.split('\n');
  // A final newline ends the last line; it does not start an empty one.
  if (parts[parts.length - 1] === '') parts.pop();
  return parts.map((line): StatusLine => {
    const record = parseStatusLine(line);
    if (!record) return { raw: line };
    origin.set(record, { text: line, fields: fieldsOf(record) });
    return { record };
  });
}

/** The canonical line for a record, as the original wrote it. */
export function formatStatusRecord(r: StatusRecord): string {
  return `${r.sitePackage} ${r.lastTried} ${r.status} ${r.locked ? 'l' : 'u'} ${r.pid}`;
}

export function formatStatusFile(lines: StatusLine[]): string {
  let out = '';
  for (const l of lines) {
    if ('raw' in l) {
      out += l.raw + '\n';
      continue;
    }
    const o = origin.get(l.record);
    out += (o && o.fields === fieldsOf(l.record) ? o.text : formatStatusRecord(l.record)) + '\n';
  }
  return out;
}

/** The first record for sitePackage (the original's get_status stopped at the first). */
export function findStatus(lines: StatusLine[], sitePackage: string): StatusRecord | undefined {
  for (const l of lines) if ('record' in l && l.record.sitePackage === sitePackage) return l.record;
  return undefined;
}

/**
 * Rewrite every record of sitePackage with `update` (the original's upd_status rewrote each
 * matching line), or append `created` when there is none. Returns a new list.
 */
function updateStatus(
  lines: StatusLine[],
  sitePackage: string,
  update: (r: StatusRecord) => StatusRecord,
  created: () => StatusRecord,
): StatusLine[] {
  let found = false;
  const out = lines.map((l): StatusLine => {
    if (!('record' in l) || l.record.sitePackage !== sitePackage) return l;
    found = true;
    return { record: update(l.record) };
  });
  if (!found) out.push({ record: created() });
  return out;
}

/** Replace the record for rec.sitePackage in place, or append it. Returns a new list. */
export function upsertStatus(lines: StatusLine[], rec: StatusRecord): StatusLine[] {
  return updateStatus(lines, rec.sitePackage, () => ({ ...rec }), () => ({ ...rec }));
}

/**
 * A job started: LAST_TRIED=now, locked, PID=pid; the status is kept (it decides the next
 * timer until the job ends). A new record starts with status 0, as in the original.
 */
export function applyJobStart(lines: StatusLine[], sitePackage: string, now: number, pid: number): StatusLine[] {
  return updateStatus(
    lines,
    sitePackage,
    (r) => ({ ...r, lastTried: now, locked: true, pid: pid > 0 ? pid : r.pid }),
    () => ({ sitePackage, lastTried: now, status: 0, locked: true, pid }),
  );
}

/**
 * A job ended: LAST_TRIED=now, STATUS=waitStatus, unlocked; the pid is kept.
 * REPAIR: the original changed STATUS only when the new one was non-zero, so one failure
 * kept a package on its notok timer forever; here a success resets it to 0.
 */
export function applyJobEnd(lines: StatusLine[], sitePackage: string, now: number, waitStatus: number): StatusLine[] {
  return updateStatus(
    lines,
    sitePackage,
    (r) => ({ ...r, lastTried: now, status: waitStatus, locked: false }),
    // The original wrote an empty PID here, a line it could not read back; 0 is readable.
    () => ({ sitePackage, lastTried: now, status: waitStatus, locked: false, pid: 0 }),
  );
}

/**
 * Record the pid of a job whose start was written before its process existed. A missing
 * record is appended unlocked with LAST_TRIED 0 (never tried), so it changes no timer.
 */
export function applyPid(lines: StatusLine[], sitePackage: string, pid: number): StatusLine[] {
  return updateStatus(
    lines,
    sitePackage,
    (r) => ({ ...r, pid }),
    () => ({ sitePackage, lastTried: 0, status: 0, locked: false, pid }),
  );
}
