// Mirror one tree into another, as `omirr sync SRC DST` does, from a program: the result
// says what moved, and a progress callback sees every phase. Run it twice: the second run
// finds nothing to do.
//
//   node dist/examples/api/mirror-tree.js SRC DST      (prints a JSON summary on stdout)
import { mirrorTree, closePools, type Progress } from 'omirr';

const [src, dst] = process.argv.slice(2);
if (!src || !dst) {
  process.stderr.write('usage: mirror-tree.js SRC DST\n');
  process.exit(2);
}

const phases = new Set<string>();
try {
  const r = await mirrorTree(src, dst, {
    delete: true, // like rsync --delete: DST ends up exactly like SRC
    exclude: ['*.tmp'], // rsync-style patterns (or a (path, kind) => boolean predicate)
    onProgress: (p: Progress) => phases.add(p.phase),
  });
  process.stdout.write(
    JSON.stringify({ ok: r.ok, filesSent: r.filesSent, bytesSent: r.bytesSent, deleted: r.deleted, scanned: r.scanned, phases: [...phases] }) + '\n',
  );
  process.exitCode = r.ok ? 0 : 1;
} finally {
  // The hashing and tar worker threads stay up for the next call until closed.
  await closePools();
}
