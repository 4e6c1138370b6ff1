// mm's command template (pure): `mirror=` lines set it; each job's command is the template
// with $args, $site, $package and $pkg substituted, in that order, by plain global text
// replacement, exactly as mm.pl did. See docs/mm-input.md ("The mirror template").

/** mm.pl 2.9's default template (for reference and docs; omirr's default is below). */
export const ORIGINAL_MIRROR_TEMPLATE = "exec ./mirror $args -p'$package' packages/$site > logs/$site:$pkg 2>&1";

/**
 * omirr's default: the built-in mirror, through the given (already shell-quoted) command
 * that starts omirr. Unlike the original there is no `> logs/...` redirection: the job
 * runner captures the output into logs/<site>:<pkg> itself (and creates logs/).
 */
export function defaultMirrorTemplate(omirrCommand: string): string {
  return `exec ${omirrCommand} mirror $args -p'$package' packages/$site`;
}

/** $pkg: the package with whitespace, '/' and "'" replaced by '_' (mm.pl's fix_package). */
export function pkgFileName(pkg: string): string {
  return pkg.replace(/[\s/']/g, '_');
}

export interface TemplateValues {
  /** The job line's mirror-args and mm's pass-through args, already joined (see jobArgs). */
  args: string;
  site: string;
  pkg: string;
}

/** Replace every occurrence of `from` by `to`, literally (no `$&` patterns in `to`). */
function replaceAllLiteral(s: string, from: string, to: string): string {
  return s.split(from).join(to);
}

/**
 * Substitute in the original's order. Each replacement sees the previous ones' output,
 * so a `$site` inside the args is expanded too, as it was in mm. `$package` goes before
 * `$pkg`; `$pkg` is not a prefix of `$package`, so neither can clobber the other.
 */
export function expandTemplate(template: string, v: TemplateValues): string {
  let cmd = replaceAllLiteral(template, '$args', v.args);
  cmd = replaceAllLiteral(cmd, '$site', v.site);
  cmd = replaceAllLiteral(cmd, '$package', v.pkg);
  cmd = replaceAllLiteral(cmd, '$pkg', pkgFileName(v.pkg));
  return cmd;
}

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote s for /bin/sh when it needs it (words of plain characters are left alone). */
export function shellQuote(s: string): string {
  if (SHELL_SAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * `$args` for a job: the line's mirror-args, then mm's pass-through arguments. The original
 * appended those raw (`"$args $extra_args"`), so an argument with a space split in two; we
 * shell-quote each one that needs it. The line's own args are shell text and stay as written.
 */
export function jobArgs(lineArgs: string, extraArgs: readonly string[]): string {
  return [lineArgs, ...extraArgs.map(shellQuote)].filter((s) => s !== '').join(' ');
}
