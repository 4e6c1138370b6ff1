// What vsftpd allows at best, for bench:ftp's `floor` rows: a minimal FTP client that
// fetches every listed file on one control connection as fast as the server hands them out
// (EPSV + RETR pipelined, four files out at once, as omirr does), counts the bytes and
// writes nothing: no listing, no plan, no files. Not a tool: a yardstick. With `--early`
// each data connection is half-closed as soon as it is made (docs/sites.md: vsftpd's
// linger close then does not wait for this process); the wall time is the server's pace.
// Usage: node dist/bench/ftpFloor.js PORT LIST-FILE BYTES [--early]
//   LIST-FILE: one absolute path per line; BYTES: their total size (checked at the end).
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

const DEPTH = 4;

async function main(): Promise<void> {
  const [portArg, listFile, bytesArg] = process.argv.slice(2);
  const early = process.argv.includes('--early');
  const paths = readFileSync(listFile!, 'utf8').split('\n').filter((l) => l !== '');
  const ctrl = connect(Number(portArg), '127.0.0.1');
  ctrl.setNoDelay(true);
  // one final reply (3 digits and a space) per waiter, in order; marks (1xx) count as replies too
  const waiters: Array<(line: string) => void> = [];
  let text = '';
  ctrl.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    for (let i = text.indexOf('\r\n'); i >= 0; i = text.indexOf('\r\n')) {
      const line = text.slice(0, i);
      text = text.slice(i + 2);
      if (/^\d{3} /.test(line)) waiters.shift()?.(line);
    }
  });
  const reply = (cmd?: string): Promise<string> =>
    new Promise((resolve) => {
      waiters.push(resolve);
      if (cmd) ctrl.write(`${cmd}\r\n`);
    });
  const expect = (line: string, code: RegExp): void => {
    if (!code.test(line)) throw new Error(`unexpected reply: ${line}`);
  };
  expect(await reply(), /^220/);
  // (a server with no_anon_password=YES logs an anonymous user in at USER)
  const user = await reply('USER anonymous');
  expect(user, /^(230|331)/);
  if (user.startsWith('331')) expect(await reply('PASS floor@localhost'), /^230/);
  expect(await reply('TYPE I'), /^200/);

  let bytes = 0;
  let next = 0;
  let done = 0;
  /** Data connections not yet closed: the last ones may still be ending after their 226. */
  let open = 0;
  await new Promise<void>((resolve, reject) => {
    const over = (): void => {
      if (done === paths.length && open === 0) resolve();
    };
    const start = (): void => {
      if (next >= paths.length) return;
      const path = paths[next++]!;
      ctrl.write(`EPSV\r\nRETR ${path}\r\n`);
      waiters.push((l229) => {
        const m = /\(\|\|\|(\d+)\|\)/.exec(l229);
        if (!m) return reject(new Error(`EPSV: ${l229}`));
        const data: Socket = connect(Number(m[1]), '127.0.0.1');
        open++;
        if (early) data.end();
        data.on('data', (b: Buffer) => {
          bytes += b.length;
        });
        data.on('end', () => data.destroy());
        data.on('error', reject);
        data.on('close', () => {
          open--;
          over();
        });
      });
      waiters.push((l150) => (/^1/.test(l150) ? undefined : reject(new Error(`RETR ${path}: ${l150}`))));
      waiters.push((l226) => {
        if (!/^226/.test(l226)) return reject(new Error(`RETR ${path}: ${l226}`));
        if (++done === paths.length) over();
        else start();
      });
    };
    for (let k = 0; k < DEPTH; k++) start();
  });
  ctrl.end('QUIT\r\n');
  const want = Number(bytesArg);
  if (bytes !== want) throw new Error(`floor: ${bytes} bytes received, ${want} listed`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
