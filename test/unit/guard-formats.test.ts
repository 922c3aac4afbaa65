/**
 * Every entry of the key-format table (src/ingest/guard/formats.ts) is caught where it matters: its
 * synthetic example, in the user agent of a valid event, is redacted (the event still decoded, a
 * quarantine record beside it) and, as the subject, keeps the event from the detectors — and the
 * raw example appears in neither result.
 */
import { describe, expect, it } from 'vitest';
import { KEY_FORMATS, type Gen } from '../../src/ingest/guard.js';
import { decode } from '../../src/ingest/decode.js';

let seed = 7;
const gen: Gen = (n, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789') => {
  let s = '';
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    s += alphabet[seed % alphabet.length];
  }
  return s;
};

const base = { v: 1, id: 'f-1', ts: Date.UTC(2026, 10, 30, 10), ip: '81.2.69.160', method: 'GET', route: '/v1/me', status: 200, cred: { type: 'api_key', fp: 'tfp1:formatsTableAAAAAAAAAA' } };
const now = () => Date.UTC(2026, 11, 1);

describe('key-format table', () => {
  it('has entries with distinct ids', () => {
    expect(KEY_FORMATS.length).toBeGreaterThan(40);
    expect(new Set(KEY_FORMATS.map((f) => f.id)).size).toBe(KEY_FORMATS.length);
  });

  it.each(KEY_FORMATS.map((f) => [f.id, f] as const))('%s: redacted in the user agent, blocking as the subject', (_id, f) => {
    const secret = f.example(gen);
    const inUa = decode(Buffer.from(JSON.stringify({ ...base, ua: `client/1.0 ${secret}` })), { now });
    expect(inUa.ok, 'event still decoded').toBe(true);
    expect(inUa.ok && inUa.quarantine?.reason).toMatch(/^secret_/);
    expect(JSON.stringify(inUa)).not.toContain(secret);
    const asSub = decode(Buffer.from(JSON.stringify({ ...base, cred: { ...base.cred, sub: secret } })), { now });
    expect(asSub.ok).toBe(false);
    expect(!asSub.ok && asSub.reason).toMatch(/^secret_/);
    expect(JSON.stringify(asSub)).not.toContain(secret);
  });
});
