// One end of `bench/floor.ts`'s transport piece, in its own process (two processes, as
// omirr sync and omirr serve are): bytes from RAM to RAM over 127.0.0.1, TLS 1.3 with
// Ed25519 certificates made as omirr makes them (src/net/keys.ts), or plain TCP.
//   node floorNet.js recv tls|tcp BYTES       prints {"port"} then {"cpuMs"}
//   node floorNet.js send tls|tcp BYTES PORT  prints {"wallMs","handshakeMs","cpuMs","cipher"}
// The receiver acknowledges the last byte with one byte; the sender's wall time runs from
// connect() to that acknowledgement. CPU time is the process's (every thread), from the
// established connection to the end: process start is measured separately.
import { randomBytes } from 'node:crypto';
import { createConnection, createServer as createTcpServer, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { nodeKeyFromPem } from '../src/net/keys.js';

const [role, transport, bytesArg, portArg] = process.argv.slice(2);
const total = Number(bytesArg);
/** omirr's data frames are 256 KiB; its sender keeps up to 2 MiB queued before waiting for drain. */
const FRAME = 256 << 10;
const QUEUE = 2 << 20;

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};
const out = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

function receive(sock: Socket): void {
  sock.setNoDelay(true);
  const cpu0 = process.cpuUsage();
  let got = 0;
  sock.on('data', (d: Buffer) => {
    got += d.length;
    if (got === total) {
      sock.end(Buffer.from([1]));
      out({ cpuMs: cpuMs(cpu0), bytes: got });
    }
  });
  sock.on('close', () => process.exit(got === total ? 0 : 1));
}

function send(sock: Socket, t0: number, cipher: () => string): void {
  sock.setNoDelay(true);
  const handshakeMs = performance.now() - t0;
  const cpu0 = process.cpuUsage();
  const data = randomBytes(4 << 20);
  let sent = 0;
  const pump = (): void => {
    while (sent < total && sock.writableLength < QUEUE) {
      const n = Math.min(FRAME, total - sent);
      const off = sent % data.length;
      sock.write(data.subarray(off, off + n));
      sent += n;
    }
    if (sent < total) sock.once('drain', pump);
  };
  sock.once('data', () => {
    out({ wallMs: performance.now() - t0, handshakeMs, cpuMs: cpuMs(cpu0), cipher: cipher() });
    sock.destroy();
    process.exit(0);
  });
  pump();
}

if (role === 'recv') {
  let server;
  if (transport === 'tls') {
    const key = nodeKeyFromPem(undefined, 'floor-recv');
    server = createTlsServer({ key: key.keyPem, cert: key.certPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, (s: TLSSocket) => {
      server!.close();
      receive(s);
    });
  } else {
    server = createTcpServer((s) => {
      server!.close();
      receive(s);
    });
  }
  server.listen(0, '127.0.0.1', () => out({ port: (server!.address() as { port: number }).port }));
} else if (role === 'send') {
  const port = Number(portArg);
  if (transport === 'tls') {
    const key = nodeKeyFromPem(undefined, 'floor-send');
    const t0 = performance.now();
    const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port, key: key.keyPem, cert: key.certPem, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () =>
      send(s, t0, () => `${s.getProtocol()} ${s.getCipher().name}`),
    );
  } else {
    const t0 = performance.now();
    const s = createConnection({ host: '127.0.0.1', port }, () => send(s, t0, () => 'plain TCP'));
  }
} else {
  throw new Error('usage: floorNet.js recv|send tls|tcp BYTES [PORT]');
}
