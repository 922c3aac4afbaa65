/**
 * Readers shared by the gateway adapters. Everything here is pure, compiled once at module load,
 * and safe on untrusted input: objects are read with `Object.hasOwn` through constant keys only,
 * values are type-checked, and no function echoes a value into a failure detail.
 *
 * Conventions (see README.md in this folder): `""`, `"-"` and `null` mean absent (NGINX logs ""
 * for an unset variable with escape=json, HAProxy, Envoy and AWS log "-", Envoy's typed JSON logs
 * null); numbers may arrive as strings.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { CREDENTIAL_TYPES, type AccessEventInput } from '../../../schemas/event.js';
import { TFP1_RE } from '../../../schemas/fingerprint.js';
import type { AdaptContext, AdaptFailure, AdaptResult, AdapterName, RawSecret } from './types.js';

export { TFP1_RE };

export type Rec = Record<string, unknown>;

/** Marks a value that is present but unreadable (wrong type or format). */
export const BAD = Symbol('bad');
export type Read<T> = T | undefined | typeof BAD;

const NUMERIC_RE = /^-?\d+(?:\.\d+)?$/;
const INT_RE = /^-?\d+$/;
const METHOD_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
const CLF_RE = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;
const MONTHS = new Map(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((m, i) => [m, i]));
const MAX_TS_MS = 8.64e15;

/** A plain JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `o[key]` when `o` is a plain object that owns `key`; never follows the prototype chain. */
export function get(o: unknown, key: string): unknown {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
  const v = (o as Rec)[key];
  return v !== undefined && Object.hasOwn(o, key) ? v : undefined;
}

/** A string (numbers are stringified); `""`, `"-"`, `null` and `undefined` are absent. */
export function text(v: unknown): Read<string> {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v === '' || v === '-' ? undefined : v;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : BAD;
  return BAD;
}

/** A header value as gateways serialise it: a string, or an array of strings for a repeated header. */
export function headerText(v: unknown): Read<string> {
  if (Array.isArray(v)) return v.length === 0 ? undefined : text(v[0]);
  return text(v);
}

/** An integer from a number or a decimal string. */
export function int(v: unknown): Read<number> {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : BAD;
  const t = text(v);
  if (t === undefined || t === BAD) return t;
  if (!INT_RE.test(t)) return BAD;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : BAD;
}

/**
 * HTTP status, 100–599. `0` and `-1` (no response was sent: the client went away first, as Envoy
 * and HAProxy log it) become 499, NGINX's "client closed request".
 */
export function status(v: unknown): Read<number> {
  const n = int(v);
  if (n === undefined || n === BAD) return n;
  if (n === 0 || n === -1) return 499;
  return n >= 100 && n <= 599 ? n : BAD;
}

/** An HTTP method token (RFC 9110 `token`, at most 32 characters). */
export function method(v: unknown): Read<string> {
  const t = text(v);
  if (t === undefined || t === BAD) return t;
  return METHOD_RE.test(t) ? t : BAD;
}

/**
 * A client address without port: `1.2.3.4:5678` → `1.2.3.4`, `[2001:db8::1]:443` → `2001:db8::1`,
 * a bare IPv6 address is kept, an IPv6 zone (`%eth0`) is dropped, `::ffff:1.2.3.4` → `1.2.3.4`.
 */
export function ip(v: unknown): Read<string> {
  const t = text(v);
  if (t === undefined || t === BAD) return t;
  let a = t.trim();
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    if (end < 0) return BAD;
    a = a.slice(1, end);
  } else {
    const colon = a.indexOf(':');
    if (colon >= 0 && colon === a.lastIndexOf(':')) a = a.slice(0, colon);
  }
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  if (a.length > 7 && a.slice(0, 7).toLowerCase() === '::ffff:' && isIP(a.slice(7)) === 4) a = a.slice(7);
  return isIP(a) === 0 ? BAD : a;
}

/** The path of a request target, without scheme, host, query string or fragment (a query may carry secrets). */
export function pathOnly(target: string): string {
  let p = target;
  const scheme = p.indexOf('://');
  if (scheme > 0 && scheme < 10 && p.charCodeAt(0) !== 47) {
    const slash = p.indexOf('/', scheme + 3);
    p = slash < 0 ? '/' : p.slice(slash);
  }
  let cut = p.length;
  const q = p.indexOf('?');
  if (q >= 0) cut = q;
  const h = p.indexOf('#');
  if (h >= 0 && h < cut) cut = h;
  p = p.slice(0, cut);
  if (p === '') p = '/';
  return p.length > 2048 ? p.slice(0, 2048) : p;
}

function msFromParts(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number, offsetMin: number): Read<number> {
  if (y < 1970 || mo < 0 || mo > 11 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return BAD;
  const t = Date.UTC(y, mo, d, h, mi, s, ms) - offsetMin * 60_000;
  return Number.isFinite(t) && t >= 0 && t <= MAX_TS_MS ? t : BAD;
}

/** Digits of `s` in [from, to) as a number, or -1 when one is not a digit. */
function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * RFC 3339 / ISO 8601 with a zone (`Z` or `±hh:mm` / `±hhmm`), `T` or space, any number of fraction
 * digits (Traefik logs nanoseconds). Hand-parsed: this runs once per event.
 */
export function isoMs(s: string): Read<number> {
  if (s.length < 20 || s.length > 40) return BAD;
  const sep = s.charCodeAt(10);
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || (sep !== 84 && sep !== 116 && sep !== 32)) return BAD;
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return BAD;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 7);
  const d = digits(s, 8, 10);
  const h = digits(s, 11, 13);
  const mi = digits(s, 14, 16);
  const sec = digits(s, 17, 19);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) return BAD;
  let i = 19;
  let ms = 0;
  const dot = s.charCodeAt(i);
  if (dot === 46 || dot === 44) {
    i++;
    const start = i;
    while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
    if (i === start) return BAD;
    const take = Math.min(3, i - start);
    ms = digits(s, start, start + take) * (take === 1 ? 100 : take === 2 ? 10 : 1);
  }
  let off = 0;
  const z = s.charCodeAt(i);
  if (z === 90 || z === 122) {
    if (i + 1 !== s.length) return BAD;
  } else if (z === 43 || z === 45) {
    const rest = s.length - i - 1;
    const colon = rest === 5 && s.charCodeAt(i + 3) === 58;
    if (rest !== 4 && !colon) return BAD;
    const oh = digits(s, i + 1, i + 3);
    const om = colon ? digits(s, i + 4, i + 6) : digits(s, i + 3, i + 5);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return BAD;
    off = (z === 45 ? -1 : 1) * (oh * 60 + om);
  } else return BAD;
  return msFromParts(y, mo - 1, d, h, mi, sec, ms, off);
}

/** Common Log Format time, `dd/MMM/yyyy:HH:mm:ss ±hhmm` (AWS `$context.requestTime`). */
export function clfMs(s: string): Read<number> {
  const m = CLF_RE.exec(s);
  if (!m) return BAD;
  const mo = MONTHS.get(m[2]!);
  if (mo === undefined) return BAD;
  const off = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  return msFromParts(Number(m[3]), mo, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]), 0, off);
}

/**
 * An epoch time, number or numeric string, in the given unit, to integer epoch ms. `auto` reads
 * values below 1e11 as seconds (1e11 s is the year 5138, 1e11 ms is 1973).
 */
export function epochMs(v: unknown, unit: 's' | 'ms' | 'auto'): Read<number> {
  let n: number;
  if (typeof v === 'number') n = v;
  else {
    const t = text(v);
    if (t === undefined || t === BAD) return t;
    if (!NUMERIC_RE.test(t)) return BAD;
    n = Number(t);
  }
  if (!Number.isFinite(n)) return BAD;
  const ms = Math.round(unit === 's' || (unit === 'auto' && Math.abs(n) < 1e11) ? n * 1000 : n);
  return ms >= 0 && ms <= MAX_TS_MS ? ms : BAD;
}

/** A time field that may be RFC 3339 text or an epoch number (in `unit`). */
export function timeMs(v: unknown, unit: 's' | 'ms' | 'auto'): Read<number> {
  const t = text(v);
  if (t === undefined || t === BAD) return t;
  return NUMERIC_RE.test(t) ? epochMs(t, unit) : isoMs(t);
}

/** Deterministic event id for gateways that log no request id: unique per Kafka message, stable on replay. */
export function offsetId(ctx: AdaptContext): string {
  const s = `kafka:${ctx.topic}:${ctx.partition}:${ctx.offset}`;
  return s.length <= 128 ? s : `kafka:${createHash('sha256').update(s).digest('base64url')}`;
}

/** A failure on gateway field `field`; `detail` must not contain record values (cut to 200 chars). */
export function fail(field: string, detail: string): AdaptFailure {
  return { ok: false, field, detail: detail.length > 200 ? detail.slice(0, 200) : detail };
}

// ---------------------------------------------------------------------------------------------
// Raw credentials in a gateway payload, found by field NAME. The secret guard finds them by value;
// the adapter names them so the quarantine record can say which gateway setting stops them.

/** Names (header, query parameter, JSON key) that hold a credential; matched on the name's end. */
const CREDENTIAL_NAME_RE =
  /(?:authorization|cookies?|token|secret|passw(?:or)?d|passphrase|api[-_]?key|(?:access|auth|private|secret|client|signing|master)[-_]?key|credentials?)$/i;
/** Names we are willing to echo in a `rawSecrets` field (short, printable). */
const PRINTABLE_NAME_RE = /^[A-Za-z0-9_.:@-]{1,64}$/;
/** Values that are redaction placeholders, not credentials (tested on the trimmed value: no backtracking). */
const PLACEHOLDER_RE = /^(?:redacted|\[redacted\]|<redacted>|\*+|-)$/i;

function placeholder(v: string): boolean {
  const t = v.trim();
  return t === '' || (t.length <= 16 && PLACEHOLDER_RE.test(t));
}

/** Last two letters (lower case) of the names CREDENTIAL_NAME_RE matches: a cheap filter before it. */
const CREDENTIAL_ENDINGS = new Set(['on', 'en', 'ie', 'es', 'et', 'rd', 'wd', 'se', 'ey', 'al', 'ls'].map((e) => e.charCodeAt(0) * 128 + e.charCodeAt(1)));

/** True when `name` ends like a credential-bearing name; looks at the last 16 characters only. */
export function isCredentialName(name: string): boolean {
  const n = name.length;
  if (n < 3 || !CREDENTIAL_ENDINGS.has((name.charCodeAt(n - 2) | 0x20) * 128 + (name.charCodeAt(n - 1) | 0x20))) return false;
  return CREDENTIAL_NAME_RE.test(n > 16 ? name.slice(n - 16) : name);
}

/** A value that may be a credential: a non-placeholder string, a number, or a non-empty list or object. */
function live(v: unknown): boolean {
  if (typeof v === 'string') return !placeholder(v);
  if (typeof v === 'number') return true;
  if (Array.isArray(v)) return v.some((x) => (typeof x === 'string' ? !placeholder(x) : x !== null && x !== undefined && typeof x !== 'boolean'));
  if (isRecord(v)) return Object.keys(v).length > 0;
  return false;
}

function push(out: RawSecret[], field: string, setting: string): void {
  if (!out.some((s) => s.field === field)) out.push({ field, setting });
}

/**
 * Reports every key of `obj` whose name holds a credential and whose value is not a redaction
 * placeholder. `prefix` is the dotted path of `obj` (`"request.headers."`, or `""` at the top).
 */
export function scanNamed(obj: unknown, prefix: string, setting: (name: string) => string, out: RawSecret[]): void {
  if (!isRecord(obj)) return;
  for (const key of Object.keys(obj)) {
    if (!isCredentialName(key) || !live(obj[key])) continue;
    if (PRINTABLE_NAME_RE.test(key)) push(out, prefix + key, setting(key));
    else push(out, prefix === '' ? '(record)' : prefix.slice(0, -1), setting('<name>'));
  }
}

/** Reports credential-named query parameters with a value in a request target (`/p?apikey=…`). */
export function scanQuery(target: unknown, field: string, setting: string, out: RawSecret[]): void {
  if (typeof target !== 'string') return;
  const q = target.indexOf('?');
  if (q < 0) return;
  const h = target.indexOf('#', q);
  const query = target.slice(q + 1, h < 0 ? undefined : h);
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const value = part.slice(eq + 1);
    if (placeholder(value)) continue;
    let name = part.slice(0, eq);
    try {
      name = decodeURIComponent(name);
    } catch {
      // keep the raw name
    }
    if (!isCredentialName(name)) continue;
    push(out, PRINTABLE_NAME_RE.test(name) ? `${field}?${name}` : field, setting);
  }
}

// ---------------------------------------------------------------------------------------------
// Credential facts computed in the gateway by the tokenwatch snippet (`tw_*`, see README.md).

export const TW_KEYS = [
  'tw_fp',
  'tw_cred_type',
  'tw_sub',
  'tw_sid',
  'tw_client_id',
  'tw_key_id',
  'tw_jti',
  'tw_exp',
  'tw_tenant',
  'tw_route',
  'tw_issued_fp',
  'tw_issued_access_fp',
] as const;
export type TwKey = (typeof TW_KEYS)[number];

type Cred = AccessEventInput['cred'];
type CredentialType = Cred['type'];
const CRED_TYPES: ReadonlySet<string> = new Set(CREDENTIAL_TYPES);

/** Optional string facts and the `cred` property each fills. */
const ID_FACTS = [
  ['tw_sub', 'sub'],
  ['tw_sid', 'sid'],
  ['tw_client_id', 'client_id'],
  ['tw_key_id', 'key_id'],
  ['tw_jti', 'jti'],
] as const;

export interface Facts {
  cred: Cred;
  refresh?: NonNullable<AccessEventInput['refresh']>;
  tenant?: string;
  route?: string;
}

function fingerprintOf(v: unknown, key: TwKey): Read<string> | AdaptFailure {
  const t = text(v);
  if (t === undefined) return undefined;
  if (t === BAD) return fail(key, 'must be a string');
  return TFP1_RE.test(t) ? t : fail(key, 'not a tfp1 fingerprint ("tfp1:" + 22 base64url chars); the snippet must log the fingerprint, never the credential');
}

function idOf(v: unknown, key: TwKey, max: number): string | undefined | AdaptFailure {
  const t = text(v);
  if (t === undefined) return undefined;
  if (t === BAD) return fail(key, 'must be a string or a number');
  return t.length <= max ? t : fail(key, `longer than ${max} characters`);
}

function isFailure(v: unknown): v is AdaptFailure {
  return isRecord(v) && v.ok === false;
}

/**
 * Reads the `tw_*` facts through `read` (which knows where the gateway keeps them). `fpHelp` says
 * which snippet and setting provide `tw_fp`, for the failure detail of a record without it.
 */
export function readFacts(read: (key: TwKey) => unknown, fpHelp: string): Facts | AdaptFailure {
  const fp = fingerprintOf(read('tw_fp'), 'tw_fp');
  if (isFailure(fp)) return fp;
  if (fp === undefined || fp === BAD) return fail('tw_fp', fpHelp);

  const typeText = text(read('tw_cred_type'));
  if (typeText === BAD || (typeText !== undefined && !CRED_TYPES.has(typeText))) {
    return fail('tw_cred_type', 'must be one of access_token, refresh_token, api_key, session');
  }
  const cred: Cred = { type: (typeText ?? 'access_token') as CredentialType, fp };

  for (const [key, prop] of ID_FACTS) {
    const v = idOf(read(key), key, 256);
    if (isFailure(v)) return v;
    if (v !== undefined) cred[prop] = v;
  }

  const exp = int(read('tw_exp'));
  if (exp === BAD || (exp !== undefined && exp < 0)) return fail('tw_exp', 'must be an integer, epoch seconds');
  if (exp !== undefined && exp > 1e11) return fail('tw_exp', 'must be epoch seconds; the value is millisecond-sized');
  if (exp !== undefined) cred.exp = exp;

  const facts: Facts = { cred };
  const tenant = idOf(read('tw_tenant'), 'tw_tenant', 256);
  if (isFailure(tenant)) return tenant;
  if (tenant !== undefined) facts.tenant = tenant;
  const route = idOf(read('tw_route'), 'tw_route', 2048);
  if (isFailure(route)) return route;
  if (route !== undefined) facts.route = pathOnly(route);

  const issued = fingerprintOf(read('tw_issued_fp'), 'tw_issued_fp');
  if (isFailure(issued)) return issued;
  const issuedAccess = fingerprintOf(read('tw_issued_access_fp'), 'tw_issued_access_fp');
  if (isFailure(issuedAccess)) return issuedAccess;
  if (typeof issued === 'string' || typeof issuedAccess === 'string') {
    facts.refresh = {};
    if (typeof issued === 'string') facts.refresh.issued_fp = issued;
    if (typeof issuedAccess === 'string') facts.refresh.issued_access_fp = issuedAccess;
  }
  return facts;
}

/** Reads `tw_*` facts kept as flat top-level keys of the record. */
export function flatFacts(record: Rec, fpHelp: string): Facts | AdaptFailure {
  return readFacts((key) => get(record, key), fpHelp);
}

// ---------------------------------------------------------------------------------------------
// Assembling the event.

export interface Core {
  id: Read<string>;
  ts: Read<number>;
  ip: Read<string>;
  method: Read<string>;
  route: Read<string>;
  status: Read<number>;
  ua?: Read<string>;
}

/** Names of the gateway fields each canonical field was read from, for failure details. */
export type CoreFields = Record<'id' | 'ts' | 'ip' | 'method' | 'route' | 'status', string> & { ua?: string };

const CORE_DETAIL: Record<keyof Omit<Core, 'ua'>, [missing: string, bad: string]> = {
  id: ['no request id', 'request id must be a string of 1-128 characters'],
  ts: ['no request time, and the Kafka message has no timestamp', 'unreadable time (expected RFC 3339 with a zone, or an epoch number)'],
  ip: ['no client address', 'not an IP address (optionally with :port)'],
  method: ['no HTTP method', 'not an HTTP method token'],
  route: ['no request path', 'request path must be a string'],
  status: ['no HTTP status', 'HTTP status must be an integer 100-599'],
};

/**
 * Checks the core fields in a fixed order and builds the event. A record without a request id gets
 * `offsetId(ctx)`; one without a time gets the Kafka message timestamp. `gateway` is the adapter
 * name: bounded, and the same for every record of a topic.
 */
export function build(name: AdapterName, core: Core, fields: CoreFields, facts: Facts, ctx: AdaptContext): AdaptResult {
  let ts = core.ts;
  if (ts === undefined && typeof ctx.timestampMs === 'number' && Number.isFinite(ctx.timestampMs) && ctx.timestampMs > 0) {
    ts = Math.round(ctx.timestampMs);
  }
  const checked = { ...core, id: core.id ?? offsetId(ctx), ts, route: facts.route ?? core.route };
  for (const key of ['id', 'ts', 'ip', 'method', 'route', 'status'] as const) {
    const v = checked[key];
    if (v === undefined) return fail(fields[key], CORE_DETAIL[key][0]);
    if (v === BAD) return fail(fields[key], CORE_DETAIL[key][1]);
  }
  const id = checked.id as string;
  if (id.length > 128) return fail(fields.id, CORE_DETAIL.id[1]);
  const event: AccessEventInput = {
    v: 1,
    id,
    ts: checked.ts as number,
    ip: checked.ip as string,
    method: checked.method as string,
    route: checked.route as string,
    status: checked.status as number,
    gateway: name,
    cred: facts.cred,
  };
  if (typeof core.ua === 'string') event.ua = core.ua.length > 1024 ? core.ua.slice(0, 1024) : core.ua;
  if (facts.tenant !== undefined) event.tenant = facts.tenant;
  if (facts.refresh !== undefined) event.refresh = facts.refresh;
  return { ok: true, event };
}

/**
 * Wraps a mapping so the adapter never throws and always attaches the raw secrets it saw. `map`
 * receives a plain object (anything else fails on field `record`).
 */
export function safeAdapter(map: (record: Rec, ctx: AdaptContext, secrets: RawSecret[]) => AdaptResult) {
  return (record: unknown, ctx: AdaptContext): AdaptResult => {
    if (Array.isArray(record)) {
      return fail('record', 'a JSON array is a batch: one record per message is expected (set the log plugin batch size to 1, or split batches before the adapter)');
    }
    if (!isRecord(record)) return fail('record', 'expected one JSON object per message');
    const secrets: RawSecret[] = [];
    let result: AdaptResult;
    try {
      result = map(record, ctx, secrets);
    } catch (e) {
      result = fail('record', `adapter error (${e instanceof Error ? e.name : 'unknown'}); please report it with the gateway version`);
    }
    return secrets.length > 0 ? { ...result, rawSecrets: secrets } : result;
  };
}

/** The `route` source: the path without query, or BAD/undefined. */
export function routeOf(v: unknown): Read<string> {
  const t = text(v);
  if (t === undefined || t === BAD) return t;
  return pathOnly(t);
}

/** The request id source: a string of 1–128 characters, else BAD. */
export function requestId(v: unknown): Read<string> {
  const t = headerText(v);
  if (t === undefined || t === BAD) return t;
  return t.length <= 128 ? t : BAD;
}
