// pkgs_to_mmin (pure): mirror package files in, mm job lines out (`FILE:PACKAGE Y N`).
// A line-by-line port of pkgs_to_mmin.pl 2.9, quirks included; see docs/pkgs-to-mmin.md.

export interface PkgsToMminOptions {
  /** min-restart-last-ok hours written on every line (default 8). */
  yes?: number;
  /** min-restart-last-notok hours written on every line (default 8). */
  no?: number;
}

export const PKGS_TO_MMIN_DEFAULT_HOURS = 8;

/** Perl's truth for a string: '' and '0' are false (so `package=0` is never emitted). */
function perlTrue(s: string | undefined): s is string {
  return s !== undefined && s !== '' && s !== '0';
}

/** `s,.*\/,,`: the file name without its directory. */
function baseName(name: string): string {
  return name.replace(/^.*\//s, '');
}

/**
 * Files are read in order as one stream, like Perl's `<>`; state carries over between them:
 * - before a line is looked at, the pending package is emitted (if a site is known) when the
 *   line is blank or is the LAST line of its file; so a `package=` on a file's last line is
 *   emitted at the next file's first flush, under that next file's name;
 * - `package=NAME` emits the pending package first, then NAME (trimmed) is pending
 *   (`defaults` included);
 * - `site=VALUE` remembers a site; it is never reset, so it carries into later packages and
 *   files (its value is never printed: the FILE name is the mm "site");
 * - `skip=` (no space before '=') drops the pending package;
 * - everything else is ignored.
 */
export function pkgsToMmin(files: Array<{ name: string; text: string }>, opts: PkgsToMminOptions = {}): string[] {
  const yes = opts.yes ?? PKGS_TO_MMIN_DEFAULT_HOURS;
  const no = opts.no ?? PKGS_TO_MMIN_DEFAULT_HOURS;
  const out: string[] = [];
  let pkg = '';
  let site: string | undefined;

  for (const f of files) {
    const file = baseName(f.name);
    const pr = (): void => {
      if (!perlTrue(pkg) || !perlTrue(site)) return;
      out.push(`${file}:${pkg} ${yes} ${no}`);
      pkg = '';
    };

    const lines = f.text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop(); // a final newline ends the last line
    lines.forEach((raw, i) => {
      // Strip CR of a CRLF file: mirror's package files are Unix text.
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (i === lines.length - 1 || /^\s*$/.test(line)) pr();
      let m: RegExpExecArray | null;
      if ((m = /^\s*package\s*=(.*)$/s.exec(line))) {
        if (perlTrue(pkg)) pr();
        pkg = m[1]!.trim();
      } else if ((m = /^\s*site\s*=(.*)$/s.exec(line))) {
        site = m[1]!;
      } else if (/^\s*skip=/.test(line)) {
        pkg = '';
      }
    });
  }
  return out;
}
