/**
 * Second, harsher generator of the fuzz suite (beside `generate.ts`), for `hostile.test.ts`: valid canonical v1 events
 * (and multi-IP replay attacks, so the detectors fire), then field mutations (wrong types, huge
 * and NaN-like numbers, odd `ts` units, prototype names, empty values, deep nesting, huge
 * strings), text mutations (truncation, BOM, U+2028/U+2029, bare CR, duplicate and `__proto__`
 * keys, 1e400), byte mutations (invalid UTF-8, raw bytes, empty / white-space / null values), and
 * planted fake credentials in string fields, JSON keys and Kafka keys, in several encodings.
 *
 * Every planted secret is assembled at run time from fragments and the seeded generator, unique
 * per input, and carries the random "cores" the leak check looks for in every output
 * ({@link LeakIndex}: any 12-character window of a core, in the outputs as they are, JSON-unescaped,
 * percent-decoded or base64-decoded). Nothing here is a real credential.
 *
 * Reproduce a run with `TOKENWATCH_FUZZ_SEED=<seed> npx vitest run test/fuzz`.
 */
import { createHmac } from 'node:crypto';
import { producerKey } from '../../schemas/keys.js';
import type { AccessEventInput } from '../../schemas/event.js';
import { BERLIN, FIXTURE_EXP, FRANKFURT_DC } from '../fixtures/events.js';
import { T0 } from '../support/services.js';
import { ALNUM, B64, B64URL, DIGITS, HEX, LOWER, Rng as BaseRng, UPPER } from '../support/random.js';

/** The seed used when TOKENWATCH_FUZZ_SEED is not set. */
export const DEFAULT_SEED = 20261204;

/** The seed of this run: TOKENWATCH_FUZZ_SEED (decimal or 0x hex) or {@link DEFAULT_SEED}. */
export function fuzzSeed(): number {
  const s = process.env.TOKENWATCH_FUZZ_SEED;
  if (s === undefined || s.trim() === '') return DEFAULT_SEED;
  const n = Number(s.trim());
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`TOKENWATCH_FUZZ_SEED must be a non-negative integer (got "${s}")`);
  return n >>> 0;
}

// ---------------------------------------------------------------------------------------------
// PRNG


/** The shared seeded generator, plus text that looks random (upper, lower and a digit). */
export class Rng extends BaseRng {
  /** Random text over `alphabet` that has upper case, lower case and a digit (looks random). */
  mixed(n: number, alphabet = ALNUM): string {
    for (;;) {
      const s = this.str(n, alphabet);
      if (/[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s)) return s;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Fake secrets

export const SECRET_KINDS = [
  'jwt',
  'bearer',
  'basic',
  'github',
  'stripe',
  'slack',
  'aws',
  'google',
  'pem',
  'google_oauth',
  'sendgrid',
  'shopify',
  'vault',
  'gitlab',
  'userinfo',
  'cookie',
  'query',
] as const;
export type SecretKind = (typeof SECRET_KINDS)[number];

export const ENCODINGS = ['plain', 'json_escape', 'nested_escape', 'percent', 'double_percent', 'base64', 'mixed_case', 'header_line', 'har'] as const;
export type Encoding = (typeof ENCODINGS)[number];

interface Secret {
  kind: SecretKind;
  /** the secret as it appears in a header value or free text (with its scheme where it has one) */
  text: string;
  /** random parts that must never appear in an output, in any decoding */
  cores: string[];
  /** header name that carries it in a request */
  header: string;
}

const b64url = (s: string) => Buffer.from(s).toString('base64url');

function makeSecret(r: Rng, kind: SecretKind): Secret {
  switch (kind) {
    case 'jwt': {
      const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
      // one random claim: the cores are then random throughout (no shared `"exp":…` tail)
      const payload = b64url(JSON.stringify({ sub: r.mixed(30) }));
      const sig = r.mixed(43, B64URL);
      return { kind, text: `${head}.${payload}.${sig}`, cores: [payload.slice(12, -4), sig], header: 'Authorization' };
    }
    case 'bearer': {
      const tok = `${r.mixed(24)}.${r.mixed(10)}~${r.mixed(4)}`;
      return { kind, text: `Bearer ${tok}`, cores: [tok], header: 'Authorization' };
    }
    case 'basic': {
      const pw = r.mixed(18);
      const creds = Buffer.from(`u${r.str(7, LOWER)}:${pw}`).toString('base64');
      return { kind, text: `Basic ${creds}`, cores: [creds, pw], header: 'Authorization' };
    }
    case 'github': {
      const body = r.mixed(36);
      return { kind, text: 'gh' + 'p_' + body, cores: [body], header: 'X-Api-Key' };
    }
    case 'stripe': {
      const body = r.mixed(24);
      return { kind, text: 'sk' + '_live_' + body, cores: [body], header: 'X-Api-Key' };
    }
    case 'slack': {
      const a = r.str(12, DIGITS);
      const body = r.mixed(24);
      return { kind, text: 'xo' + 'xb-' + a + '-' + body, cores: [body, a], header: 'X-Api-Key' };
    }
    case 'aws': {
      const id = r.str(16, UPPER + '234567');
      const secret = r.mixed(40, B64);
      return { kind, text: `${'AK' + 'IA' + id} ${secret}`, cores: [id, secret], header: 'X-Amz-Credentials' };
    }
    case 'google': {
      const body = r.mixed(35, B64URL);
      return { kind, text: 'AI' + 'za' + body, cores: [body], header: 'X-Goog-Api-Key' };
    }
    case 'pem': {
      const lines = Array.from({ length: 4 }, () => r.mixed(64, B64));
      const kindWord = r.pick(['RSA ', 'EC ', '', 'OPENSSH ']);
      const label = `${kindWord}PRIV` + 'ATE KEY';
      return { kind, text: `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----`, cores: lines, header: 'X-Client-Key' };
    }
    case 'google_oauth': {
      const body = r.mixed(80, B64URL);
      return { kind, text: 'ya' + '29.' + body, cores: [body], header: 'Authorization' };
    }
    case 'sendgrid': {
      const a = r.mixed(22, B64URL);
      const b = r.mixed(43, B64URL);
      return { kind, text: 'SG' + '.' + a + '.' + b, cores: [a, b], header: 'X-Api-Key' };
    }
    case 'shopify': {
      const body = r.str(32, HEX);
      return { kind, text: 'shp' + 'at_' + body, cores: [body], header: 'X-Shopify-Access-Token' };
    }
    case 'vault': {
      const body = r.mixed(90, B64URL);
      return { kind, text: 'hv' + 's.' + body, cores: [body], header: 'X-Vault-Token' };
    }
    case 'gitlab': {
      const body = r.mixed(20, ALNUM);
      return { kind, text: 'gl' + 'pat-' + body, cores: [body], header: 'Private-Token' };
    }
    case 'userinfo': {
      const pw = r.mixed(18);
      return { kind, text: `https://u${r.str(6, LOWER)}:${pw}@internal.example/api/v1`, cores: [pw], header: 'Referer' };
    }
    case 'cookie': {
      const v = r.mixed(32);
      const name = r.pick(['JSESSIONID', 'connect.sid', 'laravel_session', 'PHPSESSID']);
      return { kind, text: `theme=dark; ${name}=${v}`, cores: [v], header: 'Cookie' };
    }
    case 'query': {
      const v = r.mixed(28);
      const name = r.pick(['access_token', 'api_key', 'client_secret', 'id_token']);
      return { kind, text: `/v1/orders?page=2&${name}=${v}`, cores: [v], header: 'Referer' };
    }
  }
}

/** Percent-encodes every reserved character and about a third of the others (`%65yJ…`). */
function percentEncode(r: Rng, s: string): string {
  let out = '';
  for (const ch of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(ch);
    const keep = /[A-Za-z0-9_.~-]/.test(c) && !r.chance(0.35);
    out += keep ? c : '%' + ch.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** JSON `\uXXXX` escapes for the first character and about a third of the rest. */
function uEscape(r: Rng, s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const must = c < 0x20 || c === 0x22 || c === 0x5c;
    out += must || i === 0 || r.chance(0.33) ? '\\u' + c.toString(16).padStart(4, '0') : s[i];
  }
  return out;
}

function mixCase(r: Rng, word: string): string {
  return [...word].map((c, i) => (i % 2 === r.int(2) ? c.toUpperCase() : c.toLowerCase())).join('');
}

// ---------------------------------------------------------------------------------------------
// Inputs

/** One planted secret, traceable to its input. */
export interface Plant {
  /** `<input index>.<n>` */
  tag: string;
  kind: SecretKind;
  encoding: Encoding;
  /** where it was put: a field path, `key:<path>` for a JSON key, `kafka-key` */
  where: string;
  /** strings (random cores and encoded forms) none of which may appear in any output */
  forms: string[];
  /** the exact text the plant put into the serialised message (to drop plants a later change overwrote) */
  placed?: string;
}

export type Expectation =
  /** a valid event, nothing planted: processed, no DLQ record */
  | 'clean'
  /** valid event, secrets only in fields the detectors can do without: processed and one quarantine record */
  | 'quarantine'
  /** valid event with a secret in an identifying field: one DLQ record (secret_*), not processed */
  | 'secret_dropped'
  /** not JSON at all: one DLQ record, not processed */
  | 'not_processed'
  /** anything else: one outcome of the three, whichever */
  | 'any';

export interface FuzzInput {
  index: number;
  /** message value (null = a Kafka null value) */
  value: Buffer | null;
  /** Kafka message key */
  key: string | null;
  plants: Plant[];
  /** what was done to it, for the report */
  mutations: string[];
  expect: Expectation;
  /** the expected DLQ reason, when it is certain */
  reason?: string;
}

const FP_KEY = 'fuzz-only-fingerprint-key';
const tfp1 = (s: string) => 'tfp1:' + createHmac('sha256', FP_KEY).update(s).digest('base64url').slice(0, 22);

const IDENTITY = new Set(['tenant', 'cred.sub', 'cred.client_id', 'cred.sid', 'cred.key_id', 'cred.jti', 'cred.fp', 'refresh.issued_fp']);
/** String fields a planted secret is redacted in while the event is still processed. */
const REDACTABLE = ['route', 'ua', 'gateway', 'method', 'geo.city', 'geo.country', 'id'];
/** Extra (unknown) fields: guarded, then dropped by the schema. */
const EXTRAS = ['note', 'headers.x-trace', 'request.body', 'tags.1', 'debug.ctx.msg'];
/** Fields whose type a secret string breaks. */
const TYPED = ['ts', 'ip', 'cred.type', 'status', 'cred.exp', 'v'];
const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'valueOf', '__defineGetter__'];

type Obj = Record<string, unknown>;

function get(o: Obj, path: string): unknown {
  let cur: unknown = o;
  for (const p of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Obj)[p];
  }
  return cur;
}

/** Sets `path` (creating objects, or arrays for numeric segments); own properties only. */
function set(o: Obj, path: string, v: unknown): void {
  const segs = path.split('.');
  let cur = o as Obj;
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i]!;
    let next = Object.hasOwn(cur, s) ? cur[s] : undefined;
    if (typeof next !== 'object' || next === null) {
      next = /^\d+$/.test(segs[i + 1]!) ? ['first'] : {};
      Object.defineProperty(cur, s, { value: next, enumerable: true, writable: true, configurable: true });
    }
    cur = next as Obj;
  }
  Object.defineProperty(cur, segs[segs.length - 1]!, { value: v, enumerable: true, writable: true, configurable: true });
}

function baseEvent(r: Rng, index: number, ts: number, fp: string, over: Partial<AccessEventInput> = {}): Obj {
  return {
    v: 1,
    id: `fz-${index}-${r.str(8, HEX)}`,
    ts: r.chance(0.5) ? ts : new Date(ts).toISOString(),
    ip: r.pick(['81.2.69.160', '89.160.20.112', '2001:db8::7', '203.0.113.9']),
    method: r.pick(['GET', 'POST', 'DELETE']),
    route: r.pick(['/v1/orders/{id}', '/v1/oauth/token', '/v2/users/{id}/keys', '/']),
    status: r.pick([200, 201, 204, 401, 403, 500]),
    tenant: r.pick(['acme', 'globex', 'initech']),
    gateway: 'kong-eu-1',
    ua: r.pick(['okhttp/4.12.0', 'python-requests/2.32', 'Mozilla/5.0 (X11; Linux x86_64)']),
    geo: structuredClone(r.chance(0.5) ? BERLIN : FRANKFURT_DC),
    ...over,
    cred: {
      type: r.pick(['access_token', 'refresh_token', 'api_key', 'session']),
      fp,
      sub: `user-${r.int(50)}`,
      sid: `sess-${r.int(50)}`,
      key_id: `key_${r.int(20)}`,
      exp: FIXTURE_EXP,
      ...((over.cred as Obj | undefined) ?? {}),
    },
  };
}

/** A message under construction: an object, or (after a text mutation) text, or (after a byte mutation) bytes. */
interface Draft {
  obj: Obj | unknown;
  /** replacements applied to the serialised text: \\u escapes of json_escape plants, deep nesting */
  escapes: Array<[string, string]>;
  text?: string;
  bytes?: Buffer | null;
}

function serialise(d: Draft): string {
  if (d.text !== undefined) return d.text;
  let t = JSON.stringify(d.obj) ?? 'null';
  for (const [plain, escaped] of d.escapes) t = t.split(plain).join(escaped);
  return t;
}

class Generator {
  private nPlant = 0;
  constructor(
    private readonly r: Rng,
    private readonly opts: { kafka: boolean },
  ) {}

  /** Builds the string to place for `s` in `enc`; HAR returns an object or a pair. */
  private encode(s: Secret, enc: Encoding, draft: Draft): unknown {
    const r = this.r;
    switch (enc) {
      case 'plain':
        return s.text;
      case 'json_escape': {
        // the message text carries \u escapes, JSON.parse gives the plain secret back
        const escaped = uEscape(r, s.text);
        draft.escapes.push([JSON.stringify(s.text).slice(1, -1), escaped]);
        return s.text;
      }
      case 'nested_escape':
        // a JSON document inside a string, its secret written with \u escapes (`\u0065yJ…`)
        return `{"note":"${uEscape(r, s.text)}","n":1}`;
      case 'percent': {
        return percentEncode(r, s.text);
      }
      case 'double_percent': {
        return percentEncode(r, percentEncode(r, s.text));
      }
      case 'base64': {
        const b = Buffer.from(s.text).toString('base64');
        return r.chance(0.5) ? b : `data=${b}`;
      }
      case 'mixed_case': {
        const m = /^(Bearer|Basic) /.exec(s.text);
        if (m) return `${mixCase(r, m[1]!)} ${s.text.slice(m[0].length)}`;
        return `${mixCase(r, s.header)}: ${s.text}`;
      }
      case 'header_line': {
        const line = s.kind === 'query' ? `GET ${s.text} HTTP/1.1` : `${s.header}: ${s.text}`;
        return `GET /v1/x HTTP/1.1\r\nHost: api.example\r\n${line}\r\nAccept: */*\r\n`;
      }
      case 'har':
        return r.pick([() => ({ name: s.header, value: s.text }), () => [s.header, s.text], () => JSON.stringify({ name: s.header, value: s.text })])();
    }
  }

  private plant(index: number, draft: Draft, where: string, kind?: SecretKind, enc?: Encoding): Plant {
    const r = this.r;
    const s = makeSecret(r, kind ?? r.pick(SECRET_KINDS));
    let e = enc ?? r.pick(ENCODINGS);
    if (where.startsWith('key:') && e === 'har') e = 'plain';
    let value = this.encode(s, e, draft);
    // a HAR pair in a canonical string field goes in as its JSON text
    if (typeof value !== 'string' && (REDACTABLE.includes(where) || IDENTITY.has(where))) value = JSON.stringify(value);
    const o = draft.obj as Obj;
    const esc = draft.escapes.find(([plain]) => plain === JSON.stringify(s.text).slice(1, -1));
    const placed = typeof value === 'string' ? (e === 'json_escape' && esc ? esc[1] : JSON.stringify(value).slice(1, -1)) : JSON.stringify(value);
    if (where.startsWith('key:')) {
      // the secret as a JSON key (keys must be strings)
      const parent = where.slice(4);
      const k = typeof value === 'string' ? value : JSON.stringify(value);
      const holder = parent === '' ? o : ((get(o, parent) as Obj | undefined) ?? {});
      if (parent !== '' && get(o, parent) === undefined) set(o, parent, holder);
      Object.defineProperty(holder, k, { value: r.pick([1, 'x', true, null]), enumerable: true, writable: true, configurable: true });
    } else {
      const old = get(o, where);
      // embedded in the old value or replacing it
      const v = typeof value === 'string' && typeof old === 'string' && r.chance(0.4) ? `${old} ${value}` : value;
      set(o, where, v);
    }
    // only the random cores: an encoded form also holds scaffolding (`-----BEGIN`, `Bearer `) that is no secret;
    // encoded leaks are found by decoding the outputs (views)
    return { tag: `${index}.${++this.nPlant}`, kind: s.kind, encoding: e, where, forms: s.cores, placed };
  }

  /** A valid event with 1–3 secrets in non-identity fields: quarantined and still processed. */
  private quarantined(index: number, base: Obj): { draft: Draft; plants: Plant[] } {
    const draft: Draft = { obj: base, escapes: [] };
    const plants: Plant[] = [];
    const n = 1 + this.r.int(3);
    for (let i = 0; i < n; i++) {
      const where = this.r.chance(0.2) ? this.r.pick(['key:', 'key:headers', 'key:geo', 'key:cred']) : this.r.pick([...REDACTABLE, ...EXTRAS]);
      const enc = where === 'method' || where === 'geo.country' || where === 'geo.city' || where === 'id' ? this.r.pick(ENCODINGS.filter((e) => e !== 'har')) : undefined;
      plants.push(this.plant(index, draft, where, undefined, enc));
    }
    return { draft, plants };
  }

  /** Field-level mutations of a parsed event. */
  private mutateFields(base: Obj, muts: string[], splices: Array<[string, string]>): void {
    const r = this.r;
    const m = r.int(14);
    switch (m) {
      case 0: {
        const f = r.pick(['status', 'ts', 'ip', 'route', 'cred', 'cred.fp', 'cred.exp', 'geo.lat', 'v', 'id', 'tenant', 'method']);
        const v = r.pick([42, -1, true, null, [], {}, ['a'], { x: 1 }, '', 3.5]);
        set(base, f, v);
        muts.push(`wrong_type:${f}=${JSON.stringify(v)}`);
        break;
      }
      case 1: {
        const f = r.pick(['status', 'ts', 'cred.exp', 'geo.lat', 'geo.lon', 'geo.asn', 'geo.accuracy_km']);
        const v = r.pick([Number.MAX_VALUE, 1e21, -1e21, 2 ** 53 + 1, 1e300, Number.MIN_VALUE, -0]);
        set(base, f, v);
        muts.push(`huge_number:${f}=${v}`);
        break;
      }
      case 2: {
        const f = r.pick(['status', 'ts', 'cred.exp', 'geo.lat', 'v']);
        const v = r.pick(['NaN', 'Infinity', '-Infinity', '1e400', '0x1F', '200', ' 200', 'null', '-0']);
        set(base, f, v);
        muts.push(`nan_string:${f}=${v}`);
        break;
      }
      case 3:
        set(base, 'cred.exp', 1e13);
        muts.push('exp_1e13');
        break;
      case 4: {
        const ms = T0 + r.int(3_600_000);
        const [name, v] = r.pick([
          ['ts_seconds', Math.floor(ms / 1000)],
          ['ts_micros', ms * 1000],
          ['ts_nanos', ms * 1_000_000],
          ['ts_year_9999', '9999-12-31T23:59:59Z'],
          ['ts_year_9999_ms', Date.UTC(9999, 11, 31)],
          ['ts_negative', -1],
          ['ts_zero', 0],
          ['ts_float', ms + 0.5],
          ['ts_1999', '1999-12-31T23:59:59Z'],
          ['ts_no_offset', '2026-11-30T10:00:00'],
          ['ts_offset', '2026-11-30T12:00:00+02:00'],
          ['ts_garbage', 'yesterday'],
          ['ts_year_10000', '+010000-01-01T00:00:00Z'],
        ] as Array<[string, unknown]>);
        set(base, 'ts', v);
        muts.push(`${name}=${String(v)}`);
        break;
      }
      case 5: {
        const f = r.pick(['route', 'cred.key_id', 'tenant', 'cred.sub', 'cred.sid', 'cred.client_id', 'cred.jti', 'gateway', 'method', 'geo.city', 'cred.fp', 'id']);
        const v = r.pick(PROTO_NAMES);
        set(base, f, v);
        muts.push(`proto_name:${f}=${v}`);
        break;
      }
      case 6: {
        const f = r.pick(['route', 'id', 'method', 'tenant', 'cred.sub', 'cred.key_id', 'ua', 'ip', 'ts', 'cred.fp', 'cred.type']);
        const v = r.pick(['', ' ', '\t', '\n', '\u00a0', '\u200b', '\u3000']);
        set(base, f, v);
        muts.push(`empty:${f}=${JSON.stringify(v)}`);
        break;
      }
      case 7: {
        // spliced in as text: JSON.stringify itself overflows the stack on the deepest ones
        const depth = r.pick([40, 200, 2000, 20000]);
        const arr = r.chance(0.5);
        const marker = `\u0002deep${splices.length}\u0002`;
        splices.push([JSON.stringify(marker), arr ? '['.repeat(depth) + '"deep"' + ']'.repeat(depth) : '{"d":'.repeat(depth) + '"x"' + '}'.repeat(depth)]);
        set(base, r.pick(['nest', 'geo.extra', 'cred.extra']), marker);
        muts.push(`deep_nesting:${arr ? 'array' : 'object'}x${depth}`);
        break;
      }
      case 8: {
        // around the 64 KiB limit, and now and then far past it
        const size = r.chance(0.02) ? 300_000 : r.pick([1100, 3000, 30_000, 64_000, 70_000]);
        const f = r.pick(['ua', 'route', 'note', 'tenant', 'id']);
        set(base, f, r.str(size, r.pick([ALNUM, 'a', 'é€𝄞'])));
        muts.push(`huge_string:${f}x${size}`);
        break;
      }
      case 9: {
        const f = r.pick(['route', 'ua', 'tenant', 'cred.sub', 'note', 'id']);
        set(base, f, `${String(get(base, f) ?? 'x')}${r.pick(['\u2028', '\u2029', '\r', '\u0000', '\ufeff', '\ud800', '\udfff', '\u001b[31m', '\r\n'])}tail`);
        muts.push(`odd_char:${f}`);
        break;
      }
      case 10: {
        const f = r.pick(['cred', 'geo', 'refresh', 'ip', 'route', 'v', 'id']);
        delete (base as Obj)[f];
        muts.push(`missing:${f}`);
        break;
      }
      case 11: {
        set(base, 'refresh', { issued_fp: r.pick([tfp1(r.str(8)), 'not-a-fingerprint-xx', 'tfp1:short', 'tfp1:' + 'A'.repeat(22) + ' ']) });
        muts.push('refresh_fp');
        break;
      }
      case 12: {
        set(base, 'ip', r.pick(['81.2.69.160:443', '999.1.1.1', '::ffff:81.2.69.160', 'fe80::1%eth0', '127.0.0.1', '0.0.0.0', 'localhost', '10.0.0.1']));
        muts.push('odd_ip');
        break;
      }
      default: {
        set(base, 'geo', r.pick([{ lat: 91, lon: 0 }, { lat: 0, lon: 0, accuracy_km: 1e9 }, { lat: -90, lon: 180, asn: 4294967295 }, { lat: 'x' }, null, 'DE']));
        muts.push('odd_geo');
      }
    }
  }

  /** Text-level mutations of a serialised message. */
  private mutateText(text: string, muts: string[]): string {
    const r = this.r;
    switch (r.int(9)) {
      case 0: {
        const at = 1 + r.int(Math.max(1, text.length - 1));
        muts.push(`truncated@${at}`);
        return text.slice(0, at);
      }
      case 1:
        muts.push('bom');
        return '\ufeff' + text;
      case 2: {
        // raw U+2028/U+2029 and bare CR inside a string (the CR makes it invalid JSON)
        const ch = r.pick(['\u2028', '\u2029', '\r']);
        muts.push(`raw_char_in_string:${JSON.stringify(ch)}`);
        return text.replace('"route":"', `"route":"${ch}`);
      }
      case 3:
        muts.push('cr_whitespace');
        return text.replace(/,/g, ',\r').replace('{', '{\r\n\t ');
      case 4: {
        const v = r.pick(PROTO_NAMES);
        muts.push(`proto_key:${v}`);
        return r.chance(0.5)
          ? text.replace('{', `{"${v}":{"tenant":"polluted","isAdmin":true},`)
          : text.replace('"cred":{', `"cred":{"${v}":{"fp":"tfp1:polluted"},`);
      }
      case 5:
        muts.push('duplicate_keys');
        return text.replace('{', '{"cred":"dup","tenant":7,').replace(/}$/, ',"status":"dup"}');
      case 6:
        muts.push('exp_1e400');
        return text.replace(/"exp":\d+/, '"exp":1e400').replace(/"status":\d+/, '"status":1e400');
      case 7: {
        const root = r.pick(['42', '"just a string"', 'null', '[]', 'true', '[' + text + ']', '{}', '-', '1e999', '"\\ud800"']);
        muts.push(`non_object:${root.slice(0, 12)}`);
        return root;
      }
      default:
        muts.push('trailing_garbage');
        return text + r.pick([' }', '\n{}', ',', '\u0000', ' // x']);
    }
  }

  /** Byte-level mutations: invalid UTF-8 inside a string, raw bytes, empties. */
  private mutateBytes(text: string, muts: string[]): Buffer | null {
    const r = this.r;
    const bad = r.pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xe2, 0x82]]);
    switch (r.int(6)) {
      case 0:
      case 1:
      case 2: {
        const at = text.indexOf('"route":"');
        const buf = Buffer.from(text, 'utf8');
        const cut = at < 0 ? buf.length >> 1 : Buffer.byteLength(text.slice(0, at + 9));
        muts.push(`invalid_utf8:${bad.map((b) => b.toString(16)).join('')}`);
        return Buffer.concat([buf.subarray(0, cut), Buffer.from(bad), buf.subarray(cut)]);
      }
      case 3:
        muts.push('raw_bytes');
        return Buffer.from(Array.from({ length: 1 + r.int(300) }, () => r.int(256)).filter((b) => b !== 0x0a && b !== 0x1e));
      case 4: {
        const v = r.pick(['', ' ', '\t\r ', '\r']);
        muts.push(`blank:${JSON.stringify(v)}`);
        return Buffer.from(v);
      }
      default:
        if (this.opts.kafka) {
          muts.push('raw_bytes_small');
          return Buffer.from([0x00, 0x01, 0xfe]);
        }
        muts.push('null_value');
        return null;
    }
  }

  /** The Kafka key: the producer contract's, or hostile (a prototype name, a secret). */
  private key(index: number, obj: unknown, plants: Plant[]): string | null {
    const r = this.r;
    const roll = r.next();
    if (roll < 0.05) {
      const draft: Draft = { obj: { k: '' }, escapes: [] };
      const p = this.plant(index, draft, 'k', r.pick(['github', 'stripe', 'bearer', 'jwt', 'google']), 'plain');
      plants.push({ ...p, where: 'kafka-key' });
      return String((draft.obj as Obj).k);
    }
    if (roll < 0.1) return r.pick(PROTO_NAMES);
    // Kafka keys are bytes (text or null), whatever the value holds
    try {
      const k: unknown = producerKey((obj as { cred: AccessEventInput['cred'] }).cred);
      return typeof k === 'string' ? k : null;
    } catch {
      return null;
    }
  }

  one(index: number, ts: number, over: Partial<AccessEventInput> = {}, fp = tfp1(`cred-${index}-${this.r.str(6)}`)): FuzzInput {
    const r = this.r;
    const base = baseEvent(r, index, ts, fp, over);
    const muts: string[] = [];
    let plants: Plant[] = [];
    let expect: Expectation = 'any';
    let reason: string | undefined;
    let draft: Draft = { obj: base, escapes: [] };
    const roll = r.next();
    if (roll < 0.12) {
      expect = 'clean';
    } else if (roll < 0.34) {
      ({ draft, plants } = this.quarantined(index, base));
      expect = 'quarantine';
    } else if (roll < 0.44) {
      const where = r.pick([...IDENTITY]);
      plants.push(this.plant(index, draft, where, undefined, r.pick(ENCODINGS.filter((e) => e !== 'har'))));
      expect = 'secret_dropped';
    } else if (roll < 0.52) {
      // a secret where the schema wants another type
      plants.push(this.plant(index, draft, r.pick(TYPED)));
      reason = undefined;
    } else {
      // mutations, with a secret now and then
      if (r.chance(0.4)) plants.push(this.plant(index, draft, r.pick([...REDACTABLE, ...EXTRAS, ...IDENTITY, 'key:', 'key:headers'])));
      this.mutateFields(base, muts, draft.escapes);
      if (r.chance(0.3)) this.mutateFields(base, muts, draft.escapes);
    }
    let text = serialise(draft);
    // a later plant or mutation of the same field overwrote it: it was never sent
    plants = plants.filter((p) => p.placed === undefined || text.includes(p.placed));
    const key = this.key(index, draft.obj, plants);
    let value: Buffer | null = Buffer.from(text, 'utf8');
    if (expect === 'any' && r.chance(0.35)) {
      text = this.mutateText(text, muts);
      value = Buffer.from(text, 'utf8');
    }
    if (expect === 'any' && r.chance(0.15)) value = this.mutateBytes(text, muts);
    return { index, value, key, plants, mutations: muts, expect, reason };
  }

  /** A copied token used from two networks at once (fires multi_ip_replay), secrets in fields it can do without. */
  attack(first: number, start: number): FuzzInput[] {
    const fp = tfp1(`attack-${first}-${this.r.str(6)}`);
    const owner = { ip: '81.2.69.160', geo: BERLIN, ua: 'okhttp/4.12.0' };
    const thief = { ip: '89.160.20.112', geo: FRANKFURT_DC, ua: 'python-requests/2.32' };
    const sub = `victim-${first}`;
    return [owner, thief, owner, thief, owner, thief].map((who, i) => {
      const index = first + i;
      const base = baseEvent(this.r, index, start + i * 7_000, fp, { ...who, geo: structuredClone(who.geo), tenant: 'acme', status: 200 } as Partial<AccessEventInput>);
      const cred = base.cred as Obj;
      Object.assign(cred, { type: 'access_token', sub, sid: `sess-${sub}` });
      let draft: Draft = { obj: base, escapes: [] };
      let plants: Plant[] = [];
      let expect: Expectation = 'clean';
      if (this.r.chance(0.7)) {
        ({ draft, plants } = this.quarantined(index, base));
        expect = 'quarantine';
      }
      const key = producerKey(cred as AccessEventInput['cred']);
      const text = serialise(draft);
      plants = plants.filter((p) => p.placed === undefined || text.includes(p.placed));
      return { index, value: Buffer.from(text, 'utf8'), key, plants, mutations: ['attack'], expect };
    });
  }
}

/**
 * `count` inputs from `seed`: about one in six belongs to a multi-IP replay attack (six events,
 * so alerts and revocations exist to check), the rest single events of every kind above. With
 * `kafka`, every value fits a Kafka message and kcat framing (no LF, no 0x1e, at most 200 kB, no
 * null value).
 */
export function generate(seed: number, count: number, opts: { kafka?: boolean } = {}): FuzzInput[] {
  const r = new Rng(seed);
  const g = new Generator(r, { kafka: opts.kafka ?? false });
  const out: FuzzInput[] = [];
  let t = T0;
  while (out.length < count) {
    t += 1000 + r.int(5000);
    if (r.chance(1 / 36) && out.length + 6 <= count) {
      out.push(...g.attack(out.length, t));
      t += 42_000;
    } else {
      out.push(g.one(out.length, t));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Leak check

/** Length of the windows looked for: any 12 characters of a core in an output is a leak. */
export const WINDOW = 12;

/** `\uXXXX`, `\"`, `\\`, `\/`, `\n`… decoded wherever they are (twice: nested documents). */
function unescapeLoose(s: string): string {
  const once = (t: string) =>
    t.replace(/\\u([0-9a-fA-F]{4})|\\(["\\/bfnrt])/g, (_m, hex: string | undefined, c: string | undefined) =>
      hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : ({ b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' } as Record<string, string>)[c!] ?? c!,
    );
  return once(once(s));
}

/** `%XX` decoded wherever they are, bytes as UTF-8 (twice: double encoding). */
function percentLoose(s: string): string {
  const once = (t: string) => t.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
  return once(once(s));
}

/** Every base64 / base64url run of 16+ characters, decoded (at its start and at the next three offsets, so a cut run still lines up). */
function base64Runs(s: string): string {
  const out: string[] = [];
  for (const m of s.matchAll(/[A-Za-z0-9+/_-]{16,}/g)) {
    // a planted secret's base64 is well under 4 KiB; longer runs are the huge-string mutations
    if (m[0].length > 4096) continue;
    for (let k = 0; k < 4; k++) out.push(Buffer.from(m[0].slice(k), 'base64').toString('latin1'));
  }
  return out.join('\n');
}

/** The views of an output a leak is looked for in. */
export function views(text: string): string[] {
  const u = unescapeLoose(text);
  const p = percentLoose(u);
  const pu = unescapeLoose(p);
  return [text, u, p, pu, base64Runs(text), base64Runs(pu)];
}

export interface Leak {
  tag: string;
  kind: SecretKind;
  encoding: Encoding;
  where: string;
  /** which output */
  output: string;
  /** the first characters of the window found (enough to trace it, never the whole core) */
  window: string;
}

/**
 * Every {@link WINDOW}-character window of every planted form, for one pass over the outputs (a
 * map lookup per position), so partial leaks (a secret cut by an excerpt) are found too.
 */
export class LeakIndex {
  private readonly windows = new Map<string, Plant>();
  /** rolling hashes of the windows as a bit set: one bit test per position before any string is made */
  private readonly bits = new Uint32Array(1 << 21);
  constructor(plants: readonly Plant[]) {
    for (const p of plants) {
      for (const f of p.forms) {
        if (f.length < WINDOW) throw new Error(`plant ${p.tag}: form shorter than ${WINDOW} characters`);
        for (let i = 0; i + WINDOW <= f.length; i++) {
          const w = f.slice(i, i + WINDOW);
          this.windows.set(w, p);
          const h = hashOf(w, 0) >>> 6;
          this.bits[h >>> 5]! |= 1 << (h & 31);
        }
      }
    }
  }

  get size(): number {
    return this.windows.size;
  }

  /** The plants one of whose windows appears in `text` or one of its {@link views}; one leak per plant and output. */
  scan(output: string, text: string): Leak[] {
    const found = new Map<string, Leak>();
    const bits = this.bits;
    for (const v of views(text)) {
      const n = v.length - WINDOW;
      if (n < 0) continue;
      const hits: number[] = [];
      let h = hashOf(v, 0);
      for (let i = 0; ; i++) {
        const b = h >>> 6;
        if ((bits[b >>> 5]! & (1 << (b & 31))) !== 0) hits.push(i);
        if (i >= n) break;
        h = (Math.imul((h - Math.imul(v.charCodeAt(i), TOP)) | 0, BASE) + v.charCodeAt(i + WINDOW)) | 0;
      }
      for (const i of hits) {
        const p = this.windows.get(v.slice(i, i + WINDOW));
        if (p && !found.has(p.tag)) found.set(p.tag, { tag: p.tag, kind: p.kind, encoding: p.encoding, where: p.where, output, window: v.slice(i, i + 4) + '…' });
      }
    }
    return [...found.values()];
  }
}

const BASE = 1_000_003;
/** BASE^(WINDOW-1) mod 2^32 */
const TOP = (() => {
  let t = 1;
  for (let i = 1; i < WINDOW; i++) t = Math.imul(t, BASE);
  return t;
})();
function hashOf(s: string, at: number): number {
  let h = 0;
  for (let i = at; i < at + WINDOW; i++) h = (Math.imul(h, BASE) + s.charCodeAt(i)) | 0;
  return h;
}
