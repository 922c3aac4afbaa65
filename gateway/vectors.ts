/**
 * The one table of `tfp1` test vectors (gateway/vectors.json) every gateway snippet and producer
 * library is checked against, and the reference for what a gateway logs beside the fingerprint.
 *
 *   tsx gateway/vectors.ts --write    regenerate gateway/vectors.json
 *   tsx gateway/vectors.ts --check    exit 1 when the committed file differs from what this builds
 *
 * Expectations come from schemas/fingerprint.ts (the reference). The table exercises what tends to
 * differ between languages: the `Bearer` scheme in any ASCII case and with any white space after
 * it, JavaScript's set of white space for the trim (NBSP and U+FEFF are white space, U+0085 and
 * U+001C are not, unlike Python / Java / Go's own trims), UTF-8 credentials and keys, keys longer
 * than the HMAC block (64 bytes), and JWT payload claims (unverified: for the log only).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fingerprint } from '../schemas/fingerprint.js';

/** What a gateway logs from an unverified JWT payload; empty string = absent. */
export interface JwtClaims {
  sub: string;
  sid: string;
  jti: string;
  exp: string;
  client_id: string;
}

export interface Vector {
  name: string;
  key: string;
  /** the raw header value (or producer input), exactly as the gateway / library sees it */
  credential: string;
  /** where a gateway finds it: `authorization` (Bearer scheme) or `x-api-key` */
  header: 'authorization' | 'x-api-key';
  cred_type: 'access_token' | 'api_key';
  /** expected `tfp1:` fingerprint (schemas/fingerprint.ts) */
  fp: string;
  /** false when the value cannot travel in an HTTP header (CR, LF, other controls): producers only */
  http: boolean;
  /** claims a gateway snippet extracts when the credential is a JWT (null when it is not one) */
  jwt: JwtClaims | null;
}

/** Inputs that must produce no fingerprint (a producer raises / returns null; a gateway logs ""). */
export interface Invalid {
  name: string;
  key: string;
  credential: string;
  error: 'short_key' | 'empty_credential';
  http: boolean;
}

/** Which header a gateway fingerprints when a request carries several (or none that counts). */
export interface GatewayCase {
  name: string;
  key: string;
  headers: Record<string, string>;
  expect: { tw_fp: string; tw_cred_type: string };
}

export interface VectorFile {
  scheme: 'tfp1';
  about: string;
  vectors: Vector[];
  invalid: Invalid[];
  gateway_cases: GatewayCase[];
}

/** JavaScript's white space (String.prototype.trim, RegExp \s): what every snippet must trim. */
export const JS_WHITESPACE = [
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007,
  0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
] as const;

const b64u = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');
/** A JWT-shaped token: the signature is random-looking bytes, nobody verifies it here. */
function jwt(header: object, payload: object | string, sig = 'c2lnbmF0dXJlLW5vdC12ZXJpZmllZA'): string {
  return `${b64u(JSON.stringify(header))}.${b64u(typeof payload === 'string' ? payload : JSON.stringify(payload))}.${sig}`;
}

/**
 * Reference claim extraction, the rules every snippet implements:
 * after the scheme is stripped, exactly three dot-separated base64url segments (header and payload
 * non-empty); the payload decodes to a JSON object; `sub`, `sid`, `jti` are taken when strings,
 * `client_id` when a string, else `azp` when a string; `exp` when a number in [0, 1e15), floored,
 * in decimal. Anything else is "" (absent). Null when the credential is not a JWT.
 */
export function jwtClaims(credential: string): JwtClaims | null {
  const c = credential.trim().replace(/^bearer(?:\s+|$)/i, '').trim();
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/.exec(c);
  if (!m) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(m[2]!, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return null;
  const p = payload as Record<string, unknown>;
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const exp = typeof p.exp === 'number' && p.exp >= 0 && p.exp < 1e15 ? String(Math.floor(p.exp)) : '';
  return { sub: str(p.sub), sid: str(p.sid), jti: str(p.jti), exp, client_id: str(p.client_id) || str(p.azp) };
}

const K1 = 'tokenwatch-vectors-key-0123456789';
const K16 = '0123456789abcdef';
const KUTF8 = 'clé-partagée-ñ-🔑-2026';
const KLONG = 'k'.repeat(40) + '-longer-than-the-64-byte-sha256-block-' + 'z'.repeat(30);

const JWT_FULL = jwt(
  { alg: 'RS256', kid: 'key-2026-01', typ: 'JWT' },
  { iss: 'https://idp.example.com/', sub: 'user-42', sid: 'sess-7f3a', jti: 'jti-0001', exp: 1798761600, iat: 1798758000, client_id: 'web-app', scope: 'orders:read' },
);
const JWT_AZP = jwt(
  { alg: 'ES256', typ: 'at+jwt' },
  { sub: 'auth0|5f7c8ec7c33c6c004bbafe82', azp: 'mobile-ios', exp: 1798761600.75, jti: 'b6d1c2a0-2f7e-4c6e-9a55-1f0e0b9c1d2e' },
);
const JWT_UNICODE = jwt({ alg: 'HS256' }, '{"sub":"Zo\\u00eb \\ud83d\\ude00 \\"quoted\\"","sid":"s\\/1","exp":"1798761600","client_id":7,"azp":"fallback-azp"}');
const JWT_NOT_OBJECT = jwt({ alg: 'none' }, '["not","an","object"]', '');
const JWT_BAD_JSON = `${b64u('{"alg":"HS256"}')}.${b64u('{"sub": broken')}.sig`;
const JWE_5_PARTS = 'eyJhbGciOiJSU0EtT0FFUCJ9.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ';

interface Case {
  name: string;
  key: string;
  credential: string;
  header: 'authorization' | 'x-api-key';
}

const CASES: Case[] = [
  { name: 'jwt, Bearer, all claims', key: K1, credential: `Bearer ${JWT_FULL}`, header: 'authorization' },
  { name: 'jwt, lower-case bearer, azp and a fractional exp', key: K1, credential: `bearer ${JWT_AZP}`, header: 'authorization' },
  { name: 'jwt, unicode escapes in claims, exp as a string, client_id a number', key: K1, credential: `Bearer ${JWT_UNICODE}`, header: 'authorization' },
  { name: 'jwt-shaped, payload not an object', key: K1, credential: `Bearer ${JWT_NOT_OBJECT}`, header: 'authorization' },
  { name: 'jwt-shaped, payload not JSON', key: K1, credential: `Bearer ${JWT_BAD_JSON}`, header: 'authorization' },
  { name: 'JWE (five parts) is not a JWS: no claims', key: K1, credential: `Bearer ${JWE_5_PARTS}`, header: 'authorization' },
  { name: 'jwt, same token with a 16-byte key', key: K16, credential: `Bearer ${JWT_FULL}`, header: 'authorization' },
  { name: 'jwt, same token with a key over 64 bytes', key: KLONG, credential: `Bearer ${JWT_FULL}`, header: 'authorization' },
  { name: 'bearer abc', key: K1, credential: 'bearer abc', header: 'authorization' },
  { name: 'BEARER upper case', key: K1, credential: 'BEARER abc', header: 'authorization' },
  { name: 'mixed-case scheme, several spaces', key: K1, credential: 'BeArEr    opaque-token-42', header: 'authorization' },
  { name: 'tab after the scheme', key: K1, credential: 'Bearer\topaque-token-42', header: 'authorization' },
  { name: 'surrounding spaces', key: K1, credential: '   Bearer opaque-token-42   ', header: 'authorization' },
  { name: 'NBSP after the scheme and at the end (JS white space)', key: K1, credential: 'Bearer\u00a0opaque-token-42\u00a0', header: 'authorization' },
  { name: 'U+3000 and U+FEFF around the token (JS white space)', key: K1, credential: 'Bearer \u3000opaque-token-42\ufeff', header: 'authorization' },
  { name: 'U+2007 figure space (JS white space, not Java isWhitespace)', key: K1, credential: 'Bearer\u2007opaque-token-42', header: 'authorization' },
  { name: 'U+0085 NEL is not JS white space (Python strips it)', key: K1, credential: 'Bearer opaque-token-42\u0085', header: 'authorization' },
  { name: 'a token ending in Å (UTF-8 C3 85: the 0x85 byte is not white space)', key: K1, credential: 'Bearer opaque-token-Å', header: 'authorization' },
  { name: 'U+200B zero-width space is not white space', key: K1, credential: 'Bearer \u200bopaque-token-42', header: 'authorization' },
  { name: 'unicode token', key: K1, credential: 'Bearer tökén-ünïcødé-✓-😀', header: 'authorization' },
  { name: 'unicode token, UTF-8 key', key: KUTF8, credential: 'Bearer tökén-ünïcødé-✓-😀', header: 'authorization' },
  { name: 'scheme glued to the token is part of the token', key: K1, credential: 'Bearerabc', header: 'x-api-key' },
  { name: 'a second Bearer is part of the token', key: K1, credential: 'Bearer Bearer abc', header: 'authorization' },
  { name: 'opaque token with base64 padding and slashes', key: K1, credential: 'Bearer 2YotnFZFEjr1zCsicMWpAA+/x==', header: 'authorization' },
  { name: 'long opaque token (300 chars)', key: K1, credential: 'Bearer ' + 'A1b2C3d4E5'.repeat(30), header: 'authorization' },
  { name: 'api key, Stripe-style', key: K1, credential: 'sk_live_51H8xYzAbCdEfGhIjKlMnOpQr', header: 'x-api-key' },
  { name: 'api key, GitHub-style', key: K1, credential: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a', header: 'x-api-key' },
  { name: 'api key, low entropy (why the hash is keyed)', key: K1, credential: '1234', header: 'x-api-key' },
  { name: 'api key, surrounding spaces', key: K1, credential: '  key-with-spaces  ', header: 'x-api-key' },
  { name: 'api key with a comma and a semicolon', key: K1, credential: 'part1,part2;v=3', header: 'x-api-key' },
  { name: 'api key, unicode', key: K1, credential: 'ключ-API-😀', header: 'x-api-key' },
  { name: 'api key, UTF-8 key', key: KUTF8, credential: 'ключ-API-😀', header: 'x-api-key' },
  { name: 'api key, key over 64 bytes', key: KLONG, credential: 'sk_live_51H8xYzAbCdEfGhIjKlMnOpQr', header: 'x-api-key' },
  { name: 'api key sent with a Bearer prefix: the scheme is stripped', key: K1, credential: 'Bearer sk_live_51H8xYzAbCdEfGhIjKlMnOpQr', header: 'x-api-key' },
  { name: 'api key that is a JWT', key: K1, credential: JWT_FULL, header: 'x-api-key' },
  { name: 'trailing newline (producers only)', key: K1, credential: 'opaque-token-42\n', header: 'x-api-key' },
  { name: 'CRLF and vertical tab around (producers only)', key: K1, credential: '\r\n\u000bBearer opaque-token-42\f\r\n', header: 'authorization' },
  { name: 'U+001C is not JS white space (Python and Java strip it; producers only)', key: K1, credential: '\u001copaque-token-42', header: 'x-api-key' },
  { name: 'U+2028 line separator after the scheme', key: K1, credential: 'Bearer\u2028opaque-token-42', header: 'authorization' },
];

const INVALID: Array<Omit<Invalid, 'http'>> = [
  { name: 'key of 15 bytes', key: '0123456789abcde', credential: 'Bearer abc', error: 'short_key' },
  { name: 'key of 15 bytes in UTF-8 (8 characters)', key: 'ééééééé1', credential: 'Bearer abc', error: 'short_key' },
  { name: 'scheme only', key: K1, credential: 'Bearer', error: 'empty_credential' },
  { name: 'scheme and spaces', key: K1, credential: 'Bearer   ', error: 'empty_credential' },
  { name: 'white space only', key: K1, credential: ' \t ', error: 'empty_credential' },
  { name: 'empty', key: K1, credential: '', error: 'empty_credential' },
  { name: 'scheme and NBSP only', key: K1, credential: 'bearer\u00a0', error: 'empty_credential' },
];

/** Controls other than HTAB cannot be sent in an HTTP header value (HAProxy rejects them). */
const httpSafe = (s: string): boolean => !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(s);

export function buildVectors(): VectorFile {
  const vectors: Vector[] = CASES.map((c) => ({
    name: c.name,
    key: c.key,
    credential: c.credential,
    header: c.header,
    cred_type: c.header === 'authorization' ? 'access_token' : 'api_key',
    fp: fingerprint(c.credential, c.key),
    http: httpSafe(c.credential),
    jwt: jwtClaims(c.credential),
  }));
  const invalid: Invalid[] = INVALID.map((c) => {
    let threw = false;
    try {
      fingerprint(c.credential, c.key);
    } catch {
      threw = true;
    }
    if (!threw) throw new Error(`invalid vector "${c.name}" has a fingerprint`);
    return { ...c, http: httpSafe(c.credential) };
  });
  const fp = (cred: string): string => fingerprint(cred, K1);
  const gateway_cases: GatewayCase[] = [
    { name: 'Authorization: Bearer wins over X-API-Key', key: K1, headers: { authorization: 'Bearer opaque-token-42', 'x-api-key': 'sk_live_other' }, expect: { tw_fp: fp('opaque-token-42'), tw_cred_type: 'access_token' } },
    { name: 'Basic auth is not fingerprinted', key: K1, headers: { authorization: 'Basic dXNlcjpwYXNzd29yZA==' }, expect: { tw_fp: '', tw_cred_type: '' } },
    { name: 'Basic auth, the X-API-Key is used', key: K1, headers: { authorization: 'Basic dXNlcjpwYXNzd29yZA==', 'x-api-key': 'sk_live_other' }, expect: { tw_fp: fp('sk_live_other'), tw_cred_type: 'api_key' } },
    { name: 'empty Bearer, the X-API-Key is used', key: K1, headers: { authorization: 'Bearer', 'x-api-key': 'sk_live_other' }, expect: { tw_fp: fp('sk_live_other'), tw_cred_type: 'api_key' } },
    { name: 'an unknown scheme glued to Bearer is not fingerprinted', key: K1, headers: { authorization: 'Bearerabc' }, expect: { tw_fp: '', tw_cred_type: '' } },
    { name: 'no credential', key: K1, headers: {}, expect: { tw_fp: '', tw_cred_type: '' } },
  ];
  return {
    scheme: 'tfp1',
    about:
      'tfp1 = "tfp1:" + first 22 chars of base64url(HMAC-SHA-256(key, credential without a leading case-insensitive "Bearer" scheme, trimmed of JavaScript white space)). Keys and credentials are UTF-8. Generated by gateway/vectors.ts from schemas/fingerprint.ts; do not edit by hand.',
    vectors,
    invalid,
    gateway_cases,
  };
}

export const VECTORS_PATH = fileURLToPath(new URL('./vectors.json', import.meta.url));

/** The file's text: JSON with non-ASCII characters escaped, so every tool reads the same bytes. */
export function renderVectors(v: VectorFile = buildVectors()): string {
  return JSON.stringify(v, null, 2).replace(/[\u007f-\uffff]/g, (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0')) + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const mode = process.argv[2];
  const text = renderVectors();
  if (mode === '--write') {
    writeFileSync(VECTORS_PATH, text);
    console.log(`wrote ${VECTORS_PATH}`);
  } else if (mode === '--check') {
    if (readFileSync(VECTORS_PATH, 'utf8') !== text) {
      console.error('gateway/vectors.json is stale: run tsx gateway/vectors.ts --write');
      process.exit(1);
    }
  } else {
    process.stdout.write(text);
  }
}
