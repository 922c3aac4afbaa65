import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { AccessEventSchema } from '../../schemas/event.js';
import { eventJsonSchema } from '../../schemas/json-schema.js';

const valid = {
  v: 1,
  id: 'req-1',
  ts: '2026-11-30T10:00:00.250+01:00',
  ip: '203.0.113.9',
  method: 'GET',
  route: '/v1/orders/{id}',
  status: 200,
  tenant: 'acme',
  cred: { type: 'access_token', fp: 'tfp1:AAAAAAAAAAAAAAAAAAAAAA', sub: 'user-42', sid: 's-1', exp: 1_800_000_000 },
};

describe('canonical event schema v1', () => {
  it('accepts a valid event and normalises ts to UTC epoch ms', () => {
    const e = AccessEventSchema.parse(valid);
    expect(e.ts).toBe(Date.UTC(2026, 10, 30, 9, 0, 0, 250));
  });

  it('accepts epoch-ms timestamps, IPv6 and ignores unknown fields', () => {
    const e = AccessEventSchema.parse({ ...valid, ts: 1_790_000_000_000, ip: '2001:db8::1', extra: { x: 1 } });
    expect(e.ts).toBe(1_790_000_000_000);
    expect('extra' in e).toBe(false);
  });

  it.each([
    ['wrong version', { v: 2 }],
    ['missing id', { id: undefined }],
    ['ip with port', { ip: '203.0.113.9:443' }],
    ['status out of range', { status: 700 }],
    ['timestamp without zone', { ts: '2026-11-30T10:00:00' }],
    ['unknown credential type', { cred: { type: 'password', fp: 'tfp1:AAAAAAAAAAAAAAAAAAAAAA' } }],
    ['short fingerprint', { cred: { type: 'api_key', fp: 'tfp1:short' } }],
    ['fingerprint with whitespace', { cred: { type: 'api_key', fp: 'tfp1:AAAA AAAAAAAAAAAAAAAAA' } }],
    ['latitude out of range', { geo: { lat: 91, lon: 0 } }],
  ])('rejects %s', (_name, patch) => {
    expect(AccessEventSchema.safeParse({ ...valid, ...patch }).success).toBe(false);
  });

  it('committed JSON Schema is up to date (npm run schema:gen)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../schemas/event.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(eventJsonSchema());
  });
});
