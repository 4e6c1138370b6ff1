// mm.status, the original's line format (pure): `site:package LAST_TRIED STATUS l|u PID`.
// Unparsable lines are kept verbatim, so a rewrite never loses them (the original truncated).
// STUB SIGNATURES: bodies are being implemented.

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

export function parseStatusFile(text: string): StatusLine[] {
  void text;
  throw new Error('not implemented');
}

export function formatStatusFile(lines: StatusLine[]): string {
  void lines;
  throw new Error('not implemented');
}

export function findStatus(lines: StatusLine[], sitePackage: string): StatusRecord | undefined {
  void lines;
  void sitePackage;
  throw new Error('not implemented');
}

/** Replace the record for rec.sitePackage in place, or append it. Returns a new list. */
export function upsertStatus(lines: StatusLine[], rec: StatusRecord): StatusLine[] {
  void lines;
  void rec;
  throw new Error('not implemented');
}
