// Serve a directory to other omirr nodes over TLS, and pull it from a client, in one
// process: `serveTrees` is what `omirr serve` runs, `mirrorTree` with an omirr:// URL what
// `omirr sync omirr://...` runs. The client pins the server's key fingerprint and both
// sides prove they know a shared secret.
//
//   node dist/examples/api/serve-and-pull.js EXPORT_DIR DST
import { randomBytes } from 'node:crypto';
import { serveTrees, nodeKeyFromPem, mirrorTree, closePools } from 'omirr';

const [exportDir, dst] = process.argv.slice(2);
if (!exportDir || !dst) {
  process.stderr.write('usage: serve-and-pull.js EXPORT_DIR DST\n');
  process.exit(2);
}

const key = nodeKeyFromPem(); // a fresh Ed25519 node key (omirr keygen writes one to a file)
const secret = randomBytes(32);
const server = await serveTrees({
  listen: { host: '127.0.0.1', port: 0 }, // port 0: any free port
  key,
  node: 'example-server',
  trees: [{ name: 'www', path: exportDir, writable: false }],
  peers: [], // no pinned client keys: the shared secret authenticates clients
  secret,
});
try {
  const url = `omirr://${server.address.host}:${server.address.port}/www`;
  const r = await mirrorTree(url, dst, { pin: server.fingerprint, secret });
  process.stdout.write(JSON.stringify({ url, fingerprint: server.fingerprint, ok: r.ok, filesSent: r.filesSent, bytesSent: r.bytesSent }) + '\n');
  process.exitCode = r.ok ? 0 : 1;
} finally {
  await server.close();
  await closePools();
}
