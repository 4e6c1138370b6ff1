// `omirr mm` end to end: the real CLI, with small shell scripts as the mirror command.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStatusFile } from '../../src/core/mmStatus.js';
import {
  makeHome,
  removeHome,
  writeRecorder,
  writeScript,
  readIntervals,
  maxOverlap,
  runCli,
  startCli,
  waitUntil,
  readStatusLines,
} from '../helpers/mmWorld.js';

const TEMPLATE = "mirror=exec ./recorder.sh $site '$package' $args";

function withHome(fn: (home: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const home = makeHome();
    writeRecorder(home);
    try {
      await fn(home);
    } finally {
      removeHome(home);
    }
  };
}

function statusOf(home: string) {
  const lines = parseStatusFile(readFileSync(join(home, 'mm.status'), 'utf8'));
  for (const l of lines) assert.ok('record' in l, `well-formed status line: ${JSON.stringify(l)}`);
  return Object.fromEntries(lines.map((l) => ('record' in l ? [l.record.sitePackage, l.record] : ['', undefined])));
}

// Every case has its own mm home: three run at a time.
describe('omirr mm', { concurrency: 3 }, () => {
  test(
    'never more than max at once; logs/<site>:<pkg> hold each output; mm.status written',
    withHome(async (home) => {
      const jobs = Array.from({ length: 7 }, (_, i) => `site${i % 2}:pkg ${i} 0 0`);
      writeFileSync(join(home, 'mm.in'), ['max=3', TEMPLATE, ...jobs, ''].join('\n'));
      // the jobs wait at a gate until the test opens it: max=3 is surely reached (three held
      // at once, however loaded the machine), and a fourth start meanwhile would exceed it
      const run = startCli(['mm', 'mm.in'], { cwd: home, env: { GATE: '1' } });
      const starts = () => (existsSync(join(home, 'events.log')) ? readFileSync(join(home, 'events.log'), 'utf8').split('\n').filter((l) => / start /.test(l)).length : 0);
      await waitUntil(() => starts() >= 3, 30_000, 'three jobs running');
      mkdirSync(join(home, 'release'));
      assert.equal(starts(), 3, 'no fourth job while three run');
      for (const site of ['site0', 'site1']) writeFileSync(join(home, 'release', site), '');
      const r = await run.done;
      assert.equal(r.code, 0, r.stderr);
      const iv = readIntervals(home);
      assert.equal(iv.length, 7);
      assert.equal(maxOverlap(iv), 3, 'max=3 reached and never exceeded');
      for (let i = 0; i < 7; i++) {
        // $pkg: the space in "pkg N" becomes '_'
        const log = readFileSync(join(home, 'logs', `site${i % 2}:pkg_${i}`), 'utf8');
        assert.equal(log, `running site${i % 2}:pkg ${i} args=\n`);
      }
      const st = statusOf(home);
      assert.equal(Object.keys(st).length, 7);
      for (const rec of Object.values(st)) {
        assert.equal(rec!.status, 0);
        assert.equal(rec!.locked, false);
      }
    }),
  );

  test(
    'cmd runs only after every earlier job ended; later jobs after it',
    withHome(async (home) => {
      writeFileSync(
        join(home, 'mm.in'),
        [
          TEMPLATE,
          'a:slow 0 0',
          'a:fast 0 0',
          'cmd=echo "cmd:barrier start $(date +%s%N) $$" >> events.log; echo "cmd:barrier end $(date +%s%N) $$" >> events.log',
          'b:later 0 0',
          '',
        ].join('\n'),
      );
      const r = await runCli(['mm', 'mm.in'], { cwd: home, env: { SLEEP: '0.4' } });
      assert.equal(r.code, 0, r.stderr);
      const iv = readIntervals(home);
      const cmd = iv.find((i) => i.sp === 'cmd:barrier')!;
      assert.ok(cmd);
      for (const j of iv.filter((i) => i.sp.startsWith('a:'))) assert.ok(j.end <= cmd.start, `${j.sp} ended before cmd`);
      assert.ok(iv.find((i) => i.sp === 'b:later')!.start >= cmd.end);
    }),
  );

  test(
    'cmdin output is obeyed in place, its bad lines named cmdin(file:line):line',
    withHome(async (home) => {
      writeScript(home, 'gen.sh', 'echo "max=1"; echo "g:one 0 0"; echo "this is not a job"; echo "g:two 0 0 --flag"');
      writeFileSync(join(home, 'mm.in'), [TEMPLATE, 'cmdin=./gen.sh', 'g:one 0 0', 'h:three 0 0', ''].join('\n'));
      const r = await runCli(['mm', 'mm.in'], { cwd: home, env: { SLEEP: '0.05' } });
      assert.equal(r.code, 0, r.stderr);
      const iv = readIntervals(home);
      assert.deepEqual(
        iv.map((i) => i.sp),
        ['g:one', 'g:two', 'h:three'],
        'in order, once each (max=1 from the cmdin output)',
      );
      assert.equal(maxOverlap(iv), 1);
      assert.equal(readFileSync(join(home, 'logs', 'g:two'), 'utf8'), 'running g:two args=--flag\n');
      assert.match(r.stderr, /cmdin\(mm\.in:2\):3: Cannot parse, so skipping/);
    }),
  );

  test(
    'timers hold across runs, -t ignores them; standard input when no files',
    withHome(async (home) => {
      const input = [TEMPLATE, 'a:x 1 1', ''].join('\n');
      const r1 = await runCli(['mm'], { cwd: home, input });
      assert.equal(r1.code, 0, r1.stderr);
      assert.equal(readIntervals(home).length, 1);
      const r2 = await runCli(['mm'], { cwd: home, input });
      assert.equal(r2.code, 0, r2.stderr);
      assert.equal(readIntervals(home).length, 1, 'not run again within the hour');
      const m = /Not trying a:x: (\d+) seconds to go/.exec(r2.stderr);
      assert.ok(m, r2.stderr);
      assert.ok(Number(m[1]) > 3590 && Number(m[1]) <= 3600);
      const r3 = await runCli(['mm', '-t', '-'], { cwd: home, input });
      assert.equal(r3.code, 0, r3.stderr);
      assert.equal(readIntervals(home).length, 2, '-t runs it anyway');
    }),
  );

  test(
    'a failing job: exit 1, raw wait status recorded, the notok timer next time; success resets it',
    withHome(async (home) => {
      const failing = ['mirror=EXIT=3 exec ./recorder.sh $site $package', 'b:y 5 1', ''].join('\n');
      writeFileSync(join(home, 'mm.in'), failing);
      const r1 = await runCli(['mm', 'mm.in'], { cwd: home });
      assert.equal(r1.code, 1, r1.stderr);
      assert.equal(statusOf(home)['b:y']!.status, 3 * 256);
      const r2 = await runCli(['mm', 'mm.in'], { cwd: home });
      assert.equal(r2.code, 0);
      const m = /Not trying b:y: (\d+) seconds to go/.exec(r2.stderr);
      assert.ok(m && Number(m[1]) <= 3600 && Number(m[1]) > 3590, `notok (1 h) timer: ${r2.stderr}`);
      // -t and a succeeding command: the status goes back to 0 (the original kept the failure).
      writeFileSync(join(home, 'mm.in'), [TEMPLATE, 'b:y 5 1', ''].join('\n'));
      const r3 = await runCli(['mm', '-t', 'mm.in'], { cwd: home });
      assert.equal(r3.code, 0, r3.stderr);
      assert.equal(statusOf(home)['b:y']!.status, 0);
    }),
  );

  test(
    'flags: -oREGEX and -o REGEX, skip=, first occurrence, pass-through args, -s',
    withHome(async (home) => {
      writeFileSync(
        join(home, 'mm.in'),
        [TEMPLATE, 'skip=c:skipped', 'c:one 0 0 line-arg', 'c:two 0 0', 'c:skipped 0 0', 'c:one 0 0 second', 'd:other 0 0', ''].join('\n'),
      );
      const r1 = await runCli(['mm', '-o', '^c:', '-k', '-s', 'mm.in'], { cwd: home });
      assert.equal(r1.code, 0, r1.stderr);
      assert.deepEqual(readIntervals(home).map((i) => i.sp).sort(), ['c:one', 'c:two']);
      assert.equal(readFileSync(join(home, 'logs', 'c:one'), 'utf8'), 'running c:one args=line-arg -k\n');
      assert.match(r1.stderr, /new: c:one \d+ 0 l \d+/);
      assert.match(r1.stderr, /Status: c:two/);
      const r2 = await runCli(['mm', '-t', '-od:', 'mm.in'], { cwd: home });
      assert.equal(r2.code, 0, r2.stderr);
      assert.deepEqual(readIntervals(home).map((i) => i.sp).sort(), ['c:one', 'c:two', 'd:other']);
    }),
  );

  test(
    'bad input: warnings name file:line; --strict makes them fatal (exit 2, nothing run); missing file, bad home',
    withHome(async (home) => {
      writeFileSync(join(home, 'mm.in'), [TEMPLATE, 'a:ok 0 0', 'garbage here', ''].join('\n'));
      const r1 = await runCli(['mm', 'mm.in'], { cwd: home });
      assert.equal(r1.code, 0, r1.stderr);
      assert.match(r1.stderr, /mm\.in:3: Cannot parse, so skipping: garbage here/);
      assert.equal(readIntervals(home).length, 1);

      const r2 = await runCli(['mm', '--strict', '-t', 'mm.in'], { cwd: home });
      assert.equal(r2.code, 2);
      assert.match(r2.stderr, /mm\.in:3: Cannot parse/);
      assert.equal(readIntervals(home).length, 1, 'nothing ran');

      const r3 = await runCli(['mm', 'nope.in'], { cwd: home });
      assert.equal(r3.code, 2);
      assert.match(r3.stderr, /nope\.in: cannot read: ENOENT/);

      writeFileSync(join(home, 'bad-home.in'), ['home=does/not/exist', 'a:ok 0 0', ''].join('\n'));
      const r4 = await runCli(['mm', '-t', 'bad-home.in'], { cwd: home });
      assert.equal(r4.code, 2);
      assert.match(r4.stderr, /bad-home\.in:1: cannot chdir to does\/not\/exist/);
      assert.equal(readIntervals(home).length, 1);

      const r5 = await runCli(['mm', '-o'], { cwd: home });
      assert.equal(r5.code, 2);
      assert.match(r5.stderr, /-o: expected a regular expression/);
    }),
  );

  test(
    'home= is relative to the current home; the status and logs live there',
    withHome(async (home) => {
      writeRecorder(join(home, 'sub'));
      writeFileSync(join(home, 'mm.in'), ['home=sub', TEMPLATE, 'a:b 0 0', ''].join('\n'));
      const r = await runCli(['mm', 'mm.in'], { cwd: home });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(existsSync(join(home, 'sub', 'mm.status')));
      assert.ok(existsSync(join(home, 'sub', 'logs', 'a:b')));
      assert.ok(!existsSync(join(home, 'mm.status')));
      assert.equal(readStatusLines(join(home, 'sub')).length, 1);
    }),
  );

  test('omirr mm --help and -h print the flags', async () => {
    const home = makeHome();
    try {
      for (const flag of ['--help', '-h']) {
        const r = await runCli(['mm', flag], { cwd: home });
        assert.equal(r.code, 0);
        assert.match(r.stdout, /-oREGEX/);
        assert.match(r.stdout, /-debug/);
      }
    } finally {
      removeHome(home);
    }
  });
});
