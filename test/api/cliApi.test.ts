// The API functions the CLI is a thin layer over: defaultConfigPath's rule, daemonStatus
// against a control socket (found from a configuration), serveConfig.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfigPath, optionalConfigPath, SYSTEM_CONFIG_PATH } from '../../src/api/configPath.js';
import { daemonSocketPath, daemonStatus } from '../../src/api/daemonStatus.js';
import { serveConfig } from '../../src/api/serveConfig.js';
import { ControlError, startControlServer } from '../../src/daemon/controlSocket.js';
import { controlSocketFor } from '../../src/daemon/paths.js';
import { parseConfig } from '../../src/core/config.js';
import { writeKeyFile } from '../../src/net/keys.js';
import { closePools } from '../../src/workers/pool.js';

function temp(): string {
  return mkdtempSync(join(tmpdir(), 'omirr-cliapi-'));
}

test('defaultConfigPath: $OMIRR_CONFIG, else ./omirr.conf if it exists, else /etc/omirr/omirr.conf', () => {
  const dir = temp();
  try {
    assert.equal(SYSTEM_CONFIG_PATH, '/etc/omirr/omirr.conf');
    assert.equal(defaultConfigPath({ env: { OMIRR_CONFIG: 'x.conf' }, cwd: dir }), 'x.conf');
    assert.equal(defaultConfigPath({ env: {}, cwd: dir }), SYSTEM_CONFIG_PATH);
    assert.equal(optionalConfigPath({ env: {}, cwd: dir }), undefined);
    assert.equal(optionalConfigPath({ env: { OMIRR_CONFIG: 'x.conf' }, cwd: dir }), 'x.conf');
    writeFileSync(join(dir, 'omirr.conf'), 'node = a\n');
    assert.equal(defaultConfigPath({ env: {}, cwd: dir }), join(dir, 'omirr.conf'));
    assert.equal(optionalConfigPath({ env: {}, cwd: dir }), join(dir, 'omirr.conf'));
    assert.equal(defaultConfigPath({ env: { OMIRR_CONFIG: 'x.conf' }, cwd: dir }), 'x.conf');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('daemonStatus: asks the control socket the configuration implies; NO_DAEMON when none listens', async () => {
  const dir = temp();
  const cfg = parseConfig(`node = n1\nstate = ${join(dir, 'state')}\n`, join(dir, 'omirr.conf'));
  const socket = controlSocketFor(cfg);
  assert.equal(daemonSocketPath({ config: cfg }), socket);
  await assert.rejects(daemonStatus({ config: cfg, timeoutMs: 2000 }), (e: unknown) => e instanceof ControlError && e.code === 'NO_DAEMON');
  const server = await startControlServer({ path: socket, handlers: { status: () => ({ node: 'n1', actors: [] }) } });
  try {
    assert.deepEqual(await daemonStatus({ config: cfg }), { node: 'n1', actors: [] });
    writeFileSync(join(dir, 'omirr.conf'), `node = n1\nstate = ${join(dir, 'state')}\n`);
    assert.deepEqual(await daemonStatus({ configPath: join(dir, 'omirr.conf') }), { node: 'n1', actors: [] });
    assert.deepEqual(await daemonStatus({ socket }), { node: 'n1', actors: [] });
    assert.throws(() => daemonSocketPath({ config: cfg, socket }), /at most one/);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serveConfig: serves the trees of a configuration on the listen address given', async () => {
  const dir = temp();
  try {
    const fp = writeKeyFile(join(dir, 'a.key'));
    writeFileSync(join(dir, 'omirr.conf'), `node = a\nkey = a.key\nlisten = 127.0.0.1:1\ntree = www ${dir}\n`);
    const server = await serveConfig(join(dir, 'omirr.conf'), { listen: { host: '127.0.0.1', port: 0 } });
    try {
      assert.equal(server.fingerprint, fp);
      assert.notEqual(server.address.port, 1);
    } finally {
      await server.close();
    }
    writeFileSync(join(dir, 'nokey.conf'), 'node = a\n');
    await assert.rejects(serveConfig(join(dir, 'nokey.conf')), /no 'key = FILE'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await closePools();
  }
});
