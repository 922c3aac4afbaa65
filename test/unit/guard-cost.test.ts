/**
 * Secret guard on hostile input (issue 13): a secret placed after thousands of decoy candidates is
 * still found, and where the guard caps its work (JWT header parses, base64 decodes) the rest is
 * treated as a secret — fail closed, never let through. Timing itself is measured by
 * bench/guard.ts; these tests pin the behaviour the linear scan must keep.
 */
import { describe, it, expect } from 'vitest';
import { decode } from '../../src/ingest/decode.js';
import { guardJson, scanForSecrets } from '../../src/ingest/guard.js';
import { MAX_JWT_HEADER_PARSES } from '../../src/ingest/guard/scan.js';
import { MAX_BASE64_DECODES } from '../../src/ingest/guard/event.js';
import { ALNUM, rnd } from '../support/random.js';

const b64url = (s: string): string => Buffer.from(s).toString('base64url');

const jwt = [b64url('{"alg":"HS256","typ":"JWT"}'), b64url('{"sub":"user-42","exp":1796032800}'), rnd(43, 1, ALNUM + '-_')].join('.');
/** A JWT whose header does not start with `eyJ` (white space after `{`): found by structure only. */
const structuralJwt = [b64url('{ "alg":"HS256"}'), b64url('{"sub":"u"}'), rnd(43, 2, ALNUM + '-_')].join('.');
const ghp = 'gh' + 'p_' + rnd(36, 3);
const stripe = 'sk' + '_live_' + rnd(24, 4);

const NOW = (): number => Date.UTC(2026, 10, 30, 12);
const event = {
  v: 1,
  id: '0123456789abcdef0123456789abcdef',
  ts: '2026-11-30T10:00:05.123Z',
  ip: '203.0.113.42',
  method: 'POST',
  route: '/v1/oauth/token',
  status: 200,
  gateway: 'kong-eu-west-1a',
  tenant: 'acme',
  cred: { type: 'refresh_token', fp: 'tfp1:' + rnd(22, 5, ALNUM + '-_'), sub: 'user-42' },
};

/** True when one scanner hit covers the whole of `secret` in `text`. */
function covered(text: string, secret: string): boolean {
  const at = text.lastIndexOf(secret);
  return scanForSecrets(text).some((h) => h.start <= at && h.end >= at + secret.length);
}

const DECOYS: Array<[string, string]> = [
  ['eyJ', 'eyJ'],
  ['eyJ runs with one dot', 'eyJabcdefgh.'],
  ['structural-JWT dots', 'ew0KICJh.'],
  ['%-escaped eyJ', '%65%79%4A '],
  ['Bearer words', 'Bearer '],
  ['header lines', 'password: ab\n'],
  ['URL userinfo', 'a://b:c@ '],
  ['anchor characters', '_-./~ '],
  ['spaced JWT pieces', 'ey .ew '],
  ['token=', 'token='],
];

describe('guard cost: a secret after 10,000 decoys is still caught', () => {
  for (const [name, unit] of DECOYS) {
    for (const [kind, secret] of [
      ['JWT', jwt],
      ['structural JWT', structuralJwt],
      ['GitHub token', ghp],
      ['Stripe key', stripe],
    ] as const) {
      it(`${kind} after 10,000 × ${name}`, () => {
        const text = `${unit.repeat(10_000)} ${secret} `;
        expect(covered(text, secret)).toBe(true);
        const g = guardJson({ ...event, x: text });
        expect(g.findings.map((f) => f.path)).toContain('x');
        expect(JSON.stringify(g.value)).not.toContain(secret.slice(-20));
      });
    }
  }

  it('a JWT after 10,000 eyJ decoys inside one base64url run and one after the run', () => {
    const text = `${'eyJ'.repeat(10_000)}.${jwt}`;
    expect(covered(text, jwt)).toBe(true);
  });
});

describe('guard cost: JWT header parses are capped, fail closed', () => {
  // passes the cheap checks ({…}, names alg) but is not a JWT header: alg is not a string
  const decoyHeader = b64url('{ "alg":1}');
  const decoy = `${decoyHeader}.ab.cd `;

  it('the decoy header does not start with eyJ (it is judged by structure, with a parse)', () => {
    expect(decoyHeader.startsWith('eyJ')).toBe(false);
    expect(scanForSecrets(decoy.repeat(10))).toEqual([]);
  });

  it(`up to ${MAX_JWT_HEADER_PARSES} such decoys are parsed and stay clean`, () => {
    expect(scanForSecrets(decoy.repeat(MAX_JWT_HEADER_PARSES))).toEqual([]);
  });

  it('past the cap a plausible header counts as a JWT (redacted, not let through)', () => {
    const text = decoy.repeat(MAX_JWT_HEADER_PARSES + 10);
    const hits = scanForSecrets(text);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((h) => h.reason === 'secret_jwt')).toBe(true);
  });

  it('a real structural JWT after 10,000 decoys is caught', () => {
    const text = `${decoy.repeat(10_000)}${structuralJwt}`;
    expect(covered(text, structuralJwt)).toBe(true);
  });

  it('decoys that fail the cheap checks cost no parse: a JWT after them is judged by its header', () => {
    // `{` … no closing brace: rejected before JSON.parse, so the cap is never reached
    const cheap = `${b64url('{ "alg":"HS256"')}.ab.cd `;
    expect(scanForSecrets(cheap.repeat(10_000))).toEqual([]);
    expect(covered(`${cheap.repeat(10_000)}${structuralJwt}`, structuralJwt)).toBe(true);
  });
});

describe('guard cost: base64 decodes are capped, fail closed', () => {
  // 16 base64 characters each: decodes to printable text without a secret
  const run = b64url('user:passwor').slice(0, 16);
  const runs = (n: number): string => `${run} `.repeat(n);

  it(`up to ${MAX_BASE64_DECODES} runs are decoded and a clean field stays clean`, () => {
    expect(guardJson({ ...event, x: runs(MAX_BASE64_DECODES) }).findings).toEqual([]);
  });

  it('a base64-hidden secret within the budget is found by decoding', () => {
    const g = guardJson({ ...event, x: runs(100), y: Buffer.from(`token ${ghp}`).toString('base64') });
    expect(g.findings.find((f) => f.path === 'y')?.reason).toBe('secret_known_key');
  });

  it('past the budget the field is redacted as a secret', () => {
    const g = guardJson({ ...event, x: runs(MAX_BASE64_DECODES + 1) });
    expect(g.findings).toEqual([expect.objectContaining({ path: 'x', reason: 'secret_credential_field', identity: false })]);
    expect((g.value as Record<string, unknown>).x).toBe('[REDACTED:secret_credential_field]');
  });

  it('a base64-hidden secret after 10,000 decoy runs in another field is redacted (fail closed)', () => {
    const y = Buffer.from(`token ${ghp}`).toString('base64');
    const g = guardJson({ x: runs(10_000), ...event, y });
    expect(g.findings.map((f) => f.path)).toEqual(expect.arrayContaining(['x', 'y']));
    expect(JSON.stringify(g.value)).not.toContain(y);
  });

  it('in an identifying field, past the budget, the event is not processed', () => {
    const sub = Buffer.from(jwt).toString('base64');
    const msg = JSON.stringify({ x: runs(10_000), ...event, cred: { ...event.cred, sub } });
    const g = guardJson(JSON.parse(msg));
    expect(g.findings.find((f) => f.path === 'cred.sub')?.identity).toBe(true);
    const d = decode(Buffer.from(msg), { now: NOW });
    expect(d.ok).toBe(false);
    expect(JSON.stringify(d)).not.toContain(sub);
  });

  it('a redacted non-identifying field keeps the event processed (redact, do not blind)', () => {
    const d = decode(Buffer.from(JSON.stringify({ ...event, x: runs(MAX_BASE64_DECODES + 1) })), { now: NOW });
    expect(d.ok).toBe(true);
    if (d.ok) expect(d.quarantine?.reason).toBe('secret_credential_field');
  });
});
