// /metrics of a real `omirr daemon --inspect` pair while it syncs: per-peer link state,
// outbox depth and lag (they move while a link is paused), files and bytes sent and
// received, a conflict made by writing one file on both sides of a paused link, scans
// by reason (a rescan asked for over the control socket); and `omirr inspect` finding
// the running daemons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, control, omirrSync, scrape, startInspected, until, type InspectedDaemon } from '../helpers/inspectorDaemons.js';

/** Polls /metrics until `ok` holds; returns that scrape. */
async function metricsUntil(url: string, what: string, ok: (m: Map<string, number>) => boolean): Promise<Map<string, number>> {
  let last = new Map<string, number>();
  try {
    return await until(async () => {
      last = await scrape(url);
      return ok(last) ? last : undefined;
    }, what, 20_000);
  } catch (err) {
    const shown = [...last].filter(([k]) => k.startsWith('omirr_') && !k.startsWith('omirr_mm_')).map(([k, v]) => `${k} ${v}`);
    throw new Error(`${(err as Error).message}\nlast scrape:\n${shown.join('\n')}`);
  }
}

const v = (m: Map<string, number>, key: string): number => m.get(key) ?? NaN;

test('daemon /metrics: links, outbox, lag, bytes and files both ways, conflicts, rescans; omirr inspect', async () => {
  const runtimeDir = mkdtempSync(join(tmpdir(), 'omirr-metrics-rt-'));
  const c = await Cluster.create(['a', 'b']);
  try {
    const [a, b] = (await Promise.all([startInspected(c, 'a', runtimeDir), startInspected(c, 'b', runtimeDir)])) as [InspectedDaemon, InspectedDaemon];

    // omirr inspect finds both daemons through the runtime directory
    const env = { OMIRR_RUNTIME_DIR: runtimeDir };
    const all = omirrSync(['inspect', '--all'], env);
    assert.equal(all.status, 0, all.stderr);
    const lines = all.stdout.trim().split('\n').sort();
    assert.deepEqual(lines, [`${a.url} ${a.proc.pid} daemon`, `${b.url} ${b.proc.pid} daemon`].sort());
    assert.equal(omirrSync(['inspect', '--pid', String(a.proc.pid)], env).stdout, `${a.url}\n`);
    const j = JSON.parse(omirrSync(['inspect', '--command', 'daemon', '--pid', String(b.proc.pid), '--json'], env).stdout) as { url: string; pid: number; command: string };
    assert.deepEqual([j.url, j.pid, j.command], [b.url, b.proc.pid, 'daemon']);
    assert.match(a.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

    await c.waitLive(['a', 'b']);
    let ma = await metricsUntil(a.url, 'a: link to b live, nothing sent yet', (m) => v(m, 'omirr_peer_state{peer="b",state="live"}') === 1);
    assert.equal(v(ma, 'omirr_peer_state{peer="b",state="backingOff"}'), 0);
    assert.equal(v(ma, 'omirr_outbox_depth{peer="b"}'), 0);
    assert.equal(v(ma, 'omirr_peer_lag_seconds{peer="b"}'), 0);
    assert.equal(v(ma, 'omirr_files_sent_total{peer="b"}'), 0);
    assert.equal(v(ma, 'omirr_bytes_received_total{peer="b"}'), 0);
    assert.equal(v(ma, 'omirr_conflicts_total{tree="data"}'), 0);
    assert.equal(v(ma, 'omirr_rescans_total{tree="data",reason="initial"}'), 1);

    // a sync: three files a -> b
    const sizes = [10_000, 20_000, 30_000];
    sizes.forEach((n, i) => writeFileSync(join(c.tree('a'), `f${i}.bin`), Buffer.alloc(n, i + 1)));
    await c.converge(['a', 'b']);
    const total = sizes.reduce((s, n) => s + n, 0);
    ma = await metricsUntil(a.url, 'a: 3 files sent to b', (m) => v(m, 'omirr_files_sent_total{peer="b"}') >= 3);
    assert.ok(v(ma, 'omirr_bytes_sent_total{peer="b"}') >= total, `bytes sent ${v(ma, 'omirr_bytes_sent_total{peer="b"}')} >= ${total}`);
    let mb = await metricsUntil(b.url, 'b: 3 files received from a', (m) => v(m, 'omirr_files_received_total{peer="a"}') >= 3);
    assert.ok(v(mb, 'omirr_bytes_received_total{peer="a"}') >= total, `bytes received ${v(mb, 'omirr_bytes_received_total{peer="a"}')} >= ${total}`);
    assert.equal(v(mb, 'omirr_files_sent_total{peer="a"}'), 0, 'b sent nothing');

    // partition: pause both directions; the outbox and lag of the paused link grow
    assert.equal(((await control<{ state: string }>(c, 'a', 'pause', { peer: 'b' })).state), 'paused');
    assert.equal(((await control<{ state: string }>(c, 'b', 'pause', { peer: 'a' })).state), 'paused');
    ma = await metricsUntil(a.url, 'a: link to b paused', (m) => v(m, 'omirr_peer_state{peer="b",state="paused"}') === 1);
    assert.equal(v(ma, 'omirr_peer_state{peer="b",state="live"}'), 0);
    writeFileSync(join(c.tree('a'), 'same.txt'), 'written on a\n');
    writeFileSync(join(c.tree('b'), 'same.txt'), 'written on b, longer\n');
    ma = await metricsUntil(a.url, 'a: the change waits in the outbox of b, lag grows', (m) => v(m, 'omirr_outbox_depth{peer="b"}') >= 1 && v(m, 'omirr_peer_lag_seconds{peer="b"}') > 0);
    await metricsUntil(b.url, "b: its change waits in a's outbox", (m) => v(m, 'omirr_outbox_depth{peer="a"}') >= 1);

    // resume: both versions meet, one side keeps the loser as a conflict copy
    await control(c, 'a', 'resume', { peer: 'b' });
    await control(c, 'b', 'resume', { peer: 'a' });
    // identical trees can be seen for a moment between the winner's placing and the loser's
    // keeping on the losing side: wait for the state the test asserts, not the first equal one
    const copies = (s: Record<string, string>): string[] => Object.keys(s).filter((p) => p.startsWith('same.omirr-conflict-'));
    let snap: Record<string, string> = {};
    await until(async () => {
      snap = await c.converge(['a', 'b']);
      return copies(snap).length > 0 ? snap : undefined;
    }, 'the conflict copy on both nodes');
    assert.equal(copies(snap).length, 1, `one conflict copy: ${Object.keys(snap).join(', ')}`);
    assert.equal(readdirSync(c.tree('a')).filter((p) => p.startsWith('same.')).length, 2);
    ma = await metricsUntil(a.url, 'a: caught up with b again', (m) => v(m, 'omirr_outbox_depth{peer="b"}') === 0 && v(m, 'omirr_peer_state{peer="b",state="live"}') === 1);
    assert.equal(v(ma, 'omirr_peer_lag_seconds{peer="b"}'), 0);
    mb = await scrape(b.url);
    const conflicts = v(ma, 'omirr_conflicts_total{tree="data"}') + v(mb, 'omirr_conflicts_total{tree="data"}');
    assert.ok(conflicts >= 1, `the losing side counted its conflict (a: ${v(ma, 'omirr_conflicts_total{tree="data"}')}, b: ${v(mb, 'omirr_conflicts_total{tree="data"}')})`);
    assert.ok(v(mb, 'omirr_files_sent_total{peer="a"}') >= 1, 'b sent its version of same.txt');

    // a rescan asked for over the control socket
    assert.deepEqual(await control(c, 'a', 'rescan', { tree: 'data' }), { tree: 'data' });
    await metricsUntil(a.url, 'a: one requested rescan', (m) => v(m, 'omirr_rescans_total{tree="data",reason="requested"}') === 1);
    await assert.rejects(control(c, 'a', 'rescan', { tree: 'nope' }), /no tree named 'nope'/);

    // every metric of the issue is published with its HELP and TYPE
    const text = await (await fetch(new URL('metrics', a.url))).text();
    for (const name of ['omirr_peer_lag_seconds', 'omirr_outbox_depth', 'omirr_peer_state', 'omirr_bytes_sent_total', 'omirr_bytes_received_total', 'omirr_files_sent_total', 'omirr_files_received_total', 'omirr_conflicts_total', 'omirr_rescans_total']) {
      assert.match(text, new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'));
    }

    assert.equal(await c.stop('a'), 0);
    assert.equal(await c.stop('b'), 0);
    // gone from `omirr inspect` with the processes
    assert.equal(omirrSync(['inspect'], env).status, 1);
  } finally {
    await c.close();
    rmSync(runtimeDir, { recursive: true, force: true });
  }
});
