// Preloaded (`node --import <this file's URL>`) into an omirr process under test: the moment
// the process itself writes a line matching OMIRR_TEST_SIGNAL_ON (a regular expression) to
// stdout or stderr, it sends itself SIGTERM (or OMIRR_TEST_SIGNAL), synchronously, right
// after that write. This is
// the earliest a supervisor reading the line could signal: a process that installs its stop
// handlers only after printing its ready line dies by the signal instead of stopping cleanly.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const pattern = process.env.OMIRR_TEST_SIGNAL_ON;
if (pattern) {
  const re = new RegExp(pattern, 'm');
  let sent = false;
  const check = (chunk: unknown): void => {
    if (sent) return;
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString() : '';
    if (!re.test(text)) return;
    sent = true;
    process.kill(process.pid, (process.env.OMIRR_TEST_SIGNAL ?? 'SIGTERM') as NodeJS.Signals);
  };
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
    stream.write = ((...a: unknown[]) => {
      const r = write(...a);
      check(a[0]);
      return r;
    }) as typeof stream.write;
  }
  // the logger writes its lines with fs.writeSync (src/log.ts)
  const writeSync = fs.writeSync;
  fs.writeSync = ((fd: number, data: unknown, ...rest: unknown[]) => {
    const r = (writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
    if (fd === 1 || fd === 2) check(data);
    return r;
  }) as typeof fs.writeSync;
  syncBuiltinESMExports();
}
