// Run mirror 2.9 package files with the built-in engine, as `omirr mirror` does: here one
// package whose site is a local directory, so the example needs no network. Each package
// gets a PackageResult (files got, bytes, deletions, failures); the run's exitCode is the
// worst of them, as mirror's is. Run it twice: the second run gets nothing.
//
//   node dist/examples/api/run-mirror.js HOME      (HOME: an empty directory)
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMirror, closePools } from 'omirr';

const home = process.argv[2];
if (!home) {
  process.stderr.write('usage: run-mirror.js HOME\n');
  process.exit(2);
}

// The "remote" site: a local directory (a site starting with . or / is a path), made on the
// first run only, so that a second run finds nothing new.
if (!existsSync(join(home, 'upstream'))) {
  mkdirSync(join(home, 'upstream', 'docs', 'guide'), { recursive: true });
  writeFileSync(join(home, 'upstream', 'docs', 'index.html'), '<p>mirrored by runMirror</p>\n');
  writeFileSync(join(home, 'upstream', 'docs', 'guide', 'intro.txt'), 'one package, one directory\n');
  writeFileSync(join(home, 'upstream', 'docs', 'scratch.tmp'), 'excluded by exclude_patt\n');
}

const lines: string[] = [];
try {
  const r = await runMirror({
    // A package file's text; `files: ['packages/upstream']` reads files instead.
    texts: [
      {
        file: 'packages/upstream',
        text: ['package=docs', '\tsite=./upstream', '\tremote_dir=docs', '\tlocal_dir=mirror/docs', '\texclude_patt=\\.tmp$', ''].join('\n'),
      },
    ],
    cwd: home, // relative local_dir and site paths resolve here
    out: (line) => lines.push(line), // mirror's report lines
  });
  process.stdout.write(
    JSON.stringify({
      exitCode: r.exitCode,
      packages: r.packages.map((p) => ({ name: p.name, status: p.status, filesGot: p.filesGot, failed: p.failed.length })),
      reported: lines.length > 0,
    }) + '\n',
  );
  process.exitCode = r.exitCode;
} finally {
  await closePools();
}
