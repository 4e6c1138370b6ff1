// The errors parseConfig reports for a text, one per line (it must throw a ConfigError).
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/core/config.js';

export function configErrorsOf(text: string, file = 'o.conf'): string[] {
  try {
    parseConfig(text, file);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message.split('\n');
  }
  assert.fail('expected a ConfigError');
}
