// mirror 2.9's interactive mode (-G get, -P put): no package file is read (mirror.defaults
// neither: mirror spliced it into the list of files it then never interprets); one package
// named `interactive` runs, its transfer list taken from the command line as
// `local_dir remote_dir [pattern]`, repeated (mirror.pl, do_mirror: the third word is always
// taken as the pattern when there is one, so a second pair needs the first pattern spelled).
import { mirrorDefaults } from './mirrorKeywords.js';
import type { MirrorPackage } from './packageFile.js';

/** Perl dies (exit 255) on these, before anything is touched. */
export class InteractiveArgsError extends Error {
  override name = 'InteractiveArgsError';
}

/** The keywords each transfer of the list sets itself; a -k for them is ignored, as in mirror. */
export const INTERACTIVE_TRIPLE_KEYS = ['local_dir', 'remote_dir', 'get_patt'] as const;

/** `$interactive = $command_line{'interactive'}`: Perl truthiness of the raw -k text. */
export function perlTrue(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0';
}

/**
 * The `interactive` package, one per `local_dir remote_dir [pattern]` of `args` (mirror ran
 * them as one package's transfer list). The pattern defaults to get_patt's default.
 */
export function interactivePackages(args: string[]): MirrorPackage[] {
  const defaults = mirrorDefaults();
  const out: MirrorPackage[] = [];
  for (let i = 0; i < args.length; i += 3) {
    const [localDir, remoteDir, patt] = args.slice(i, i + 3);
    if (remoteDir === undefined) throw new InteractiveArgsError('remote directory must be specified');
    const loc = { file: '(command line)', line: 0 };
    out.push({
      name: 'interactive',
      loc,
      values: { ...defaults, local_dir: localDir!, remote_dir: remoteDir, get_patt: patt ?? defaults.get_patt! },
      locs: { local_dir: loc, remote_dir: loc, get_patt: loc },
    });
  }
  return out;
}
