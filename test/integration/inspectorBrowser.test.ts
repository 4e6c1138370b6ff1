// The inspector page of a real `omirr daemon --inspect` with two peers, in a real
// (headless) Chromium: the actor tree lists the supervisor, both peer links and the tree;
// a peer link's chart is drawn as SVG with all its states and the current one lit; the
// lit state follows the link when its peer daemon is stopped (SIGTERM). Every request
// the page makes must go to the inspected daemon (nothing from a CDN). Saves a screenshot:
// to docs/img/inspector.png with OMIRR_UPDATE_SCREENSHOT=1 (so a test run does not dirty the
// checkout), else to the temp dir. Skips when no Chromium is installed (.ci/run installs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../helpers/daemonFixtures.js';
import { Cluster, startInspected } from '../helpers/inspectorDaemons.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => fs.existsSync(p));
const WAIT = { timeout: 15_000 };

const actorButton = (name: string): string => `button.actor:has(> .name:text-is("${name}"))`;

async function activeStates(page: Page): Promise<string[]> {
  return page.$$eval('svg#chart g[data-state-id] rect.state.active', (rects) =>
    rects.map((r) => (r.parentNode as unknown as { getAttribute(n: string): string | null }).getAttribute('data-state-id') ?? '').sort(),
  );
}

test('inspector page of a daemon with two peers: actor tree, peer link chart, lit state follows a stopped peer', { skip: CHROMIUM ? false : 'no chromium installed' }, async () => {
  const runtimeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omirr-inspect-rt-'));
  const c = await Cluster.create(['hub', 'north', 'south'], { links: [['hub', 'north'], ['hub', 'south']] });
  let browser: Browser | undefined;
  try {
    await Promise.all([c.start('north'), c.start('south')]);
    const hub = await startInspected(c, 'hub', runtimeDir);
    await c.waitLive(['hub']);

    browser = await chromium.launch({
      executablePath: CHROMIUM!,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 }, deviceScaleFactor: 1 });
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(hub.url)) foreign.push(r.url());
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(hub.url);

    // the tree: the supervisor, with both peer links and the tree actor under it
    await page.waitForSelector(actorButton('daemon'), WAIT);
    for (const name of ['peer north', 'peer south', 'tree data']) await page.waitForSelector(`${actorButton('daemon')} + ul ${actorButton(name)}`, WAIT);
    // each live link shows its state, and its session under it
    await page.waitForSelector(`${actorButton('peer north')} .value:text-is("online.live")`, WAIT);
    await page.waitForSelector(`${actorButton('peer south')} .value:text-is("online.live")`, WAIT);
    await page.waitForSelector(`${actorButton('peer north')} + ul ${actorButton('session')}`, WAIT);

    // selecting a peer link draws its whole chart with the current state lit
    await page.click(actorButton('peer north'));
    await page.waitForSelector('svg#chart g[data-state-id="peerLink.online.live"] rect.state.active', WAIT);
    const drawn = await page.$$eval('svg#chart g[data-state-id]', (gs) => gs.map((g) => g.getAttribute('data-state-id')));
    for (const s of ['peerLink', 'peerLink.start', 'peerLink.online', 'peerLink.online.connecting', 'peerLink.online.handshaking', 'peerLink.online.catchingUp', 'peerLink.online.live', 'peerLink.backingOff', 'peerLink.paused']) {
      assert.ok(drawn.includes(s), `state ${s} drawn (got ${drawn.join(', ')})`);
    }
    const labels = await page.$$eval('svg#chart text.edge-label', (ts) => ts.map((t) => t.textContent));
    for (const l of ['CONN.LOST', 'CONN.OPENED', 'CONN.HANDSHAKEN', 'RESUME', 'RETRY_NOW', 'after backoff']) assert.ok(labels.includes(l), `edge label ${l} (got ${labels.join(' | ')})`);
    assert.deepEqual(await activeStates(page), ['peerLink', 'peerLink.online', 'peerLink.online.live']);
    assert.match((await page.textContent('#actor-title')) ?? '', /peer north/);

    // a change goes out: the link's events and context follow
    fs.writeFileSync(path.join(c.tree('hub'), 'hello.txt'), 'hello, north and south\n');
    await c.converge(['hub', 'north', 'south']);
    // the sent counts ride on the outbox figures' event (forwardOutboxStats)
    await page.waitForSelector('#events .event >> text=OUTBOX.CHANGED', WAIT);
    // on a timeout, the context the page shows says what it counted instead (this timed
    // out once under load, cause unknown: the message is there to find it)
    await page.waitForSelector('#context >> text=/"filesSent": 1\\b/', WAIT).catch(async (err: Error) => {
      throw new Error(`${err.message}\ncontext shown: ${(await page.textContent('#context'))?.slice(0, 2000)}`);
    });
    const shot = process.env.OMIRR_UPDATE_SCREENSHOT ? path.join(repoRoot, 'docs/img/inspector.png') : path.join(os.tmpdir(), 'omirr-inspector.png');
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await page.screenshot({ path: shot });
    assert.ok(fs.statSync(shot).size > 10_000, 'a screenshot with something on it');

    // the peer goes away: the link leaves live for backingOff (then connecting, and so on)
    assert.equal(await c.stop('north'), 0);
    const lit = (id: string): string => `svg#chart g[data-state-id="${id}"] rect.state.active`;
    await page.waitForSelector(lit('peerLink.online.live'), { ...WAIT, state: 'detached' });
    await page.waitForSelector(`${lit('peerLink.backingOff')}, ${lit('peerLink.online.connecting')}`, WAIT);
    await page.waitForSelector('#events .event >> text=CONN.LOST', WAIT);
    // the other link is not affected
    await page.waitForSelector(`${actorButton('peer south')} .value:text-is("online.live")`, WAIT);

    assert.deepEqual(foreign, [], 'the page requested nothing outside the inspected daemon');
    assert.deepEqual(pageErrors, [], 'no script errors on the page');
  } finally {
    await browser?.close();
    await c.close();
    fs.rmSync(runtimeDir, { recursive: true, force: true });
  }
});
