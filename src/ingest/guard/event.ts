/**
 * The secret guard on a parsed message: it reads what the code reads.
 *
 * Every string of the parsed JSON (object keys included) is judged as the code will see it —
 * after JSON decoding — and again in the forms a secret hides in: JSON escapes inside strings
 * (`\u0065yJ…` in a nested document), URL escapes (`%65yJ…`, `access_tok%65n=`, twice for double
 * encoding), white space inside a JWT, base64 runs (decoded once), and JSON documents carried
 * as strings (parsed, two levels deep). Keys and HAR-style pairs give context: a value under a
 * credential name is judged by the name rules of `names.ts`.
 *
 * The result names every field that holds a secret and a copy of the value in which each such
 * field's WHOLE value (or key) is replaced by a marker: no tail after an escape, no second half
 * of a pair survives. Identifying fields (those that become state keys, alert columns and
 * denylist keys) are marked `identity`: an event with a secret there cannot be processed.
 *
 * Cost: the strings are joined (NUL-separated) and scanned in one pass per candidate family;
 * variants are made only for strings that contain `\`, `%`, or white space next to a JWT-like
 * run, and base64 runs are decoded once, at most `MAX_BASE64_DECODES` per message (past that, a
 * field with more runs is treated as holding a secret). Linear in the message size, see
 * bench/guard.ts and docs/secret-guard.md.
 */
import { Buffer } from 'node:buffer';
import { credentialName, isCredentialValue, looksRandom, type CredentialKind } from './names.js';
import { percentDecode, scanForSecrets, unescapeJson, type SecretHit } from './scan.js';
import { PRIORITY, redactionMarker, type SecretReason } from './reasons.js';

/** One field that holds a secret. */
export interface FieldFinding {
  /** secret-free display path: `route`, `headers.authorization`, `notes[2]`, `headers.{key}` */
  path: string;
  reason: SecretReason;
  /** the `formats.ts` id, for known formats */
  format?: string;
  /** an identifying field (state key, alert column, denylist key) */
  identity: boolean;
  /** the secret is in the key, not the value */
  key: boolean;
  /** the path's segments joined by U+0001 (may hold key names: never log it) */
  raw: string;
}

export interface GuardResult {
  findings: FieldFinding[];
  /** a copy with every finding's whole value / key replaced by a marker; the input itself when clean */
  value: unknown;
  /** parts nested deeper than `MAX_DEPTH` were dropped from `value` */
  truncated: boolean;
}

/** Fields of the canonical event that become state keys, alert columns or denylist keys (DESIGN §3–6). */
export const IDENTITY_PATHS: ReadonlySet<string> = new Set([
  'id',
  'tenant',
  'cred\u0001fp',
  'cred\u0001sub',
  'cred\u0001client_id',
  'cred\u0001sid',
  'cred\u0001key_id',
  'cred\u0001jti',
  'refresh\u0001issued_fp',
  'refresh\u0001issued_access_fp',
]);

/** Deeper parts of a message are not inspected: they are dropped from the copy (`[Truncated]`). */
export const MAX_DEPTH = 32;
/** JSON documents inside strings are parsed this many levels deep. */
const MAX_NESTED = 2;
const TRUNCATED = '[Truncated]';

/** Where a container sits: its parent's record and its key / index there (a path, built lazily). */
interface PathRec {
  up: PathRec | undefined;
  slot: string | number;
}

interface Entry {
  /** the record of the container holding the value / key (undefined for the root) */
  at: PathRec | undefined;
  /** container holding the value / key (undefined for the root) */
  parent: object | undefined;
  slot: string | number | undefined;
  isKey: boolean;
  reason?: SecretReason;
  format?: string;
}

/** Path segments from the root (join them with U+0001 for the raw path, `cred\u0001fp`). */
function segmentsOf(en: Entry): Array<string | number> {
  const segs: Array<string | number> = en.slot === undefined ? [] : [en.slot];
  for (let r = en.at; r !== undefined; r = r.up) segs.push(r.slot);
  return segs.reverse();
}

/** Keys that cannot hold a secret (lower-case words): the canonical keys and most extras. */
const PLAIN_KEY = /^[a-z_]{1,32}$/;
/**
 * Whole values no scanner family can match (lower-case hex ids and UUIDs, tfp1 fingerprints,
 * RFC 3339 times, IP addresses): not scanned, which keeps a clean event cheap. Context rules
 * (a value under a credential name) still apply to them.
 */
const INERT = /^(?:[0-9a-f-]{6,128}|tfp1:[A-Za-z0-9_-]{22}|\d{4}-\d\d-\d\dT[0-9:.]{8,18}(?:Z|[+-]\d\d:\d\d)|[0-9.]{7,15}|[0-9a-f:]{2,39})$/;
const HAS_PERCENT = /%[0-9A-Fa-f]{2}/;
const JWT_SPACED = /e[w-z0-9_-]/;
const WS = /\s/;
/** base64 / base64url runs worth decoding once: `[A-Za-z0-9+/_-]{16,}={0,2}`, found by `base64Texts` */
function isB64Char(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 47 && c <= 57) || c === 43 || c === 45 || c === 95;
}
const HEXISH = /^[0-9A-Fa-f-]+$/;

class Collector {
  readonly entries: Entry[] = [];
  readonly texts: string[] = [];
  readonly owners: number[] = [];
  truncated = false;

  entry(at: PathRec | undefined, parent: object | undefined, slot: string | number | undefined, isKey: boolean): number {
    this.entries.push({ at, parent, slot, isKey });
    return this.entries.length - 1;
  }

  flag(e: number, reason: SecretReason, format?: string): void {
    const en = this.entries[e]!;
    if (en.reason === undefined || PRIORITY[reason] > PRIORITY[en.reason]) {
      en.reason = reason;
      en.format = format;
    }
  }

  /** The text as decoded plus the forms a secret hides in. */
  text(s: string, e: number): void {
    if (s.length < 6 || (s.length <= 128 && INERT.test(s))) return;
    this.push(s, e);
    let last = s;
    if (s.includes('\\')) {
      const u = unescapeJson(s);
      if (u !== s) this.push((last = u), e);
    }
    if (last.includes('%') && HAS_PERCENT.test(last)) {
      let p = percentDecode(last);
      if (HAS_PERCENT.test(p)) p = percentDecode(p);
      if (p !== last) {
        this.push(p, e);
        last = p;
        if (p.includes('\\')) {
          const u = unescapeJson(p);
          if (u !== p) this.push((last = u), e);
        }
      }
    }
    if (last.includes('.') && WS.test(last) && JWT_SPACED.test(last)) this.push(last.replace(/\s+/g, ''), e);
  }

  private push(s: string, e: number): void {
    this.texts.push(s.includes('\0') ? s.replace(/\0/g, '\u0001') : s);
    this.owners.push(e);
  }
}

function walk(c: Collector, node: unknown, at: PathRec | undefined, parent: object | undefined, slot: string | number | undefined, depth: number, ctx: CredentialKind | null, owner: number | undefined, nested: number): void {
  if (typeof node === 'string') {
    if (owner === undefined && node.length < 6 && ctx === null) return;
    const e = owner ?? c.entry(at, parent, slot, false);
    c.text(node, e);
    if (ctx !== null && isCredentialValue(ctx, node)) c.flag(e, 'secret_credential_field');
    if (nested < MAX_NESTED && node.length >= 2) {
      const first = node.charCodeAt(node.search(/\S/));
      if (first === 123 || first === 91) {
        let doc: unknown;
        try {
          doc = JSON.parse(node);
        } catch {
          return;
        }
        walk(c, doc, undefined, undefined, undefined, depth + 1, null, e, nested + 1);
      }
    }
    return;
  }
  if (typeof node === 'number') {
    if (ctx === 'strong' || ctx === 'cookie') c.flag(owner ?? c.entry(at, parent, slot, false), 'secret_credential_field');
    return;
  }
  if (node === null || typeof node !== 'object') return;
  if (depth >= MAX_DEPTH) {
    c.truncated = true;
    return;
  }
  const here: PathRec | undefined = owner !== undefined ? undefined : slot === undefined ? at : { up: at, slot };
  if (Array.isArray(node)) {
    // a [name, value] pair (HAR-like header lists)
    let pair: CredentialKind | null = null;
    if (node.length === 2 && typeof node[0] === 'string') pair = credentialName(node[0]);
    for (let i = 0; i < node.length; i++) {
      walk(c, node[i], here, node, i, depth + 1, i === 1 && pair !== null ? pair : ctx, owner, nested);
    }
    return;
  }
  const obj = node as Record<string, unknown>;
  // a {"name": "Authorization", "value": "…"} pair (HAR)
  const nameField = Object.hasOwn(obj, 'name') ? obj.name : undefined;
  const pair = typeof nameField === 'string' && Object.hasOwn(obj, 'value') ? credentialName(nameField) : null;
  for (const k of Object.keys(obj)) {
    if (!PLAIN_KEY.test(k)) c.text(k, owner ?? c.entry(here, obj, k, true));
    const childCtx = ctx ?? credentialName(k) ?? (k === 'value' ? pair : null);
    walk(c, obj[k], here, obj, k, depth + 1, childCtx, owner, nested);
  }
}

/** Attributes each hit to the entry owning its start offset. */
function attribute(c: Collector, hits: readonly SecretHit[], starts: readonly number[], owners: readonly number[]): void {
  for (const h of hits) {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= h.start) lo = mid;
      else hi = mid - 1;
    }
    c.flag(owners[lo]!, h.reason, h.format);
  }
}

function joined(texts: readonly string[]): { text: string; starts: number[] } {
  const starts: number[] = [];
  let at = 0;
  for (const t of texts) {
    starts.push(at);
    at += t.length + 1;
  }
  return { text: texts.join('\0'), starts };
}

/** base64 and base64url character → 6-bit value (-1: not one). */
const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_VALUE['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
B64_VALUE[45] = 62; // '-'
B64_VALUE[95] = 63; // '_'
const SHORT_RUN = 256;
const shortBytes = new Uint8Array((SHORT_RUN / 4) * 3);

/**
 * The bytes of a short run (`=` padding only at its end, as `base64Texts` cuts them), decoded by hand
 * the way `Buffer.from(run, 'base64')` does; undefined when a byte is not ASCII (the caller then
 * decodes as UTF-8 with `Buffer`). Saves a Buffer per run on messages made of many short runs.
 */
function asciiOfShortRun(run: string): string | undefined {
  let n = 0;
  let bits = 0;
  let have = 0;
  for (let i = 0; i < run.length; i++) {
    const v = B64_VALUE[run.charCodeAt(i)]!;
    if (v < 0) break;
    bits = ((bits << 6) | v) & 0xffffff;
    have += 6;
    if (have >= 8) {
      have -= 8;
      const b = (bits >> have) & 255;
      if (b >= 128) return undefined;
      shortBytes[n++] = b;
    }
  }
  return String.fromCharCode(...shortBytes.subarray(0, n));
}

/** Printable text decoded from a base64 run, or undefined. */
function decodedRun(run: string): string | undefined {
  let text = run.length <= SHORT_RUN ? asciiOfShortRun(run) : undefined;
  if (text === undefined) {
    const bytes = Buffer.from(run, 'base64');
    if (bytes.length < 12) return undefined;
    text = bytes.toString('utf8');
  } else if (text.length < 12) {
    return undefined;
  }
  const head = text.length > 256 ? text.slice(0, 256) : text;
  let bad = 0;
  for (let i = 0; i < head.length; i++) {
    const ch = head.charCodeAt(i);
    if ((ch < 32 && ch !== 9 && ch !== 10 && ch !== 13) || ch === 0x7f || ch === 0xfffd) bad++;
  }
  return bad * 10 <= head.length ? text : undefined;
}

/**
 * Base64 runs decoded per message. A 64 KiB message holds at most ~3,800 runs of 16 characters
 * per text form; past this many, a run is not decoded and the field holding it is treated as if
 * it held a secret (fail closed: redacted, or quarantined when it is identifying).
 */
export const MAX_BASE64_DECODES = 1024;

/** Base64 runs of the scanned texts, decoded once, as a second set of texts. */
function base64Texts(c: Collector): { texts: string[]; owners: number[] } {
  const texts: string[] = [];
  const owners: number[] = [];
  let left = MAX_BASE64_DECODES;
  for (let i = 0; i < c.texts.length; i++) {
    const t = c.texts[i]!;
    if (t.length < 16) continue;
    // maximal runs of base64 / base64url characters, 16 or more, with up to two `=` after them
    let runEnd = 0;
    for (let at = 0; at < t.length; at = runEnd + 1) {
      while (at < t.length && !isB64Char(t.charCodeAt(at))) at++;
      runEnd = at;
      while (runEnd < t.length && isB64Char(t.charCodeAt(runEnd))) runEnd++;
      if (runEnd - at < 16) continue;
      let padEnd = runEnd;
      while (padEnd < t.length && padEnd - runEnd < 2 && t.charCodeAt(padEnd) === 61) padEnd++;
      const run = t.slice(at, padEnd);
      if (HEXISH.test(run) || (at >= 5 && t.startsWith('tfp1:', at - 5))) continue;
      if (left <= 0) {
        // out of decode budget: the rest of this text is not read, its field counts as a secret
        c.flag(c.owners[i]!, 'secret_credential_field');
        break;
      }
      left--;
      const d = decodedRun(run);
      if (d !== undefined) {
        texts.push(d.includes('\0') ? d.replace(/\0/g, '\u0001') : d);
        owners.push(c.owners[i]!);
      }
    }
  }
  return { texts, owners };
}

const PLAIN_SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]{0,39}$/;
const INDEX_SEGMENT = /^[0-9]{1,9}$/;

/** A secret-free display of a path: plain names and indexes as they are, anything else `{key}`. */
function displayPath(segs: ReadonlyArray<string | number>, isKey: boolean): string {
  if (segs.length === 0 || (segs.length === 1 && segs[0] === '')) return '(root)';
  let out = '';
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const s = typeof seg === 'number' ? String(seg) : seg;
    if (INDEX_SEGMENT.test(s)) {
      out += `[${s}]`;
      continue;
    }
    const plain = !(i === segs.length - 1 && isKey) && PLAIN_SEGMENT.test(s) && !looksRandom(s);
    out += (out === '' ? '' : '.') + (plain ? s : '{key}');
  }
  return out;
}

/** The marker replacing a value, shortened where the field's schema caps its length. */
function markerFor(reason: SecretReason, short = false): string {
  return short ? '[REDACTED]' : redactionMarker(reason);
}

function rebuild(node: unknown, depth: number, flagged: Map<object, Map<string | number, Entry>>, keyFlagged: Map<object, Map<string, Entry>>): unknown {
  if (node === null || typeof node !== 'object') return node;
  if (depth >= MAX_DEPTH) return TRUNCATED;
  const vals = flagged.get(node);
  if (Array.isArray(node)) {
    return node.map((v, i) => {
      const f = vals?.get(i);
      return f !== undefined ? markerFor(f.reason!) : rebuild(v, depth + 1, flagged, keyFlagged);
    });
  }
  const keys = keyFlagged.get(node);
  const entries: Array<[string, unknown]> = [];
  let n = 0;
  for (const [k, v] of Object.entries(node)) {
    const fk = keys?.get(k);
    const fv = vals?.get(k);
    const key = fk !== undefined ? `${redactionMarker(fk.reason!)}#${++n}` : k;
    entries.push([key, fv !== undefined ? markerFor(fv.reason!, depth === 0 && k === 'method') : rebuild(v, depth + 1, flagged, keyFlagged)]);
  }
  // Object.fromEntries defines own properties: a `__proto__` key stays a plain key
  return Object.fromEntries(entries);
}

/**
 * Runs the guard over a parsed JSON value. `findings` lists each field holding a secret (in walk
 * order); `value` is the input when there is none, else a redacted copy.
 */
export function guardJson(root: unknown): GuardResult {
  const c = new Collector();
  walk(c, root, undefined, undefined, undefined, 0, null, undefined, 0);
  if (c.texts.length > 0) {
    const j = joined(c.texts);
    attribute(c, scanForSecrets(j.text), j.starts, c.owners);
    const b = base64Texts(c);
    if (b.texts.length > 0) {
      const jb = joined(b.texts);
      attribute(c, scanForSecrets(jb.text), jb.starts, b.owners);
    }
  }
  const findings: FieldFinding[] = [];
  const flagged = new Map<object, Map<string | number, Entry>>();
  const keyFlagged = new Map<object, Map<string, Entry>>();
  let rootFlag: Entry | undefined;
  for (const en of c.entries) {
    if (en.reason === undefined) continue;
    const segs = segmentsOf(en);
    const path = segs.join('\u0001');
    const identity = !en.isKey && IDENTITY_PATHS.has(path);
    findings.push({ path: displayPath(segs, en.isKey), reason: en.reason, format: en.format, identity, key: en.isKey, raw: path });
    if (en.parent === undefined) {
      rootFlag = en;
    } else if (en.isKey) {
      let m = keyFlagged.get(en.parent);
      if (m === undefined) keyFlagged.set(en.parent, (m = new Map()));
      m.set(en.slot as string, en);
    } else {
      let m = flagged.get(en.parent);
      if (m === undefined) flagged.set(en.parent, (m = new Map()));
      m.set(en.slot!, en);
    }
  }
  if (findings.length === 0 && !c.truncated) return { findings, value: root, truncated: false };
  const value = rootFlag !== undefined ? redactionMarker(rootFlag.reason!) : rebuild(root, 0, flagged, keyFlagged);
  return { findings, value, truncated: c.truncated };
}
