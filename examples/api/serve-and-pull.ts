// Serve a directory to other omirr nodes over TLS, and pull it from a client, in one
// process: `serveConfig` is what `omirr serve` runs, `mirrorTree` with an omirr:// URL what
// `omirr sync omirr://...` runs. The server's omirr.conf names its key (written here with
// `writeKeyFile`, as `omirr keygen` does), a shared secret and the tree; the client pins the
// server's key fingerprint and both sides prove they know the secret.
//
//   node dist/examples/api/serve-and-pull.js EXPORT_DIR DST
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serveConfig, writeKeyFile, mirrorTree, closePools } from 'omirr';

const [exportDir, dst] = process.argv.slice(2);
if (!exportDir || !dst) {
  process.stderr.write('usage: serve-and-pull.js EXPORT_DIR DST\n');
  process.exit(2);
}

const etc = mkdtempSync(join(tmpdir(), 'omirr-example-')); // the server's key, secret and omirr.conf
const fingerprint = writeKeyFile(join(etc, 'server.key')); // what clients pin
writeFileSync(join(etc, 'secret'), randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
writeFileSync(
  join(etc, 'omirr.conf'),
  ['node   = example-server', 'key    = server.key', 'secret = secret', `tree   = www ${resolve(exportDir)}`, ''].join('\n'),
);

const server = await serveConfig(join(etc, 'omirr.conf'), { listen: { host: '127.0.0.1', port: 0 } }); // port 0: any free port
try {
  const url = `omirr://${server.address.host}:${server.address.port}/www`;
  const r = await mirrorTree(url, dst, { pin: fingerprint, secretFile: join(etc, 'secret') });
  process.stdout.write(JSON.stringify({ url, fingerprint: server.fingerprint, ok: r.ok, filesSent: r.filesSent, bytesSent: r.bytesSent }) + '\n');
  process.exitCode = r.ok ? 0 : 1;
} finally {
  await server.close();
  await closePools();
  rmSync(etc, { recursive: true, force: true });
}
