import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { fingerprint, TFP1_RE } from '../../schemas/fingerprint.js';

const KEY = 'unit-test-key-0123456789';

describe('tfp1 fingerprint', () => {
  it('is tfp1: + 22 chars of base64url HMAC-SHA-256 keyed by the shared key', () => {
    const cred = ['abc', 'def', '123'].join('.');
    const expected = 'tfp1:' + createHmac('sha256', KEY).update(cred).digest('base64url').slice(0, 22);
    expect(fingerprint(cred, KEY)).toBe(expected);
    expect(fingerprint(cred, KEY)).toMatch(TFP1_RE);
  });

  it('ignores the Bearer scheme and surrounding white space', () => {
    const cred = 'opaque-token-value-42';
    expect(fingerprint(`Bearer ${cred}`, KEY)).toBe(fingerprint(cred, KEY));
    expect(fingerprint(`  bearer   ${cred}\n`, KEY)).toBe(fingerprint(cred, KEY));
  });

  it('depends on the key', () => {
    expect(fingerprint('x-credential', KEY)).not.toBe(fingerprint('x-credential', KEY + '!'));
  });

  it('refuses short keys and empty credentials', () => {
    expect(() => fingerprint('x', 'short')).toThrow(/TOKENWATCH_FP_KEY/);
    expect(() => fingerprint('Bearer ', KEY)).toThrow(/empty/);
  });
});
