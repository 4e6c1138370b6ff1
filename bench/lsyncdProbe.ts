// lsyncd as a comparison for `npm run bench:latency`: one lsyncd process, one
// `sync { default.rsync ... }` per peer (all watching the same source), local target
// directories, `delay = 0` (its default is 15 s of aggregation; 0 starts rsync on the first
// event). lsyncd is ONE-WAY (source -> targets): it is measured here only in the writer ->
// peers direction, which is all the probe does; it does not mirror peers' writes back.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnTracked, stop, tempDir, removeDir } from './childGroup.js';
import { waitMirroring, type Mirror } from './latencyProbe.js';

const lua = (s: string): string => JSON.stringify(s); // a JSON string is a valid Lua string here (plain paths)

export async function startLsyncd(peers: number): Promise<Mirror> {
  const root = tempDir('omirr-bench-lsyncd-');
  const writer = join(root, 'src');
  const targets = Array.from({ length: peers }, (_, i) => join(root, `p${i}`));
  for (const d of [writer, ...targets]) mkdirSync(d);
  const conf = join(root, 'lsyncd.lua');
  writeFileSync(
    conf,
    [
      `settings { nodaemon = true, logfile = ${lua(join(root, 'lsyncd.log'))}, statusFile = ${lua(join(root, 'lsyncd.status'))}, insist = false }`,
      ...targets.map((t) => `sync { default.rsync, source = ${lua(writer)}, target = ${lua(t)}, delay = 0 }`),
      '',
    ].join('\n'),
  );
  const out = join(root, 'lsyncd.out');
  const proc = spawnTracked('lsyncd', [conf], out);
  const m: Mirror = {
    writer,
    peers: targets,
    close: async () => {
      await stop(proc);
      removeDir(root);
    },
  };
  try {
    // lsyncd first rsyncs the whole (empty) source, then watches: a marker file arriving
    // everywhere means both are done.
    const died = new Promise<never>((_r, reject) =>
      proc.once('exit', (code) => reject(new Error(`lsyncd exited (${code}): ${readFileSync(out, 'utf8').slice(-2000)}`))),
    );
    await Promise.race([waitMirroring(m, 60_000), died]);
    died.catch(() => {}); // exits later, at close, are expected
    return m;
  } catch (e) {
    await m.close();
    throw e;
  }
}
