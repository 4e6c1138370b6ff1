// An FTP server whose data connections for some files go silent, made from a real one: a
// control-connection proxy on a loopback ephemeral port that forwards every command and
// reply, except the 229 answer to the EPSV before a `RETR` of a path matching `stall`. That
// answer names a port of ours instead, which accepts the client's data connection and then
// neither sends a byte nor closes it; the proxy itself takes the server's data connection
// (and throws the file away), so the server goes on and says 226 as if the file went out.
// The client sees a file that the server called done and whose data never ends: only the
// client's own timeout can end it.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { eachLine } from './ftpNoEpsvProxy.js';

export interface StallProxy {
  port: number;
  /** Data connections made silent so far. */
  stalled(): number;
  close(): Promise<void>;
}

export async function startStallProxy(upstreamPort: number, stall: RegExp): Promise<StallProxy> {
  let stalled = 0;
  const sockets = new Set<Socket>();
  const servers = new Set<Server>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('error', () => s.destroy());
    s.on('close', () => sockets.delete(s));
  };
  /** A port that accepts and then stays silent. */
  const silentPort = async (): Promise<number> => {
    const srv = createServer(track);
    servers.add(srv);
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    return (srv.address() as { port: number }).port;
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: upstreamPort });
    track(client);
    track(upstream);
    // commands forwarded whose final reply has not come yet, oldest first
    const commands: string[] = [];
    eachLine(client, (line) => {
      commands.push(line.trim());
      upstream.write(line, 'latin1');
    });
    // replies go out in order: a rewritten 229 waits for its port, and what follows it waits too
    let out: Promise<void> = Promise.resolve();
    const send = (text: Promise<string> | string): void => {
      out = out.then(async () => {
        client.write(await text, 'latin1');
      });
    };
    eachLine(upstream, (line) => {
      const m = /^(\d{3}) /.exec(line);
      if (!m || m[1]! < '200') return send(line);
      const cmd = commands.shift() ?? '';
      const next = commands[0] ?? '';
      const epsv = /\(\|\|\|(\d+)\|\)/.exec(line);
      if (m[1] === '229' && /^EPSV/i.test(cmd) && epsv && /^RETR /i.test(next) && stall.test(next.slice(5))) {
        stalled++;
        // the server's data connection is ours: read and dropped
        const theirs = createConnection({ host: '127.0.0.1', port: Number(epsv[1]) });
        track(theirs);
        theirs.resume();
        return send(silentPort().then((p) => `229 Entering Extended Passive Mode (|||${p}|)\r\n`));
      }
      send(line);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return {
    port: (server.address() as { port: number }).port,
    stalled: () => stalled,
    close: async () => {
      for (const s of sockets) s.destroy();
      for (const s of servers) s.close();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}
