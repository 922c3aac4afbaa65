/**
 * gateway/vectors.json, the one table every gateway snippet and producer library is checked
 * against, agrees with the reference schemas/fingerprint.ts, and is what gateway/vectors.ts builds.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fingerprint, TFP1_RE } from '../../schemas/fingerprint.js';
import { buildVectors, jwtClaims, renderVectors, VECTORS_PATH, type VectorFile } from '../../gateway/vectors.js';

const table = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as VectorFile;

describe('gateway/vectors.json', () => {
  it('is the committed output of gateway/vectors.ts (run `tsx gateway/vectors.ts --write`)', () => {
    expect(readFileSync(VECTORS_PATH, 'utf8')).toBe(renderVectors(buildVectors()));
  });

  it('has vectors of every kind the snippets must handle', () => {
    const v = table.vectors;
    expect(v.length).toBeGreaterThanOrEqual(30);
    expect(new Set(v.map((x) => x.name)).size).toBe(v.length);
    expect(v.some((x) => x.jwt !== null)).toBe(true);
    expect(v.some((x) => /^bearer /.test(x.credential))).toBe(true);
    expect(v.some((x) => x.header === 'x-api-key')).toBe(true);
    expect(v.some((x) => /[^\u0000-\u007f]/.test(x.credential))).toBe(true);
    expect(v.some((x) => /[^\u0000-\u007f]/.test(x.key))).toBe(true);
    expect(v.some((x) => Buffer.byteLength(x.key) > 64)).toBe(true);
    expect(v.some((x) => x.credential !== x.credential.trim())).toBe(true);
    expect(v.some((x) => !x.http)).toBe(true);
  });

  it.each(table.vectors.map((v) => [v.name, v] as const))('%s: fp equals schemas/fingerprint.ts', (_name, v) => {
    expect(v.fp).toMatch(TFP1_RE);
    expect(fingerprint(v.credential, v.key)).toBe(v.fp);
    expect(v.cred_type).toBe(v.header === 'authorization' ? 'access_token' : 'api_key');
    expect(jwtClaims(v.credential)).toEqual(v.jwt);
  });

  it.each(table.invalid.map((v) => [v.name, v] as const))('%s: schemas/fingerprint.ts refuses it', (_name, v) => {
    expect(() => fingerprint(v.credential, v.key)).toThrow(v.error === 'short_key' ? /TOKENWATCH_FP_KEY/ : /empty/);
  });

  it('gateway cases expect what schemas/fingerprint.ts gives for the header a gateway picks', () => {
    for (const c of table.gateway_cases) {
      if (c.expect.tw_fp === '') continue;
      const raw = c.expect.tw_cred_type === 'access_token' ? c.headers.authorization : c.headers['x-api-key'];
      expect(fingerprint(raw ?? '', c.key), c.name).toBe(c.expect.tw_fp);
    }
  });

  it('JWT claims follow the documented rules', () => {
    const claims = table.vectors.find((v) => v.name === 'jwt, unicode escapes in claims, exp as a string, client_id a number')?.jwt;
    expect(claims).toEqual({ sub: 'Zoë 😀 "quoted"', sid: 's/1', jti: '', exp: '', client_id: 'fallback-azp' });
    expect(table.vectors.find((v) => v.name.startsWith('jwt, lower-case bearer'))?.jwt?.exp).toBe('1798761600');
  });
});
