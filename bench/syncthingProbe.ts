// Syncthing as a comparison for `npm run bench:latency`: one instance per node (separate
// --home, keys from `syncthing generate`), a star like omirr's (the writer shares one folder
// with every peer), everything on 127.0.0.1 with ports picked free beforehand. The config is
// written whole so nothing is left at a default that reaches out: global and local discovery,
// relays, NAT/UPnP, STUN, usage reporting, crash reporting and upgrades are off; the GUI/REST
// API listens on 127.0.0.1 only (used to wait for the connections).
// Latency knob: the folder's fsWatcherDelayS (Syncthing's default is 10 s: changes seen by
// the watcher are aggregated that long before a scan) is set to its minimum, 1 s.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort, spawnTracked, stop, tempDir, removeDir } from './childGroup.js';
import { waitMirroring, type Mirror } from './latencyProbe.js';

export const SYNCTHING_DEFAULT_WATCH_DELAY_S = 10;
export const SYNCTHING_WATCH_DELAY_S = 1;
const FOLDER = 'omirr-bench';

interface Node {
  name: string;
  home: string;
  dir: string;
  id: string;
  port: number;
  gui: number;
  apikey: string;
  proc?: ChildProcess;
}

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

function config(me: Node, others: Node[]): string {
  const device = (n: Node): string =>
    `  <device id="${n.id}" name="${n.name}" compression="metadata" introducer="false">\n` +
    `    <address>${n === me ? 'dynamic' : `tcp://127.0.0.1:${n.port}`}</address>\n` +
    `    <autoAcceptFolders>false</autoAcceptFolders>\n  </device>`;
  return `<configuration version="36">
  <folder id="${FOLDER}" label="${FOLDER}" path="${xml(me.dir)}" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="true" fsWatcherDelayS="${SYNCTHING_WATCH_DELAY_S}" ignorePerms="false" autoNormalize="true">
    <filesystemType>basic</filesystemType>
${[me, ...others].map((n) => `    <device id="${n.id}"></device>`).join('\n')}
    <markerName>.stfolder</markerName>
  </folder>
${[me, ...others].map(device).join('\n')}
  <gui enabled="true" tls="false">
    <address>127.0.0.1:${me.gui}</address>
    <apikey>${me.apikey}</apikey>
  </gui>
  <options>
    <listenAddress>tcp://127.0.0.1:${me.port}</listenAddress>
    <globalAnnounceServer></globalAnnounceServer>
    <globalAnnounceEnabled>false</globalAnnounceEnabled>
    <localAnnounceEnabled>false</localAnnounceEnabled>
    <relaysEnabled>false</relaysEnabled>
    <natEnabled>false</natEnabled>
    <stunServer></stunServer>
    <stunKeepaliveStartS>0</stunKeepaliveStartS>
    <stunKeepaliveMinS>0</stunKeepaliveMinS>
    <announceLANAddresses>false</announceLANAddresses>
    <startBrowser>false</startBrowser>
    <urAccepted>-1</urAccepted>
    <urSeen>3</urSeen>
    <urURL></urURL>
    <crashReportingEnabled>false</crashReportingEnabled>
    <crashReportingURL></crashReportingURL>
    <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
    <releasesURL></releasesURL>
    <reconnectionIntervalS>1</reconnectionIntervalS>
    <setLowPriority>false</setLowPriority>
    <restartOnWakeup>false</restartOnWakeup>
  </options>
</configuration>
`;
}

const ENV = { ...process.env, STNOUPGRADE: '1', STNORESTART: '1', STNODEFAULTFOLDER: '1' };

async function api(n: Node, path: string): Promise<unknown> {
  const r = await fetch(`http://127.0.0.1:${n.gui}${path}`, { headers: { 'X-API-Key': n.apikey } });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

/** Polls the writer's REST API until it is connected to every peer. */
async function waitConnected(w: Node, peers: Node[], nodes: Node[], root: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    for (const n of nodes)
      if (n.proc!.exitCode !== null) throw new Error(`syncthing ${n.name} exited: ${readFileSync(join(root, `${n.name}.log`), 'utf8').slice(-2000)}`);
    try {
      const c = (await api(w, '/rest/system/connections')) as { connections: Record<string, { connected: boolean }> };
      if (peers.every((p) => c.connections[p.id]?.connected)) return;
    } catch {
      /* API not up yet */
    }
    if (performance.now() > deadline) throw new Error(`syncthing peers not connected in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startSyncthing(peers: number): Promise<Mirror> {
  const root = tempDir('omirr-bench-syncthing-');
  const nodes: Node[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(nodes.filter((n) => n.proc).map((n) => stop(n.proc!, 10_000)));
    removeDir(root);
  };
  try {
    for (const name of ['w', ...Array.from({ length: peers }, (_, i) => `p${i}`)]) {
      const home = join(root, `${name}.home`);
      const dir = join(root, name);
      mkdirSync(join(dir, '.stfolder'), { recursive: true });
      const g = spawnSync('syncthing', ['generate', `--home=${home}`, '--no-default-folder', '--skip-port-probing'], { env: ENV, encoding: 'utf8' });
      const out = `${g.stdout}${g.stderr}`; // the device ID line goes to stderr
      const id = /Device ID: (\S+)/.exec(out)?.[1];
      if (!id) throw new Error(`no device id from syncthing generate: ${out}`);
      nodes.push({ name, home, dir, id, port: await freePort(), gui: await freePort(), apikey: randomBytes(16).toString('hex') });
    }
    const [w, ...ps] = nodes as [Node, ...Node[]];
    writeFileSync(join(w.home, 'config.xml'), config(w, ps));
    for (const p of ps) writeFileSync(join(p.home, 'config.xml'), config(p, [w]));
    for (const n of nodes)
      n.proc = spawnTracked('syncthing', ['serve', `--home=${n.home}`, '--no-browser', '--no-restart', '--no-upgrade', '--no-default-folder'], join(root, `${n.name}.log`), ENV);
    await waitConnected(w, ps, nodes, root, 60_000);
    const m: Mirror = { writer: w.dir, peers: ps.map((p) => p.dir), close };
    await waitMirroring(m, 60_000);
    return m;
  } catch (e) {
    let log = '';
    try {
      log = readFileSync(join(root, 'w.log'), 'utf8').slice(-3000);
    } catch {
      /* not started */
    }
    await close();
    throw new Error(`${(e as Error).message}\n--- writer's syncthing log (tail) ---\n${log}`);
  }
}
