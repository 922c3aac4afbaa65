/**
 * Secret guard (DESIGN §2). Every test secret is assembled at run time from fragments and a
 * deterministic generator, so no realistic credential literal sits in the repository.
 */
import { createHash, createHmac } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { AccessEventInputSchema, type AccessEventInput } from '../../schemas/event.js';
import {
  SECRET_REASONS,
  excerpt,
  isCredentialKey,
  redact,
  redactValue,
  scanForSecrets,
  type SecretReason,
} from '../../src/ingest/guard.js';
import { rnd } from '../support/random.js';

// ---------------------------------------------------------------------------------------------
// Generators

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';


const FP_KEY = 'test-only-fingerprint-key';
/** A real tfp1 fingerprint (DESIGN §2) of a made-up credential. */
function tfp1(credential: string): string {
  return 'tfp1:' + createHmac('sha256', FP_KEY).update(credential).digest('base64url').slice(0, 22);
}
function hex(n: number, seed: string): string {
  return createHash('sha512').update(seed).digest('hex').slice(0, n);
}
function uuid(seed: string): string {
  const h = hex(32, seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const jwt = [
  'ey' + 'J' + 'hbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9',
  'ey' + 'J' + 'zdWIiOiJ1c2VyLTQyIiwiZXhwIjoxNzk2MDMyODAwfQ',
  rnd(43, 1, UPPER + LOWER + DIGITS + '-_'),
].join('.');
const opaque = 'op' + rnd(30, 2) + '.~' + rnd(6, 3);
const password = 'hunter' + rnd(10, 4) + '!';
const basicCreds = Buffer.from('alice:' + password).toString('base64');
const value = 'v4lue-' + rnd(14, 5);

const KEYS = {
  ghp: 'gh' + 'p_' + rnd(36, 10),
  gho: 'gh' + 'o_' + rnd(36, 11),
  ghu: 'gh' + 'u_' + rnd(36, 12),
  ghs: 'gh' + 's_' + rnd(36, 13),
  ghr: 'gh' + 'r_' + rnd(36, 14),
  githubPat: 'github' + '_pat_' + rnd(22, 15) + '_' + rnd(59, 16),
  stripeLive: 'sk' + '_live_' + rnd(24, 17),
  stripeTest: 'sk' + '_test_' + rnd(24, 18),
  stripeRestricted: 'rk' + '_live_' + rnd(24, 19),
  awsAkia: 'AK' + 'IA' + rnd(16, 20, UPPER + DIGITS),
  awsAsia: 'AS' + 'IA' + rnd(16, 21, UPPER + DIGITS),
  slackBot: 'xo' + 'xb-' + rnd(12, 22, DIGITS) + '-' + rnd(24, 23),
  slackUser: 'xo' + 'xp-' + rnd(12, 24, DIGITS) + '-' + rnd(24, 25),
  google: 'AI' + 'za' + rnd(35, 26, UPPER + LOWER + DIGITS + '-_'),
  openaiProject: 'sk' + '-proj-' + rnd(64, 27, UPPER + LOWER + DIGITS + '-_'),
  openaiLegacy: 'sk' + '-' + rnd(45, 28) + 'aZ9',
  gitlab: 'gl' + 'pat-' + rnd(20, 29),
};

function pem(kind: string, seed: number): string {
  const body = Array.from({ length: 4 }, (_, i) => rnd(64, seed + i, UPPER + LOWER + DIGITS + '+/')).join('\n');
  return `-----BEGIN ${kind}PRIVATE KEY-----\n${body}\n-----END ${kind}PRIVATE KEY-----`;
}

// ---------------------------------------------------------------------------------------------
// Canonical events

/** A canonical event with every optional field (DESIGN §2), as a producer would send it. */
function canonicalEvent(i = 0): AccessEventInput {
  const token = 'raw-refresh-' + rnd(40, 100 + i);
  return {
    v: 1,
    id: hex(32, `req-${i}`),
    ts: '2026-11-30T10:00:05.123Z',
    ip: i % 2 === 0 ? '203.0.113.42' : '2001:db8:85a3::8a2e:370:7334',
    method: 'POST',
    route: '/v1/oauth/token',
    status: 200,
    gateway: 'kong-eu-west-1a',
    tenant: 'acme',
    ua: hex(64, `ua-${i}`),
    cred: {
      type: 'refresh_token',
      fp: tfp1(token),
      sub: 'user-42',
      client_id: 'mobile-app',
      sid: uuid(`sid-${i}`),
      key_id: 'key_01HZX3M8Q2',
      jti: uuid(`jti-${i}`),
      exp: 1796032800,
    },
    refresh: { issued_fp: tfp1(token + 'next'), issued_access_fp: tfp1(token + 'access') },
    geo: { lat: 52.52, lon: 13.405, accuracy_km: 20, country: 'DE', asn: 3320, city: 'Berlin' },
  };
}

const canonical = JSON.stringify(canonicalEvent());

/** The canonical event with extra fields merged in (unknown extra fields are allowed, DESIGN §2). */
function eventWith(extra: Record<string, unknown>): string {
  return JSON.stringify({ ...canonicalEvent(), ...extra });
}

function reasonsOf(raw: string): SecretReason[] {
  return scanForSecrets(raw).map((h) => h.reason);
}

/** True when any 8-character window of `secret` appears in `text`. */
function leaks(text: string, secret: string): boolean {
  for (let i = 0; i + 8 <= secret.length; i++) if (text.includes(secret.slice(i, i + 8))) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Positive cases: raw text, the secret value it carries, the expected reason.

interface Case {
  name: string;
  raw: string;
  secret: string;
  reason: SecretReason;
  /** the part of `secret` that must not survive redaction, when `secret` also holds placeholders */
  live?: string;
}

const CASES: Case[] = [
  { name: 'JWT in an extra field', raw: eventWith({ trace: jwt }), secret: jwt, reason: 'secret_jwt' },
  { name: 'JWT in the route path', raw: eventWith({ route: `/v1/session/${jwt}/refresh` }), secret: jwt, reason: 'secret_jwt' },
  { name: 'JWT after Bearer in free text', raw: eventWith({ ua: `probe Bearer ${jwt}` }), secret: jwt, reason: 'secret_jwt' },
  { name: 'Bearer opaque token in free text', raw: eventWith({ ua: `curl/8.4 Authorization: Bearer ${opaque}` }), secret: opaque, reason: 'secret_bearer' },
  { name: 'bearer, lower case, not JSON', raw: `GET /v1/x HTTP/1.1\r\nauthorization: bearer ${opaque}\r\n`, secret: opaque, reason: 'secret_bearer' },
  { name: 'BEARER URL-encoded in a query value', raw: eventWith({ route: `/v1/x?h=BEARER%20${opaque}&y=1` }), secret: opaque, reason: 'secret_bearer' },
  { name: 'Basic credentials in free text', raw: eventWith({ ua: `wget Basic ${basicCreds}` }), secret: basicCreds, reason: 'secret_basic' },
  { name: 'URL userinfo in a query value', raw: eventWith({ route: '/proxy?to=https://alice:Vx9q2LmZ7rT4@internal.example/' }), secret: 'alice:Vx9q2LmZ7rT4', reason: 'secret_url_userinfo' },
  { name: 'bAsIc credentials, not JSON', raw: `Authorization: bAsIc ${basicCreds}`, secret: basicCreds, reason: 'secret_basic' },
  ...Object.entries(KEYS).map(([name, key]) => ({
    name: `known key ${name}`,
    raw: eventWith({ note: `leaked ${key} here` }),
    secret: key,
    reason: 'secret_known_key' as const,
  })),
  { name: 'known key in a query value', raw: eventWith({ route: `/v1/maps?key=${KEYS.google}` }), secret: KEYS.google, reason: 'secret_known_key' },
  { name: 'known key after an URL-encoded quote', raw: `token%22${KEYS.ghp}%22`, secret: KEYS.ghp, reason: 'secret_known_key' },
  ...['RSA ', 'EC ', 'OPENSSH ', '', 'ENCRYPTED '].map((kind, i) => ({
    name: `PEM ${kind || 'PKCS#8 '}private key`,
    raw: eventWith({ material: pem(kind, 40 + i * 10) }),
    secret: JSON.stringify(pem(kind, 40 + i * 10)).slice(1, -1),
    reason: 'secret_private_key' as const,
  })),
  ...[
    'Authorization',
    'authorization',
    'Proxy-Authorization',
    'Cookie',
    'X-Api-Key',
    'x_api_key',
    'api_key',
    'api-key',
    'apiKey',
    'apikey',
    'access_token',
    'accessToken',
    'refresh_token',
    'id_token',
    'X-Auth-Token',
    'client_secret',
    'password',
    'passwd',
    'token',
    'secret',
    'private_key',
  ].map((name) => ({
    name: `credential field "${name}"`,
    raw: eventWith({ headers: { [name]: value, accept: 'application/json' } }),
    secret: value,
    reason: 'secret_credential_field' as const,
  })),
  {
    name: 'set-cookie array element',
    raw: eventWith({ headers: { 'set-cookie': ['a=[REDACTED]; Path=/', `sid=${value}; HttpOnly`] } }),
    secret: `sid=${value}; HttpOnly`,
    reason: 'secret_credential_field',
  },
  {
    name: 'cookie with one live value among redacted ones',
    raw: eventWith({ headers: { cookie: `a=[REDACTED]; sid=${value}` } }),
    secret: `a=[REDACTED]; sid=${value}`,
    reason: 'secret_credential_field',
    live: value,
  },
  { name: 'password in an escaped JSON body', raw: eventWith({ body: JSON.stringify({ user: 'alice', password }) }), secret: password, reason: 'secret_credential_field' },
  { name: 'credential field with spaces around the colon', raw: `{"token" :  "${value}"}`, secret: value, reason: 'secret_credential_field' },
  { name: 'credential field in a truncated message', raw: `{"v":1,"headers":{"x-api-key":"${value}`, secret: value, reason: 'secret_credential_field' },
  { name: 'query access_token', raw: eventWith({ route: '/v1/x?access_token=abc123def456' }), secret: 'abc123def456', reason: 'secret_credential_query' },
  { name: 'query api_key after &', raw: eventWith({ route: `/v1/x?page=2&api_key=${value}` }), secret: value, reason: 'secret_credential_query' },
  { name: 'query after a JSON-escaped &', raw: `{"route":"/v1/x?a=1\\u0026token=${value}"}`, secret: value, reason: 'secret_credential_query' },
  { name: 'implicit-flow fragment', raw: eventWith({ route: `/cb#access_token=${value}&state=xyz` }), secret: value, reason: 'secret_credential_query' },
  { name: 'form body client_secret', raw: eventWith({ body: `grant_type=client_credentials&client_secret=${value}` }), secret: value, reason: 'secret_credential_query' },
  { name: 'pre-signed URL signature', raw: eventWith({ route: `/bucket/obj?X-Amz-Expires=300&X-Amz-Signature=${hex(64, 'sig')}` }), secret: hex(64, 'sig'), reason: 'secret_credential_query' },
];

describe('scanForSecrets: every pattern hits', () => {
  it.each(CASES)('$name', ({ raw, secret, reason }) => {
    const hits = scanForSecrets(raw);
    expect(hits.length).toBeGreaterThan(0);
    const hit = hits.find((h) => raw.slice(h.start, h.end).includes(secret));
    expect(hit, `no hit covers the secret; hits: ${JSON.stringify(hits)}`).toBeDefined();
    expect(hit!.reason).toBe(reason);
    expect(raw.slice(hit!.start, hit!.end)).toBe(secret);
  });

  it('hits are sorted, non-overlapping and inside the text', () => {
    const raw = eventWith({
      headers: { Authorization: `Bearer ${jwt}`, 'x-api-key': KEYS.stripeLive },
      route: `/v1/x?access_token=${value}`,
      note: KEYS.awsAkia,
    });
    const hits = scanForSecrets(raw);
    expect(hits.length).toBe(4);
    for (let i = 0; i < hits.length; i++) {
      const h = hits[i]!;
      expect(h.start).toBeGreaterThanOrEqual(0);
      expect(h.end).toBeLessThanOrEqual(raw.length);
      expect(h.end).toBeGreaterThan(h.start);
      if (i > 0) expect(h.start).toBeGreaterThanOrEqual(hits[i - 1]!.end);
    }
  });

  it('an overlap keeps the most specific reason: a JWT in an Authorization header', () => {
    const raw = eventWith({ headers: { Authorization: `Bearer ${jwt}` } });
    expect(scanForSecrets(raw)).toEqual([
      { reason: 'secret_jwt', start: raw.indexOf('Bearer '), end: raw.indexOf(jwt) + jwt.length },
    ]);
  });

  it('every reason code is produced by some case, and the codes are unique', () => {
    const produced = new Set(CASES.flatMap((c) => reasonsOf(c.raw)));
    expect([...produced].sort()).toEqual([...SECRET_REASONS].sort());
    expect(new Set(SECRET_REASONS).size).toBe(SECRET_REASONS.length);
  });
});

describe('scanForSecrets: look-alikes stay clean', () => {
  it('the canonical event with every optional field is clean', () => {
    const event = canonicalEvent();
    expect(AccessEventInputSchema.safeParse(event).success).toBe(true);
    expect(scanForSecrets(canonical)).toEqual([]);
    expect(scanForSecrets(JSON.stringify(event, null, 2))).toEqual([]);
  });

  it('2,000 canonical events with varied ids, fingerprints, types and user agents are clean', () => {
    const types = ['access_token', 'refresh_token', 'api_key', 'session'] as const;
    const uas = [
      (i: number) => hex(64, `ua-${i}`),
      (i: number) => createHash('sha256').update(`ua-${i}`).digest('base64'),
      () => 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      () => 'okhttp/4.12.0',
    ];
    const dirty: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const e = canonicalEvent(i);
      e.cred.type = types[i % types.length]!;
      e.ua = uas[i % uas.length]!(i);
      if (i % 3 === 0) e.ts = 1796032800000 + i;
      const raw = JSON.stringify(e);
      if (scanForSecrets(raw).length > 0) dirty.push(raw);
    }
    expect(dirty).toEqual([]);
  });

  it.each([
    ['cred.type values', eventWith({ cred: { type: 'api_key', fp: tfp1('k') }, kinds: ['access_token', 'refresh_token', 'api_key'] })],
    ['fingerprints under credential-like keys and params', eventWith({ token: tfp1('a'), headers: { authorization: `Bearer ${tfp1('b')}` }, route: `/v1/x?access_token=${tfp1('c')}` })],
    ['non-secret key names', eventWith({ issued_fp: tfp1('d'), issued_access_fp: tfp1('e'), key_id: 'key_9', token_type: 'Bearer', token_count: 3, grant_type: 'refresh_token' })],
    ['UUIDs and hex request ids', eventWith({ request_id: hex(32, 'r'), trace_id: uuid('t'), span: hex(16, 's') })],
    ['"Bearer" alone', eventWith({ scheme: 'Bearer', headers: { authorization: 'Bearer' } })],
    ['a WWW-Authenticate challenge', eventWith({ headers: { 'www-authenticate': 'Bearer realm="api", error="invalid_token"' } })],
    ['prose that names a scheme', eventWith({ message: 'Bearer authentication failed; Basic authentication required' })],
    [
      'redacted headers',
      eventWith({
        headers: {
          authorization: 'Bearer [REDACTED]',
          'proxy-authorization': '[REDACTED]',
          'x-api-key': '***',
          cookie: '<redacted>',
          token: 'REDACTED',
          password: 'xxxxxxxx',
          client_secret: '',
          secret: '-',
          api_key: null,
          refresh_token: 'xxx…',
        },
      }),
    ],
    ['redacted cookies', eventWith({ headers: { cookie: 'sid=[REDACTED]; theme=[REDACTED]', 'set-cookie': ['sid=[REDACTED]; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly; Secure'] } })],
    ['Go-escaped placeholder', '{"headers":{"authorization":"\\u003credacted\\u003e"}}'],
    ['redacted query values', eventWith({ route: '/v1/x?access_token=[REDACTED]&api_key=%5BREDACTED%5D&token=***&password=&secret=-' })],
    ['templated and custom-method routes', eventWith({ route: '/v1/tokens/{token}:revoke', alt: '/v1/api_keys/{key_id}?expand=token', login: '/v1/oauth/token' })],
    ['a Stripe publishable key', eventWith({ note: 'pk' + '_live_' + rnd(24, 60) })],
    ['prefix look-alikes', eventWith({ tenant: 'sk-bratislava-enterprise-gw-01', gateway: 'disk-' + rnd(40, 61), note: 'AK' + 'IA123', b64: 'x' + 'AK' + 'IA' + rnd(16, 62, UPPER + DIGITS) })],
    ['numbers under credential keys', eventWith({ token: 12345, password: true })],
  ])('%s', (_name, raw) => {
    expect(scanForSecrets(raw)).toEqual([]);
  });

  it('redaction markers are not secrets (redact is idempotent)', () => {
    for (const c of CASES) {
      const once = redact(c.raw);
      expect(scanForSecrets(once)).toEqual([]);
      expect(redact(once)).toBe(once);
    }
  });
});

describe('redact', () => {
  it.each(CASES)('removes every part of the secret: $name', ({ raw, secret, reason, live }) => {
    const out = redact(raw);
    expect(leaks(out, live ?? secret)).toBe(false);
    expect(out).toContain(`[REDACTED:${reason}]`);
    expect(redact(raw, scanForSecrets(raw))).toBe(out);
  });

  it('keeps JSON valid and the rest of the event intact', () => {
    const raw = eventWith({ headers: { Authorization: `Bearer ${opaque}`, cookie: `sid=${value}` }, route: `/v1/x?access_token=${value}&page=2` });
    const out = JSON.parse(redact(raw)) as Record<string, unknown>;
    expect(out.headers).toEqual({ Authorization: '[REDACTED:secret_bearer]', cookie: '[REDACTED:secret_credential_field]' });
    expect(out.route).toBe('/v1/x?access_token=[REDACTED:secret_credential_query]&page=2');
    expect(out.cred).toEqual(canonicalEvent().cred);
  });

  it('returns a clean text unchanged', () => {
    expect(redact(canonical)).toBe(canonical);
  });

  it('redacts what the scanner finds even when given incomplete hits', () => {
    const raw = `a ${KEYS.ghp} b ${KEYS.stripeLive} c`;
    const first = scanForSecrets(raw)[0]!;
    const out = redact(raw, [first]);
    expect(leaks(out, KEYS.ghp)).toBe(false);
    expect(leaks(out, KEYS.stripeLive)).toBe(false);
    expect(redact(raw, [])).toBe(out);
  });

  it('redacts a secret that a caller flagged but the scanner would not', () => {
    expect(redact('user=alice pin=12345678', [{ reason: 'secret_credential_query', start: 15, end: 23 }])).toBe(
      'user=alice pin=[REDACTED:secret_credential_query]',
    );
  });
});

describe('excerpt', () => {
  it('never contains the secret, wherever the cut falls', () => {
    for (const c of [CASES[0]!, CASES[3]!, CASES.find((x) => x.reason === 'secret_private_key')!]) {
      const at = c.raw.indexOf(c.secret);
      const full = redact(c.raw).length;
      for (let max = Math.max(1, at - 5); max <= at + c.secret.length + 40; max++) {
        const out = excerpt(c.raw, max);
        expect(leaks(out, c.secret)).toBe(false);
        expect(out.length).toBeLessThanOrEqual(max);
        expect(out.endsWith('…')).toBe(full > max);
        expect(scanForSecrets(out)).toEqual([]);
      }
    }
  });

  it('a secret straddling the default 512-character cut', () => {
    const key = KEYS.stripeLive;
    const raw = JSON.stringify({ pad: 'p'.repeat(512 - 20), note: key, tail: 'q'.repeat(200) });
    expect(raw.indexOf(key)).toBeLessThan(512);
    expect(raw.indexOf(key) + key.length).toBeGreaterThan(512);
    const out = excerpt(raw);
    expect(out.length).toBeLessThanOrEqual(512);
    expect(out.endsWith('…')).toBe(true);
    expect(leaks(out, key)).toBe(false);
  });

  it('returns the whole redacted text, without an ellipsis, when it fits', () => {
    const raw = eventWith({ note: KEYS.awsAkia });
    expect(excerpt(raw, 10_000)).toBe(redact(raw));
    expect(excerpt(canonical, 10_000)).toBe(canonical);
  });

  it('does not cut a redaction marker in half', () => {
    const raw = `x=${KEYS.ghp}`;
    for (let max = 3; max < 30; max++) {
      const out = excerpt(raw, max);
      expect(out).not.toMatch(/\[REDACTED:[a-z_]*…/);
    }
  });
});

describe('redactValue', () => {
  it('redacts credential-bearing keys and secrets inside strings, deeply', () => {
    const input = {
      headers: { Authorization: `Bearer ${opaque}`, 'set-cookie': [`sid=${value}`], accept: '*/*' },
      body: { password: 12345678, nested: [{ client_secret: value }, `see ${KEYS.ghp}`] },
      route: `/v1/x?api_key=${value}`,
      [KEYS.gitlab]: 'key as a key',
    };
    const out = redactValue(input);
    const text = JSON.stringify(out);
    for (const s of [opaque, value, KEYS.ghp, KEYS.gitlab]) expect(leaks(text, s)).toBe(false);
    expect(out).toMatchObject({
      headers: { Authorization: '[REDACTED:secret_credential_field]', 'set-cookie': ['[REDACTED:secret_credential_field]'], accept: '*/*' },
      body: { password: '[REDACTED:secret_credential_field]', nested: [{ client_secret: '[REDACTED:secret_credential_field]' }, 'see [REDACTED:secret_known_key]'] },
      route: '/v1/x?api_key=[REDACTED:secret_credential_query]',
    });
    expect(input.headers.Authorization).toBe(`Bearer ${opaque}`); // input untouched
  });

  it('leaves the canonical event, placeholders and fingerprints as they are', () => {
    const event = canonicalEvent();
    expect(redactValue(event)).toEqual(event);
    const redacted = { authorization: 'Bearer [REDACTED]', token: tfp1('x'), password: '***', api_key: null };
    expect(redactValue(redacted)).toEqual(redacted);
  });

  it('handles cycles, errors, maps and binary data', () => {
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    expect(redactValue(cyclic)).toEqual({ name: 'a', self: '[Circular]' });

    const err = redactValue(new Error(`upstream said Bearer ${opaque}`)) as { message: string; stack: string };
    expect(leaks(err.message, opaque)).toBe(false);
    expect(leaks(err.stack, opaque)).toBe(false);

    const map = redactValue(new Map([['x-api-key', value]])) as Map<string, unknown>;
    expect(map.get('x-api-key')).toBe('[REDACTED:secret_credential_field]');

    expect(redactValue(Buffer.from(KEYS.ghp))).toBe(`[binary ${KEYS.ghp.length} bytes]`);
  });
});

describe('isCredentialKey', () => {
  it.each([
    'authorization',
    'Proxy-Authorization',
    'cookie',
    'Set-Cookie',
    'x-api-key',
    'api_key',
    'apikey',
    'access_token',
    'accessToken',
    'refresh_token',
    'id_token',
    'client_secret',
    'password',
    'token',
    'secret',
  ])(
    '%s is credential-bearing',
    (k) => expect(isCredentialKey(k)).toBe(true),
  );
  it.each(['fp', 'issued_fp', 'issued_access_fp', 'type', 'key_id', 'jti', 'sid', 'sub', 'client_id', 'token_type', 'route', 'ua'])(
    '%s is not',
    (k) => expect(isCredentialKey(k)).toBe(false),
  );
});
