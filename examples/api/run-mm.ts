// One mirror-master run, as `omirr mm mm.in` does: every due site:package job once, at most
// `max` at once, with the built-in mirror. Each job is an actor; `onJobActor` hands it over
// before it starts, so a subscriber sees every state it goes through.
//
//   node dist/examples/api/run-mm.js HOME
// HOME must hold the mm input's world: here the example writes it itself (an upstream
// directory, a mirror package file), then runs, then prints the results as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMm, type MmJobActorRef } from 'omirr';

const home = process.argv[2];
if (!home) {
  process.stderr.write('usage: run-mm.js HOME\n');
  process.exit(2);
}

// The "site" upstream is a local directory; the package file says what to fetch from it.
mkdirSync(join(home, 'upstream', 'docs'), { recursive: true });
writeFileSync(join(home, 'upstream', 'docs', 'index.html'), '<h1>hello from upstream</h1>\n');
mkdirSync(join(home, 'packages'), { recursive: true });
writeFileSync(
  join(home, 'packages', 'upstream'),
  ['package=docs', '\tsite=./upstream', '\tremote_dir=docs', '\tlocal_dir=mirror/docs', ''].join('\n'),
);

const trace: Record<string, string[]> = {};
const result = await runMm({
  home,
  inputs: [{ name: 'example.in', text: 'max=2\nupstream:docs 24 1\n' }],
  onJobActor: (job: MmJobActorRef) => {
    const states: string[] = (trace[job.id] = []);
    job.subscribe((snap) => states.push(JSON.stringify(snap.value)));
  },
});

process.stdout.write(
  JSON.stringify({
    exitCode: result.exitCode,
    results: result.results.map((r) => ({ job: r.sitePackage, outcome: r.outcome, waitStatus: r.waitStatus })),
    trace,
  }) + '\n',
);
process.exitCode = result.exitCode;
