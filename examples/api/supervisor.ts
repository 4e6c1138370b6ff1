// A long-running mirror master from a configuration file: `startSupervisor` reads an
// omirr.conf (an mm input is one), starts the supervisor actor, and keeps the jobs going:
// when a job's retry timer fires, it runs again. Here we wait for every job's first
// success, print what each job actor went through, and stop.
//
//   node dist/examples/api/supervisor.js HOME
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSupervisor, type MmJobActorRef } from 'omirr';

const home = process.argv[2];
if (!home) {
  process.stderr.write('usage: supervisor.js HOME\n');
  process.exit(2);
}

for (const name of ['a', 'b']) {
  mkdirSync(join(home, 'upstream', name), { recursive: true });
  writeFileSync(join(home, 'upstream', name, `${name}.txt`), `package ${name}\n`);
}
mkdirSync(join(home, 'packages'), { recursive: true });
writeFileSync(
  join(home, 'packages', 'local'),
  ['package=a', '\tsite=./upstream', '\tremote_dir=a', '\tlocal_dir=mirror/a', '', 'package=b', '\tsite=./upstream', '\tremote_dir=b', '\tlocal_dir=mirror/b', ''].join('\n'),
);
// One file for everything: node-level keywords (node, listen, peer, tree) are the daemon's;
// the supervisor runs the mm statements.
const configFile = join(home, 'omirr.conf');
writeFileSync(configFile, ['node = example', `home = ${home}`, 'max = 1', 'local:a 24 1', 'local:b 24 1', ''].join('\n'));

const trace: Record<string, string[]> = {};
const succeeded = new Set<string>();
let allDone!: () => void;
const bothSucceeded = new Promise<void>((resolve) => (allDone = resolve));

const supervisor = startSupervisor(configFile, {
  onJobActor: (job: MmJobActorRef) => {
    const states: string[] = (trace[job.id] = []);
    job.subscribe((snap) => {
      states.push(JSON.stringify(snap.value));
      if (snap.value === 'succeeded') succeeded.add(job.id);
      if (succeeded.size === 2) allDone();
    });
  },
});
const timer = setTimeout(() => {
  process.stderr.write('supervisor example: jobs did not succeed within 30 s\n');
  process.exit(1);
}, 30_000);
await bothSucceeded;
clearTimeout(timer);

// Every job actor stays alive, waiting on its retry timer (24 h after a success).
const waiting = supervisor.jobs().map((j) => `${j.id}=${JSON.stringify(j.getSnapshot().value)}`);
const root = supervisor.actor.getSnapshot().value;
supervisor.stop();
process.stdout.write(JSON.stringify({ node: supervisor.config.node, root, waiting, trace }) + '\n');
