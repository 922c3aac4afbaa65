/**
 * Fuzz input generator: valid v1 events (the event() fixture) with a unique fake secret planted in a
 * random field or key, in a random encoding, plus malformed mutations. Seeded; the seed is printed
 * and TOKENWATCH_FUZZ_SEED overrides it. Every secret is assembled at run time from random
 * characters: no realistic credential literal sits in the repository.
 */
import { event, replayAttack } from '../fixtures/events.js';
import type { AccessEventInput } from '../../schemas/event.js';
import { ALNUM, B64, B64URL, DIGITS, HEX, LOWER, Rng, UPPER } from '../support/random.js';

export interface FuzzInput {
  /** index in the generated list */
  i: number;
  bytes: Buffer;
  /** what was done: `<secret kind>@<location>/<encoding>` and/or `malformed:<mutation>` */
  kind: string;
  /** the planted secret as a plain string (absent: none) */
  secret?: string;
  /** its distinctive core (≥ 12 chars) */
  core?: string;
  /** strings (≥ 12 chars) that must never appear in any output: the core, its decoded and encoded forms */
  forms: string[];
}

// ---------------------------------------------------------------------------------------------
// PRNG

const randomSeed = (Math.random() * 2 ** 32) >>> 0;
/** The run's seed: TOKENWATCH_FUZZ_SEED, else one random seed per test file. */
export function seedFromEnv(): number {
  const env = process.env.TOKENWATCH_FUZZ_SEED;
  return env ? Number(env) >>> 0 : randomSeed;
}

export { Rng };


/** Random text that always mixes cases and digits (so it looks random to an entropy check). */
function mixed(r: Rng, n: number, alphabet = ALNUM): string {
  return r.str(1, UPPER) + r.str(1, LOWER) + r.str(1, DIGITS) + r.str(n - 3, alphabet);
}

// ---------------------------------------------------------------------------------------------
// Secrets

export interface Secret {
  kind: string;
  value: string;
  core: string;
  /** decoded forms that must not appear either */
  extra: string[];
}

const b64url = (s: string) => Buffer.from(s).toString('base64url');

export const SECRET_KINDS = [
  'jwt', 'bearer', 'basic', 'ghp', 'sk_live', 'xoxb', 'aws', 'aiza', 'pem', 'ya29', 'sendgrid', 'shpat', 'hvs', 'glpat', 'url_userinfo', 'jsessionid', 'access_token_qs',
] as const;

export function makeSecret(r: Rng, kind: (typeof SECRET_KINDS)[number]): Secret {
  switch (kind) {
    case 'jwt': {
      const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: r.str(8, ALNUM) }));
      const payload = b64url(JSON.stringify({ sub: `user-${r.str(10, ALNUM)}`, exp: 1796032800, jti: r.str(16, ALNUM) }));
      const sig = r.str(43, B64URL);
      return { kind, value: `${header}.${payload}.${sig}`, core: payload, extra: [sig] };
    }
    case 'bearer': {
      const t = mixed(r, 32, ALNUM + '-._~');
      return { kind, value: `Bearer ${t}`, core: t, extra: [] };
    }
    case 'basic': {
      const pw = `hunter${mixed(r, 12)}!`;
      const b = Buffer.from(`alice:${pw}`).toString('base64');
      return { kind, value: `Basic ${b}`, core: b, extra: [pw] };
    }
    case 'ghp': {
      const v = 'gh' + 'p_' + mixed(r, 36);
      return { kind, value: v, core: v, extra: [] };
    }
    case 'sk_live': {
      const v = 'sk' + '_live_' + mixed(r, 24);
      return { kind, value: v, core: v, extra: [] };
    }
    case 'xoxb': {
      const tail = mixed(r, 24);
      const v = `xo${'xb'}-${r.str(11, DIGITS)}-${r.str(12, DIGITS)}-${tail}`;
      return { kind, value: v, core: tail, extra: [] };
    }
    case 'aws': {
      const id = 'AK' + 'IA' + r.str(16, UPPER + '234567');
      const secret = mixed(r, 40, B64);
      return { kind, value: `aws_access_key_id=${id} aws_secret_access_key=${secret}`, core: secret, extra: [] };
    }
    case 'aiza': {
      const v = 'AI' + 'za' + 'Sy' + mixed(r, 33, B64URL);
      return { kind, value: v, core: v, extra: [] };
    }
    case 'pem': {
      const lines = Array.from({ length: 4 }, () => mixed(r, 64, B64));
      const v = `-----BEGIN ${'PRIVATE'} KEY-----\n${lines.join('\n')}\n-----END ${'PRIVATE'} KEY-----`;
      return { kind, value: v, core: lines[1]!, extra: lines.filter((_, i) => i !== 1) };
    }
    case 'ya29': {
      const t = mixed(r, 60, B64URL);
      return { kind, value: `ya${'29'}.${t}`, core: t, extra: [] };
    }
    case 'sendgrid': {
      const a = mixed(r, 22, B64URL);
      const b = mixed(r, 43, B64URL);
      return { kind, value: `S${'G'}.${a}.${b}`, core: b, extra: [a] };
    }
    case 'shpat': {
      const v = 'sh' + 'pat_' + r.str(32, HEX);
      return { kind, value: v, core: v, extra: [] };
    }
    case 'hvs': {
      const t = mixed(r, 24);
      return { kind, value: `hv${'s'}.${t}`, core: t, extra: [] };
    }
    case 'glpat': {
      const t = mixed(r, 20, ALNUM + '-_');
      return { kind, value: `gl${'pat'}-${t}`, core: t, extra: [] };
    }
    case 'url_userinfo': {
      const pw = `pw${mixed(r, 16)}`;
      return { kind, value: `https://deploy:${pw}@git.example.com/repo.git`, core: pw, extra: [] };
    }
    case 'jsessionid': {
      const t = r.str(32, HEX.toUpperCase());
      return { kind, value: `JSESSIONID=${t}`, core: t, extra: [] };
    }
    case 'access_token_qs': {
      const t = mixed(r, 32, ALNUM + '-._~');
      return { kind, value: `/v1/orders?access_token=${t}&page=2`, core: t, extra: [] };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Encodings and locations

export const ENCODINGS = ['plain', 'json_u', 'percent', 'base64', 'header', 'har'] as const;
export const LOCATIONS = ['route', 'ua', 'tenant', 'gateway', 'cred.sub', 'cred.sid', 'id', 'extra', 'key'] as const;

function percentAll(r: Rng, s: string): string {
  // every non-alphanumeric character, the first one and a random third of the rest
  return [...s].map((c, i) => (i === 0 || !/[A-Za-z0-9]/.test(c) || r.chance(0.33) ? [...Buffer.from(c)].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('') : c)).join('');
}

function encode(r: Rng, enc: (typeof ENCODINGS)[number], s: Secret): { text: string; forms: string[] } {
  switch (enc) {
    case 'plain':
    case 'json_u':
      return { text: s.value, forms: [] };
    case 'percent': {
      const t = percentAll(r, s.value);
      return { text: t, forms: [t] };
    }
    case 'base64': {
      const t = Buffer.from(s.value).toString('base64');
      return { text: t, forms: [t] };
    }
    case 'header':
      return { text: `X-Api-Key: ${s.value}`, forms: [] };
    case 'har':
      return { text: JSON.stringify({ name: 'Authorization', value: s.value }), forms: [] };
  }
}

// ---------------------------------------------------------------------------------------------
// Events

const MARK = '\u0001PLANT\u0001';

function randomFp(r: Rng): string {
  return 'tfp1:' + r.str(22, B64URL);
}

function setPath(o: Record<string, unknown>, path: string, v: unknown): void {
  const parts = path.split('.');
  let cur = o;
  for (const p of parts.slice(0, -1)) cur = cur[p] as Record<string, unknown>;
  cur[parts.at(-1)!] = v;
}

/** Valid-event bases: standalone events or members of a replay attack (so alerts carry fields). */
function bases(r: Rng, n: number, startMs: number): Array<{ ev: AccessEventInput; fp: string }> {
  const out: Array<{ ev: AccessEventInput; fp: string }> = [];
  while (out.length < n) {
    const ts = startMs + out.length * 1_000;
    if (r.chance(0.35)) {
      const fp = randomFp(r);
      for (const ev of replayAttack(fp, ts, 'fz')) out.push({ ev: { ...ev, ts: ts + (out.length % 6) * 1_000 }, fp });
    } else {
      const fp = randomFp(r);
      out.push({ ev: event({ ts, fp, route: r.pick(['/v1/orders/{id}', '/v1/users/{id}', '/health', '/v2/pay']) }, 'fz'), fp });
    }
  }
  return out.slice(0, n);
}

function plant(r: Rng, ev: AccessEventInput): { text: string; secret: Secret; forms: string[]; kind: string } {
  const secret = makeSecret(r, r.pick(SECRET_KINDS));
  const enc = r.pick(ENCODINGS);
  const loc = r.pick(LOCATIONS);
  const { text, forms } = encode(r, enc, secret);
  const o = structuredClone(ev) as unknown as Record<string, unknown>;
  if (loc === 'extra') o[r.pick(['note', 'authorization', 'x_debug', 'header'])] = MARK;
  else if (loc === 'key') o[MARK] = r.pick(['1', 'x', 'true']);
  else setPath(o, loc, MARK);
  let escaped = JSON.stringify(text).slice(1, -1);
  if (enc === 'json_u') escaped = `\\u${escaped.charCodeAt(0).toString(16).padStart(4, '0')}${escaped.slice(1)}`;
  const raw = JSON.stringify(o).replace(JSON.stringify(MARK).slice(1, -1), () => escaped);
  return { text: raw, secret, forms, kind: `${secret.kind}@${loc}/${enc}` };
}

// ---------------------------------------------------------------------------------------------
// Malformed mutations

export const MUTATIONS = [
  'wrong_type', 'exp_1e13', 'ts_s', 'ts_us', 'ts_ns', 'ts_9999', 'proto_route', 'proto_key_id', 'proto_tenant', 'proto_key',
  'empty', 'whitespace', 'truncated', 'deep', 'huge_string', 'invalid_utf8', 'bom', 'u2028', 'null_json', 'array',
] as const;

function mutate(r: Rng, ev: AccessEventInput, raw: string, m: (typeof MUTATIONS)[number]): Buffer {
  const o = JSON.parse(raw) as Record<string, any>;
  const ts = ev.ts as number;
  switch (m) {
    case 'wrong_type': {
      const f = r.pick(['ts', 'status', 'ip', 'route', 'cred', 'geo', 'v', 'method']);
      o[f] = r.pick([true, [], {}, 'x', 12.5, -1, null]);
      break;
    }
    case 'exp_1e13':
      o.cred.exp = 1e13;
      break;
    case 'ts_s':
      o.ts = Math.floor(ts / 1000);
      break;
    case 'ts_us':
      o.ts = ts * 1000;
      break;
    case 'ts_ns':
      o.ts = String(BigInt(ts) * 1_000_000n);
      return Buffer.from(JSON.stringify(o).replace(`"ts":"${o.ts}"`, `"ts":${o.ts}`));
    case 'ts_9999':
      o.ts = Date.UTC(9999, 0, 1);
      break;
    case 'proto_route':
      o.route = r.pick(['__proto__', 'constructor', 'toString']);
      break;
    case 'proto_key_id':
      o.cred.key_id = r.pick(['__proto__', 'constructor', 'toString']);
      break;
    case 'proto_tenant':
      o.tenant = r.pick(['__proto__', 'constructor', 'toString']);
      break;
    case 'proto_key':
      return Buffer.from(raw.replace(/^\{/, `{"${r.pick(['__proto__', 'constructor', 'toString'])}":{"polluted":1},`));
    case 'empty':
      return Buffer.alloc(0);
    case 'whitespace':
      return Buffer.from(r.pick([' ', '\t', '   \t ', '\r\r']));
    case 'truncated':
      return Buffer.from(raw.slice(0, 1 + r.int(raw.length - 2)));
    case 'deep': {
      const d = 2000;
      const inner = '{"a":'.repeat(d) + '1' + '}'.repeat(d);
      return Buffer.from(raw.replace(/\}$/, `,"nest":${r.chance(0.5) ? inner : '['.repeat(d) + ']'.repeat(d)}}`));
    }
    case 'huge_string':
      o[r.pick(['route', 'ua', 'tenant', 'note'])] = r.str(70 * 1024, ALNUM);
      break;
    case 'invalid_utf8': {
      const b = Buffer.from(raw);
      const at = raw.indexOf('"route":"') + 9;
      return Buffer.concat([b.subarray(0, at), Buffer.from(r.pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]])), b.subarray(at)]);
    }
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(raw)]);
    case 'u2028':
      o.ua = `okhttp\u2028/4\u2029x`;
      return Buffer.from(JSON.stringify(o)); // JSON.stringify keeps U+2028 raw
    case 'null_json':
      return Buffer.from(r.pick(['null', '0', '"x"', 'true', '{}']));
    case 'array':
      return Buffer.from(`[${raw},${raw}]`);
  }
  return Buffer.from(JSON.stringify(o));
}

// ---------------------------------------------------------------------------------------------

export interface GenerateOptions {
  n: number;
  seed: number;
  /** ts of the first event, epoch ms */
  startMs: number;
  /** share of inputs with a planted secret (default 0.5) */
  plantRate?: number;
  /** share of malformed inputs (default 0.3) */
  malformedRate?: number;
}

export function generate(opts: GenerateOptions): FuzzInput[] {
  const r = new Rng(opts.seed);
  const out: FuzzInput[] = [];
  for (const [i, { ev }] of bases(r, opts.n, opts.startMs).entries()) {
    let raw = JSON.stringify(ev);
    let secret: Secret | undefined;
    let forms: string[] = [];
    const kinds: string[] = [];
    if (r.chance(opts.plantRate ?? 0.5)) {
      const p = plant(r, ev);
      raw = p.text;
      secret = p.secret;
      forms = p.forms;
      kinds.push(p.kind);
    }
    let bytes: Buffer = Buffer.from(raw);
    if (r.chance(opts.malformedRate ?? 0.3)) {
      const m = r.pick(MUTATIONS);
      bytes = mutate(r, ev, raw, m);
      kinds.push(`malformed:${m}`);
    }
    // the core without its first character too (a JSON \\u escape of it leaves the rest literal): any output holding the core holds it
    const needles = secret ? [...new Set([secret.core, secret.core.slice(1), ...secret.extra, ...forms])].filter((f) => f.length >= 12) : [];
    // a mutation that dropped the secret (truncation, empty, a replaced field, …) plants nothing
    const text = bytes.toString('latin1');
    const kept = needles.some((n) => text.includes(n));
    out.push({
      i,
      bytes,
      kind: kinds.join('+') || 'valid',
      ...(kept ? { secret: secret!.value, core: secret!.core } : {}),
      forms: kept ? needles : [],
    });
  }
  return out;
}

/** Needles of `inputs` found in `text`: [input index, needle]. */
export function leaksIn(inputs: readonly FuzzInput[], text: string): Array<{ i: number; kind: string; needle: string }> {
  const hits: Array<{ i: number; kind: string; needle: string }> = [];
  for (const f of inputs) for (const n of f.forms) if (text.includes(n)) hits.push({ i: f.i, kind: f.kind, needle: n });
  return hits;
}
