// rsync-style --exclude patterns, compiled to the planner's exclude predicate.
// A pattern without '/' matches a name at any depth; with a leading '/' it is anchored at
// the root; other '/'s match against the whole path from the root. A trailing '/' matches
// directories only. '*' and '?' do not cross '/', '**' does, '[...]' is a class.
// The planner hides an excluded directory's whole subtree.
import type { Entry } from '../core/entry.js';

function globToRegex(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return re;
}

export function compileExcludes(patterns: string[]): ((path: string, kind: Entry['kind']) => boolean) | undefined {
  if (patterns.length === 0) return undefined;
  const rules = patterns.map((raw) => {
    let p = raw;
    const dirOnly = p.endsWith('/');
    if (dirOnly) p = p.replace(/\/+$/, '');
    const anchored = p.startsWith('/') || p.includes('/');
    p = p.replace(/^\/+/, '');
    const body = globToRegex(p);
    return { dirOnly, re: new RegExp(anchored ? `^${body}$` : `(^|/)${body}$`) };
  });
  return (path, kind) => rules.some((r) => (!r.dirOnly || kind === 'dir') && r.re.test(path));
}
