// The inspector page in a real (headless) Chromium: the actor tree lists the peer
// links, a peer link's chart is drawn as SVG, and the lit state follows the actor
// when it connects and when it is stopped. Every request the page makes must go to
// the inspected process (nothing from a CDN). Saves docs/img/inspector.png.
// Skips when no Chromium is installed (.ci/run installs Debian's chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const runtimeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omirr-inspect-rt-'));
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => fs.existsSync(p));

async function startDemo(): Promise<{ child: ChildProcessWithoutNullStreams; url: string; lines: AsyncIterator<string> }> {
  const child = spawn(process.execPath, [path.join(root, 'dist/test/helpers/inspectorDemo.js'), '--inspect', '127.0.0.1:0'], { stdio: 'pipe', env: { ...process.env, OMIRR_RUNTIME_DIR: runtimeDir } });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const first = await Promise.race([
    lines.next(),
    new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error('demo did not print its URL within 15 s')), 15_000);
    }),
  ]).finally(() => clearTimeout(timer));
  const { url } = JSON.parse(first.value as string) as { url: string };
  return { child, url, lines };
}

async function command(demo: { child: ChildProcessWithoutNullStreams; lines: AsyncIterator<string> }, line: string): Promise<void> {
  demo.child.stdin.write(line + '\n');
  await demo.lines.next(); // the demo acknowledges each line once the event was sent
}

async function activeStates(page: Page): Promise<string[]> {
  return page.$$eval('svg#chart g[data-state-id] rect.state.active', (rects) => rects.map((r) => (r.parentNode as unknown as { getAttribute(n: string): string | null }).getAttribute('data-state-id') ?? ''));
}

async function waitActive(page: Page, stateId: string): Promise<void> {
  await page.waitForSelector(`svg#chart g[data-state-id="${stateId}"] rect.state.active`, { timeout: 10_000 });
}

test('inspector page: actor tree, chart, live lit state', { skip: CHROMIUM ? false : 'no chromium installed' }, async () => {
  const demo = await startDemo();
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM!,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(demo.url)) foreign.push(r.url());
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(demo.url);

    // the tree lists the supervisor and both peer links, nested under it
    await page.waitForSelector('button.actor[title] >> text=peer:alpha', { timeout: 10_000 });
    await page.waitForSelector('button.actor >> text=peer:beta');
    const nested = await page.$$eval('ul.tree li ul button.actor .name', (els) => els.map((e) => e.textContent));
    assert.ok(nested.includes('peer:alpha') && nested.includes('peer:beta'), `peer links nested under the supervisor: ${nested.join(', ')}`);

    // selecting a peer link draws its whole chart with the current state lit
    await page.click('button.actor >> text=peer:alpha');
    await waitActive(page, 'demoPeerLink.connecting');
    const drawn = await page.$$eval('svg#chart g[data-state-id]', (gs) => gs.map((g) => g.getAttribute('data-state-id')));
    for (const s of ['demoPeerLink', 'demoPeerLink.connecting', 'demoPeerLink.connected', 'demoPeerLink.connected.idle', 'demoPeerLink.connected.sending', 'demoPeerLink.backoff', 'demoPeerLink.stopped']) {
      assert.ok(drawn.includes(s), `state ${s} drawn (got ${drawn.join(', ')})`);
    }
    const labels = await page.$$eval('svg#chart text.edge-label', (ts) => ts.map((t) => t.textContent));
    for (const l of ['CONNECTED', 'LOST', 'STOP', 'after 10s', 'after retryDelay', 'always [hasOutbox]']) assert.ok(labels.includes(l), `edge label ${l} (got ${labels.join(' | ')})`);
    assert.ok((await page.textContent('#timers'))?.includes('after 10s'), 'the pending 10 s timer is shown');

    // the lit state follows the actor
    await command(demo, 'alpha CONNECTED');
    await waitActive(page, 'demoPeerLink.connected.idle');
    assert.deepEqual((await activeStates(page)).sort(), ['demoPeerLink', 'demoPeerLink.connected', 'demoPeerLink.connected.idle']);
    await page.waitForSelector('#events .event >> text=CONNECTED');
    fs.mkdirSync(path.join(root, 'docs/img'), { recursive: true });
    await page.screenshot({ path: path.join(root, 'docs/img/inspector.png'), fullPage: true });

    // stopping the peer lights its final state and marks it ended in the tree
    await command(demo, 'alpha STOP');
    await waitActive(page, 'demoPeerLink.stopped');
    assert.ok(!(await activeStates(page)).includes('demoPeerLink.connected'), 'connected no longer lit');
    await page.waitForSelector('button.actor.ended >> text=peer:alpha', { timeout: 10_000 });

    assert.deepEqual(foreign, [], 'the page requested nothing outside the inspected process');
    assert.deepEqual(pageErrors, [], 'no script errors on the page');
  } finally {
    await browser?.close();
    demo.child.stdin.end();
    await new Promise((r) => (demo.child.exitCode !== null ? r(null) : demo.child.once('exit', r)));
    fs.rmSync(runtimeDir, { recursive: true, force: true });
  }
});
