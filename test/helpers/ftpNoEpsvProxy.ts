// An FTP server without EPSV, made from a real one: a control-connection proxy on a loopback
// ephemeral port that answers `EPSV` itself with `500 not understood` and forwards every
// other command and reply untouched. vsftpd cannot turn EPSV off alone; its PASV replies
// name its own 127.0.0.1 address and port, which the client reaches directly.
//
// Replies stay in order even when commands are sent ahead: each command forwarded holds a
// slot for the server's final reply, each refused EPSV a slot with our answer, and our
// answers go out only when every reply before them has.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface NoEpsvProxy {
  port: number;
  /** EPSV commands refused so far (all connections). */
  refused(): number;
  close(): Promise<void>;
}

/** Each line (with its line end) that `s` sends, in order. */
export function eachLine(s: Socket, onLine: (line: string) => void): void {
  let rest = '';
  s.on('data', (b: Buffer) => {
    rest += b.toString('latin1');
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl + 1);
      rest = rest.slice(nl + 1);
      onLine(line);
    }
  });
}

export async function startNoEpsvProxy(upstreamPort: number): Promise<NoEpsvProxy> {
  let refused = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: upstreamPort });
    sockets.add(client).add(upstream);
    // 'server': a final reply to come from upstream; a string: our own reply, in its turn
    const slots: Array<'server' | string> = ['server']; // the greeting
    const flush = (): void => {
      while (typeof slots[0] === 'string') client.write(slots.shift() as string);
    };
    eachLine(client, (line) => {
      if (/^EPSV\b/i.test(line)) {
        refused++;
        slots.push('500 not understood\r\n');
        flush();
      } else {
        slots.push('server');
        upstream.write(line, 'latin1');
      }
    });
    /** The code of the multi-line reply under way, if one is. */
    let multi: string | undefined;
    eachLine(upstream, (line) => {
      client.write(line, 'latin1');
      const m = /^(\d{3})([ -])/.exec(line);
      if (multi !== undefined) {
        if (!(m && m[1] === multi && m[2] === ' ')) return;
        multi = undefined; // its last line: the reply is complete
      } else if (m && m[2] === '-') {
        multi = m[1];
        return;
      }
      // a reply complete: a final one (2xx-5xx) fills its slot; 1xx marks come before it
      if (m && m[1]! >= '200') {
        slots.shift();
        flush();
      }
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    refused: () => refused,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
