// A stand-in process for the browser test until `omirr daemon --inspect` exists:
// runs the demo supervisor with two peer links behind the same options the daemon and
// mm get (addInspectOptions / startCliInspect), prints {"url": ...} on stdout, then
// takes commands on stdin, one per line:
//   <peer> <EVENT>   e.g. "alpha CONNECTED", "beta STOP"
//   shutdown
// It exits when stdin closes.
//   node dist/test/helpers/inspectorDemo.js --inspect [host:port] [--inspect-url-file f]
import { createActor } from 'xstate';
import * as readline from 'node:readline';
import { Command } from 'commander';
import { addInspectOptions, startCliInspect, type InspectCliOptions } from '../../src/inspect/cliInspect.js';
import { recordJobRun, setPeerState } from '../../src/inspect/omirrMetrics.js';
import { silentLogger } from '../../src/log.js';
import { demoSupervisor } from './inspectDemoMachines.js';

const program = addInspectOptions(new Command('inspector-demo'));
program.parse(process.argv);
const insp = await startCliInspect(program.opts<InspectCliOptions>(), { log: silentLogger, command: 'demo' });
const sup = createActor(demoSupervisor, { inspect: insp.inspect });
sup.start();
recordJobRun(insp.m, 'site:pkg', 'succeeded', 12.5, 1_700_000_000_000);
process.stdout.write(JSON.stringify({ url: insp.url, pid: process.pid }) + '\n');

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [peer, ev] = line.trim().split(/\s+/);
  if (peer === 'shutdown') sup.send({ type: 'SHUTDOWN' });
  else if (peer && (ev === 'CONNECTED' || ev === 'LOST' || ev === 'STOP')) {
    sup.send({ type: 'TO_PEER', peer, event: { type: ev } });
    setPeerState(insp.m, peer, ev, ['CONNECTED', 'LOST', 'STOP']);
  }
  process.stdout.write(JSON.stringify({ ok: line }) + '\n');
});
rl.on('close', async () => {
  sup.stop();
  await insp.close();
  process.exit(0);
});
