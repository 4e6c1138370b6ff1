// User and group names to ids for mirror's user=/group= keywords, read from /etc/passwd and
// /etc/group (what getpwnam/getgrnam give on a plain system; Node has no binding for them).
import { readFileSync } from 'node:fs';

function lookup(file: string, name: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  return undefined;
}

export const lookupUser = (name: string): number | undefined => lookup('/etc/passwd', name);
export const lookupGroup = (name: string): number | undefined => lookup('/etc/group', name);
