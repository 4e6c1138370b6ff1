// Where mirror 2.9 found `mirror.defaults`: the first directory of Perl's @INC holding it,
// after mirror put its own directory and then Debian's /etc/mirror in front. omirr looks
// in the same places, in the same order:
//   1. /etc/mirror                       (Debian's, searched first when it exists)
//   2. the current directory             (mirror's own directory under mm: its template
//                                         runs ./mirror from home, which is mm's cwd; and
//                                         perl of mirror's day had . in @INC)
//   3. $PERL5LIB's directories, else $PERLLIB's (perl's own search path, as the manual says)
//   4. the site-wide perl library directories of a Debian perl (/etc/perl,
//      /usr/local/lib/site_perl, /usr/local/share/perl/*, /usr/share/perl5)
// The file found is read in front of the package files, like mirror's splice.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const MIRROR_DEFAULTS_FILE = 'mirror.defaults';

export interface DefaultsSearch {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Replace the system directories (1 and 4), for tests. */
  systemDirs?: { debian: string; perl: string[] };
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function perlSiteDirs(): string[] {
  const dirs = ['/etc/perl', '/usr/local/lib/site_perl'];
  try {
    for (const v of readdirSync('/usr/local/share/perl')) dirs.push(join('/usr/local/share/perl', v));
  } catch {
    // not there
  }
  dirs.push('/usr/share/perl5');
  return dirs;
}

/** The directories searched, in order. */
export function mirrorDefaultsDirs(search: DefaultsSearch): string[] {
  const env = search.env ?? process.env;
  const debian = search.systemDirs?.debian ?? '/etc/mirror';
  const lib = (env.PERL5LIB ?? '') !== '' ? env.PERL5LIB! : env.PERLLIB ?? '';
  return [
    ...(isDir(debian) ? [debian] : []),
    search.cwd,
    ...lib.split(':').filter((d) => d !== '').map((d) => resolve(search.cwd, d)),
    ...(search.systemDirs?.perl ?? perlSiteDirs()),
  ];
}

/** The mirror.defaults mirror would have read, or undefined. */
export function findMirrorDefaults(search: DefaultsSearch): string | undefined {
  for (const dir of mirrorDefaultsDirs(search)) {
    const f = join(dir, MIRROR_DEFAULTS_FILE);
    try {
      if (existsSync(f) && statSync(f).isFile()) return f;
    } catch {
      // unreadable: keep looking, as perl's -f does
    }
  }
  return undefined;
}
