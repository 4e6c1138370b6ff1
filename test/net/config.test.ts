import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig, parseHostPort } from '../../src/core/config.js';

const FP = 'SHA256:' + 'A'.repeat(43);
const FP2 = 'SHA256:' + 'B'.repeat(42) + 'c';

test('omirr.conf: node keywords and mm statements in one file', () => {
  const cfg = parseConfig(
    [
      '# a node',
      'home    = /srv/mirror',
      'max     = 6',
      'node    = alpha',
      'listen  = 0.0.0.0:7878',
      'key     = alpha.key',
      'secret  = /etc/omirr/cluster.secret',
      'state   = state/alpha',
      `peer    = beta   10.0.0.2:7878  ${FP}`,
      `peer    = gamma  [::1]:9000     ${FP2}`,
      'peer    = laptop -  -',
      'tree    = www    /srv/www   beta gamma',
      'tree    = up     up         beta rw',
      'tree    = all    /srv/all',
      'ftp.cl.cam.ac.uk:JIPS-nrs 20 20',
    ].join('\n'),
    '/etc/omirr/omirr.conf',
  );
  assert.equal(cfg.node, 'alpha');
  assert.deepEqual(cfg.listen, { host: '0.0.0.0', port: 7878 });
  assert.equal(cfg.key, '/etc/omirr/alpha.key', 'relative to the config file');
  assert.equal(cfg.stateDir, '/etc/omirr/state/alpha', 'state dir relative to the config file');
  assert.equal(cfg.secret, '/etc/omirr/cluster.secret');
  assert.deepEqual(
    cfg.peers.map((p) => [p.name, p.address, p.fingerprint]),
    [
      ['beta', { host: '10.0.0.2', port: 7878 }, FP],
      ['gamma', { host: '::1', port: 9000 }, FP2],
      ['laptop', undefined, undefined],
    ],
  );
  assert.deepEqual(
    cfg.trees.map((t) => [t.name, t.path, t.peers, t.writable]),
    [
      ['www', '/srv/www', ['beta', 'gamma'], false],
      ['up', '/etc/omirr/up', ['beta'], true],
      ['all', '/srv/all', [], false],
    ],
  );
  assert.deepEqual(
    cfg.statements.map((s) => s.kind),
    ['home', 'max', 'job'],
  );
});

test('an mm input file is a valid omirr.conf', () => {
  const cfg = parseConfig('home=/x\nmax=2\nsite:pkg 1 2\n', 'mm.in');
  assert.equal(cfg.peers.length, 0);
  assert.equal(cfg.statements.length, 3);
});

test('every error names file:line and what was expected, all at once', () => {
  const text = [
    'node = two words',
    'listen = nowhere:99999',
    'peer = beta 10.0.0.2:7878 not-a-fingerprint',
    'peer = beta 10.0.0.2:7878',
    'tree = www',
    'tree = www2 /srv/www2 nobody',
    'node = alpha',
    'node = again',
    `peer = b/ad - ${FP}`,
  ].join('\n');
  let err: unknown;
  try {
    parseConfig(text, 'o.conf');
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  const lines = (err as ConfigError).message.split('\n');
  assert.deepEqual(
    lines.map((l) => l.split(': ')[0]),
    ['o.conf:1', 'o.conf:2', 'o.conf:3', 'o.conf:4', 'o.conf:5', 'o.conf:6', 'o.conf:8', 'o.conf:9'],
  );
  assert.match(lines[0]!, /node: expected one name/);
  assert.match(lines[1]!, /port must be 0..65535/);
  assert.match(lines[2]!, /expected a key fingerprint SHA256/);
  assert.match(lines[3]!, /expected NAME HOST:PORT\|- FINGERPRINT\|-/);
  assert.match(lines[4]!, /tree: expected NAME PATH/);
  assert.match(lines[5]!, /unknown peer 'nobody'/);
  assert.match(lines[6]!, /node given twice \(first at o.conf:7\)/);
  assert.match(lines[7]!, /bad name 'b\/ad'/);
});

test('host:port forms', () => {
  assert.deepEqual(parseHostPort('a:1'), { host: 'a', port: 1 });
  assert.deepEqual(parseHostPort('a', 7878), { host: 'a', port: 7878 });
  assert.deepEqual(parseHostPort('[fe80::1]:5', 1), { host: 'fe80::1', port: 5 });
  assert.equal(typeof parseHostPort('a'), 'string');
  assert.equal(typeof parseHostPort('a:b:c', 1), 'string');
});
