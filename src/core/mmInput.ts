// mm's input language, parsed (pure). Statements are returned in order; the supervisor
// obeys them in order while "reading". See docs/mm.md and shared reference §2.2.
// STUB SIGNATURES: bodies are being implemented.

export interface SourceLoc {
  file: string;
  line: number;
}

export interface MmDiagnostic {
  loc: SourceLoc;
  message: string;
}

export type MmStatement =
  | { kind: 'home'; dir: string; loc: SourceLoc }
  | { kind: 'max'; max: number; loc: SourceLoc }
  | { kind: 'mirror'; template: string; loc: SourceLoc }
  | { kind: 'cmd'; command: string; loc: SourceLoc }
  | { kind: 'cmdin'; command: string; loc: SourceLoc }
  | { kind: 'skip'; sitePackage: string; loc: SourceLoc }
  | {
      kind: 'job';
      site: string;
      pkg: string;
      okHours: number;
      notokHours: number;
      /** The line's mirror-args (may be ''). */
      args: string;
      loc: SourceLoc;
    };

export type MmJobStatement = Extract<MmStatement, { kind: 'job' }>;

export interface MmParseResult {
  statements: MmStatement[];
  /** Unparsable lines ("Cannot parse, so skipping"), each naming file:line. */
  warnings: MmDiagnostic[];
}

/** Parse one input text (a file, stdin, or a cmdin command's output). EXIT ends it. */
export function parseMmInput(text: string, file: string): MmParseResult {
  void text;
  void file;
  throw new Error('not implemented');
}

/** `file:line: message`, the form every diagnostic is printed in. */
export function formatDiagnostic(d: MmDiagnostic): string {
  return `${d.loc.file}:${d.loc.line}: ${d.message}`;
}
