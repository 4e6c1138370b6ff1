// Screenshots of the inspector showing the mm charts (docs/img/mm-job-chart.png and
// docs/img/mm-supervisor-chart.png, shown in docs/inspector.md): a real `omirr mm --inspect`
// run with two jobs whose mirror command waits, opened in headless Chromium.
// Usage: npm run build && node scripts/screenshot-mm-chart.mjs [OUTDIR]   (needs chromium)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = process.argv[2] ?? join(root, 'docs', 'img');
const exe = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
if (!exe) throw new Error('no chromium found');
const home = mkdtempSync(join(tmpdir(), 'omirr-mm-shot-'));
writeFileSync(join(home, 'mm.in'), ['max=1', 'mirror=exec sleep 30', 'www:site 0 0', 'ftp:pkgs 0 0', ''].join('\n'));
const mm = spawn(process.execPath, [join(root, 'bin', 'omirr.js'), 'mm', '-t', '--inspect', '127.0.0.1:0', 'mm.in'], { cwd: home, stdio: ['ignore', 'ignore', 'pipe'] });
let err = '';
const url = await new Promise((resolve, reject) => {
  mm.stderr.on('data', (d) => {
    err += d;
    const m = /inspector at (\S+)/.exec(err);
    if (m) resolve(m[1]);
  });
  mm.on('exit', (code) => reject(new Error(`mm exited ${code}: ${err}`)));
});
const browser = await chromium.launch({ executablePath: exe, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(url);
  const button = (label) => `button.actor:has(> .name:text-is("${label}"))`;
  mkdirSync(out, { recursive: true });
  for (const [label, file] of [['job www:site', 'mm-job-chart.png'], ['mm', 'mm-supervisor-chart.png']]) {
    await page.waitForSelector(button(label), { timeout: 15000 });
    await page.click(button(label));
    await page.waitForSelector('svg#chart text.edge-label', { timeout: 15000 });
    await page.screenshot({ path: join(out, file), fullPage: true });
    process.stdout.write(`${join(out, file)}\n`);
  }
} finally {
  await browser.close();
  mm.kill('SIGTERM');
  rmSync(home, { recursive: true, force: true });
}
