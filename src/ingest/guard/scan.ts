/**
 * The text scanner of the secret guard: finds raw credentials in one text (a decoded field
 * value, several of them joined by NUL, or a whole message that is not JSON).
 *
 * Cost: one pass per family of candidates, each looking only for characters that are rare in a
 * clean event and checking what precedes them with a lookbehind (V8 scans for one character
 * class far faster than for an alternation of words); candidates are confirmed by small sticky
 * regexes whose captures are capped, so the work stays linear in the text on hostile input.
 * Nothing in here crosses a NUL (U+0000): callers join several texts with it.
 *
 * Families:
 * - known formats (`formats.ts`, anchored on the last character of their prefix), JWTs (`eyJ…`
 *   with 2–4 dots, and any `e[w-z0-9]…` three-segment token whose first segment decodes to a
 *   JSON header with `alg`/`enc`), PEM private keys, the AWS secret access key next to an
 *   access key id;
 * - `Bearer …` / `Basic …` (Basic only when it decodes to `user:password`);
 * - credential names (`names.ts`) as JSON keys (`"x-api-key": "…"`, also escaped), query / form
 *   parameters (`?access_token=…`), header lines (`Authorization: Token …`), HAR pairs
 *   (`{"name":"Authorization","value":"…"}`);
 * - URL userinfo (`https://user:password@host`).
 */
import { Buffer } from 'node:buffer';
import { KEY_FORMATS, type KeyFormat } from './formats.js';
import { credentialName, isCredentialValue, isFingerprint, isPlaceholder, looksRandom, type CredentialKind } from './names.js';
import { PRIORITY, type SecretReason } from './reasons.js';

/** One raw secret found in a text: `[start, end)` are UTF-16 offsets of the secret value in the text. */
export interface SecretHit {
  reason: SecretReason;
  start: number;
  end: number;
  /** the `formats.ts` id, for known formats */
  format?: string;
}

/** Longest bearer token / parameter value that is checked for placeholders; longer ones are secrets. */
const MAX_VALUE_CHARS = 2048;

// ---------------------------------------------------------------------------------------------
// Known formats, JWT, PEM: one anchor regex.

const esc = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

interface Anchored {
  /** the entry, or a special family */
  format: KeyFormat | 'jwt' | 'pem';
  /** sticky regex matching `anchor + body` at the anchor offset */
  confirm: RegExp;
  /** sticky regex checking the prefix behind the anchor (used when the first candidate failed) */
  behind: RegExp;
}

function anchorOf(prefix: string): { before: string; anchor: string } {
  if (prefix.endsWith('\\.') || prefix.endsWith('\\/')) return { before: prefix.slice(0, -2), anchor: prefix.slice(-1) };
  const last = prefix.slice(-1);
  if (/[\w~/:\- ]/.test(last) && !prefix.endsWith('\\' + last)) return { before: prefix.slice(0, -1), anchor: last };
  throw new Error(`guard format prefix must end with a literal character: ${prefix}`);
}

const ANCHORED: Anchored[] = [];
const GROUPS = new Map<string, number[]>();
function addAnchored(before: string, anchor: string, body: string, format: Anchored['format']): void {
  const idx = ANCHORED.length;
  ANCHORED.push({
    format,
    confirm: new RegExp(`${esc(anchor)}(?:${body})`, 'y'),
    behind: new RegExp(`(?<=(${before}))${esc(anchor)}`, 'y'),
  });
  // `eyJ` is found by `scanJwtPrefix` (an indexOf loop that skips rejected runs whole)
  if (format === 'jwt') return;
  const g = GROUPS.get(anchor) ?? [];
  g.push(idx);
  GROUPS.set(anchor, g);
}
for (const f of KEY_FORMATS) {
  const { before, anchor } = anchorOf(f.prefix);
  addAnchored(before, anchor, f.body, f);
}
// JWS (3 segments) / JWE (5): base64url JSON header `eyJ…`, dot-separated; glued prefixes allowed.
addAnchored('ey', 'J', '[A-Za-z0-9_-]{8,}(?:\\.[A-Za-z0-9_-]*){2,4}', 'jwt');
// PEM private key header (the footer is looked for separately).
addAnchored('----', '-', 'BEGIN [A-Z0-9 _-]{0,60}PRIVATE KEY(?: BLOCK)?-----', 'pem');

/** Capture group i+1 of TOKEN_ANCHORS is ANCHORED[i]'s prefix. */
const TOKEN_ANCHORS = new RegExp(
  [...GROUPS.entries()]
    .map(([anchor, idxs]) => {
      const alts = idxs.map((i) => {
        const f = ANCHORED[i]!.format;
        const prefix = f === 'jwt' ? 'ey' : f === 'pem' ? '----' : anchorOf(f.prefix).before;
        return `(${prefix})`;
      });
      return `${esc(anchor)}(?<=(?:${alts.join('|')})${esc(anchor)})`;
    })
    .join('|'),
  'g',
);
/** Group number → ANCHORED index (groups are numbered in the order the alternation lists them). */
const GROUP_TO_ANCHORED: number[] = [...GROUPS.values()].flat();
/** Anchor character → the capture group numbers of its alternatives (so a match reads a few groups, not all). */
const GROUPS_OF_ANCHOR = new Map<string, number[]>();
{
  let g = 1;
  for (const [anchor, idxs] of GROUPS) {
    GROUPS_OF_ANCHOR.set(anchor, idxs.map(() => g++));
  }
}

/**
 * Structural JWT: a `.` closing a base64url run that starts a word with `e` + [w-z0-9] (the
 * base64url of `{` followed by any character), followed by a second segment and a dot.
 */
const JWT_REST_Y = /\.[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){1,3}/y;
const B64URL_RUN_Y = /[A-Za-z0-9_-]*/y;
const PEM_END = /-----END [A-Z0-9 _-]{0,60}PRIVATE KEY(?: BLOCK)?-----/g;

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/**
 * The token starting at `i` is not glued to a preceding word (`blocked(prevChar)` false), counting
 * `%XX` URL escapes and `\n`/`\uXXXX` JSON escapes as separators.
 */
function startsWord(raw: string, i: number, blocked: (c: number) => boolean): boolean {
  if (i === 0 || !blocked(raw.charCodeAt(i - 1))) return true;
  if (i >= 3 && raw.charCodeAt(i - 3) === 37 && isHex(raw.charCodeAt(i - 2)) && isHex(raw.charCodeAt(i - 1))) return true;
  if (i >= 2 && raw.charCodeAt(i - 2) === 92 && 'nrtbf'.includes(raw[i - 1]!)) return true;
  return i >= 6 && raw.charCodeAt(i - 6) === 92 && raw.charCodeAt(i - 5) === 117;
}

/** Mixed case and digits: what a generated key body looks like (`sk-…`, `secret_…` are also words). */
function mixedRandom(s: string): boolean {
  return /[0-9]/.test(s) && /[A-Z]/.test(s) && /[a-z]/.test(s);
}

/** Decodes base64 / base64url text to latin1, or '' when it is not plausible base64. */
function b64text(s: string): string {
  try {
    return Buffer.from(s, 'base64').toString('latin1');
  } catch {
    return '';
  }
}

function b64utf8(s: string): string {
  try {
    return Buffer.from(s, 'base64').toString('utf8');
  } catch {
    return '';
  }
}

/** JWT header candidates checked with `JSON.parse` per scan; beyond, a plausible one is a JWT (fail closed). */
export const MAX_JWT_HEADER_PARSES = 256;
/** A decoded header that may name `alg` / `enc` (also through a JSON escape in the key). */
const HEADER_KEY = /alg|enc|\\u/;

/**
 * A JWT header: base64url of a JSON object with a string `alg` (JWS) or `enc` (JWE). A text can
 * only parse to such an object when it starts with `{`, ends with `}` and spells `alg` / `enc`
 * (or escapes a key): those cheap checks run first, so a decoy does not cost a thrown
 * `SyntaxError`. Decoys that pass them are parsed at most `MAX_JWT_HEADER_PARSES` times per scan;
 * after that a plausible header counts as a JWT (`st.parses` counts down), never as clean.
 */
function isJwtHeader(seg: string, st: ScanState): boolean {
  if (seg.length < 8 || seg.length > 4096) return false;
  const text = b64text(seg);
  if (!text.startsWith('{') || !text.trimEnd().endsWith('}') || !HEADER_KEY.test(text)) return false;
  if (st.parses <= 0) return true;
  st.parses--;
  try {
    const h = JSON.parse(text) as unknown;
    return typeof h === 'object' && h !== null && (typeof (h as { alg?: unknown }).alg === 'string' || typeof (h as { enc?: unknown }).enc === 'string');
  } catch {
    return false;
  }
}

/**
 * End (exclusive) of a JSON string whose content starts at `from` and whose opening quote was
 * preceded by `run` backslashes (0 plain, 1 inside an escaped document, 3 one level deeper).
 * Unterminated: the next NUL or the end of the text.
 */
function stringEnd(raw: string, from: number, run: number): number {
  const mod = (run + 1) * 2;
  let limit = raw.indexOf('\0', from);
  if (limit < 0) limit = raw.length;
  let q = raw.indexOf('"', from);
  while (q >= 0 && q < limit) {
    let b = 0;
    while (q - b - 1 >= from && raw.charCodeAt(q - b - 1) === 92) b++;
    if (b % mod === run) return q - run;
    q = raw.indexOf('"', q + 1);
  }
  return limit;
}

interface ScanState {
  hits: SecretHit[];
  /** a JWT cannot start before this offset (inside a base64url run already rejected) */
  jwtDeadUntil: number;
  aws: boolean;
  /** `JSON.parse` attempts left for JWT header candidates (see `isJwtHeader`) */
  parses: number;
}

function confirmAnchored(raw: string, idx: number, prefixLen: number, anchor: number, st: ScanState): number {
  const a = ANCHORED[idx]!;
  const start = anchor - prefixLen;
  if (a.format === 'jwt') {
    if (start < st.jwtDeadUntil) return -1;
    a.confirm.lastIndex = anchor;
    const m = a.confirm.exec(raw);
    if (m === null || m[0].length + prefixLen < 20) {
      B64URL_RUN_Y.lastIndex = anchor;
      B64URL_RUN_Y.exec(raw);
      st.jwtDeadUntil = B64URL_RUN_Y.lastIndex;
      return -1;
    }
    const end = anchor + m[0].length;
    st.hits.push({ reason: 'secret_jwt', start, end });
    return end;
  }
  if (a.format === 'pem') {
    a.confirm.lastIndex = anchor;
    const m = a.confirm.exec(raw);
    if (m === null) return -1;
    const headerEnd = anchor + m[0].length;
    let limit = raw.indexOf('\0', headerEnd);
    if (limit < 0) limit = raw.length;
    PEM_END.lastIndex = headerEnd;
    const footer = PEM_END.exec(raw);
    // no footer (cut or malformed): everything up to the end of the enclosing string is key material
    const end = footer !== null && footer.index < limit ? footer.index + footer[0].length : stringEnd(raw, headerEnd, 0);
    st.hits.push({ reason: 'secret_private_key', start, end });
    return end;
  }
  const f = a.format;
  if (!f.glued && !startsWord(raw, start, isAlnum)) return -1;
  a.confirm.lastIndex = anchor;
  const m = a.confirm.exec(raw);
  if (m === null) return -1;
  if (f.random && !mixedRandom(m[0])) return -1;
  const end = anchor + m[0].length;
  st.hits.push({ reason: f.reason, start, end, format: f.id });
  if (f.id === 'aws-access-key-id') st.aws = true;
  return end;
}

function scanTokens(raw: string, st: ScanState): void {
  const re = TOKEN_ANCHORS;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(raw)) !== null) {
    const anchor = m.index;
    let g = 0;
    for (const n of GROUPS_OF_ANCHOR.get(raw[anchor]!) ?? []) {
      if (m[n] !== undefined) {
        g = n;
        break;
      }
    }
    if (g === 0) {
      re.lastIndex = anchor + 1;
      continue;
    }
    const idx = GROUP_TO_ANCHORED[g - 1]!;
    let end = confirmAnchored(raw, idx, m[g]!.length, anchor, st);
    if (end < 0) {
      // another format with the same anchor character may match here
      for (const j of GROUPS.get(raw[anchor]!) ?? []) {
        if (j === idx) continue;
        const b = ANCHORED[j]!.behind;
        b.lastIndex = anchor;
        const bm = b.exec(raw);
        if (bm === null) continue;
        end = confirmAnchored(raw, j, bm[1]!.length, anchor, st);
        if (end >= 0) break;
      }
    }
    // resume right after the anchor: a secret glued to a rejected candidate is still found
    re.lastIndex = end > anchor ? end : anchor + 1;
  }
}

const JWT_ANCHORED = ANCHORED.findIndex((a) => a.format === 'jwt');

/**
 * `eyJ…` JWTs. A candidate inside a base64url run already rejected cannot start a JWT, so the
 * search jumps past the whole run: each character is looked at a bounded number of times however
 * many `eyJ` decoys the text holds.
 */
function scanJwtPrefix(raw: string, st: ScanState): void {
  let pos = 0;
  for (;;) {
    const at = raw.indexOf('eyJ', pos);
    if (at < 0) return;
    if (at < st.jwtDeadUntil) {
      pos = st.jwtDeadUntil;
      continue;
    }
    const end = confirmAnchored(raw, JWT_ANCHORED, 2, at + 2, st);
    pos = end > at ? end : at + 1;
  }
}

/** base64url character → its 6-bit value, -1 for anything else */
const B64URL_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64URL_VALUE['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.charCodeAt(i)] = i;
function isB64url(c: number): boolean {
  return c < 128 && B64URL_VALUE[c]! >= 0;
}

/**
 * Whether the base64url segment `raw[start, end)` may decode to text ending with `}` (then JSON
 * white space): decodes only its last group by hand. False only when that group holds a byte
 * other than JSON white space and the last such byte is not `}` — a necessary condition for
 * `isJwtHeader`, so the full decode is skipped for decoys without losing a header.
 */
function mayEndWithBrace(raw: string, start: number, end: number): boolean {
  const n = end - start;
  const rem = n % 4;
  const groupStart = rem === 0 ? end - 4 : end - rem;
  const len = rem === 1 ? 0 : rem === 0 ? 4 : rem;
  if (len === 0) return true;
  let bits = 0;
  for (let i = 0; i < len; i++) bits = (bits << 6) | B64URL_VALUE[raw.charCodeAt(groupStart + i)]!;
  const bytes = len === 4 ? [bits >> 16, (bits >> 8) & 255, bits & 255] : len === 3 ? [bits >> 10, (bits >> 2) & 255] : [bits >> 4];
  for (let i = bytes.length - 1; i >= 0; i--) {
    const c = bytes[i]!;
    if (c === 32 || c === 9 || c === 10 || c === 13) continue;
    return c === 125;
  }
  return true;
}

/**
 * Structural JWT: a base64url run starting a word with `e` + [w-z0-9_-] (the base64url of `{`
 * followed by any character), 8–4,098 characters, then `.`, a second segment of 2 or more and
 * another `.`. One forward pass over the dots; each segment is walked once, back from its dot and
 * never past the previous one, and only segments that can decode to `{…}` are decoded.
 */
function scanStructuralJwt(raw: string, st: ScanState): void {
  let d = raw.indexOf('.');
  while (d >= 0) {
    // the run ending at this dot: the previous dot (not base64url) bounds the walk back
    let runStart = d;
    while (runStart > 0 && d - runStart <= 4098 && isB64url(raw.charCodeAt(runStart - 1))) runStart--;
    const len = d - runStart;
    let next = raw.indexOf('.', d + 1);
    if (
      len >= 8 &&
      len <= 4098 &&
      raw.charCodeAt(runStart) === 101 &&
      B64URL_VALUE[raw.charCodeAt(runStart + 1)]! >= 48 &&
      d + 3 < raw.length &&
      isB64url(raw.charCodeAt(d + 1)) &&
      isB64url(raw.charCodeAt(d + 2)) &&
      mayEndWithBrace(raw, runStart, d)
    ) {
      JWT_REST_Y.lastIndex = d;
      const rest = JWT_REST_Y.exec(raw);
      if (rest !== null && isJwtHeader(raw.slice(runStart, d), st)) {
        const end = d + rest[0].length;
        st.hits.push({ reason: 'secret_jwt', start: runStart, end });
        next = raw.indexOf('.', end);
      }
    }
    d = next;
  }
}

/** AWS secret access key: 40 characters of base64 (mixed case) in a text that holds an access key id. */
const AWS_SECRET = /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
function scanAwsSecret(raw: string, st: ScanState): void {
  AWS_SECRET.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = AWS_SECRET.exec(raw)) !== null) {
    if (/[A-Z]/.test(m[0]) && /[a-z]/.test(m[0])) {
      st.hits.push({ reason: 'secret_known_key', start: m.index, end: m.index + 40, format: 'aws-secret-access-key' });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Bearer / Basic.

/** `Bearer`/`Basic` (1) followed by whitespace, `%20` or a form-encoded `+`. */
const SCHEME_ANCHORS = /[\s%+](?<=(bearer|basic)[\s%+])/gi;
/** RFC 6750 b64token and the opaque tokens seen in the wild; `\/` is JSON's escaped `/`. Capped. */
const BEARER_Y = /[Bb][Ee][Aa][Rr][Ee][Rr](?:\s|%20|\+)+((?:[^\s"'\\,;&<>()[\]{}\0]|\\\/){0,2048})/y;
const TOKEN_REST_Y = /(?:[^\s"'\\,;&<>()[\]{}\0]|\\\/)*/y;
const BASIC_Y = /[Bb][Aa][Ss][Ii][Cc](?:\s|%20|\+)+((?:[A-Za-z0-9+/]|\\\/|%2[BbFf]){1,4096}(?:=|%3[Dd]){0,2})/y;
/** WWW-Authenticate challenge parameters that follow `Bearer ` without being a token. */
const CHALLENGE_PARAM = /^(?:realm|error|error_description|error_uri|scope|charset)=/i;
/** A single plain word (`Bearer authentication failed`): prose, not a token. */
const PLAIN_WORD = /^[A-Za-z][a-z]*$/;

/** Undoes JSON's `\/`, form `+` and URL escapes of a query / header value. */
export function decodeQueryValue(s: string): string {
  let v = s.includes('\\') ? s.replace(/\\\//g, '/') : s;
  if (v.includes('+')) v = v.replace(/\+/g, ' ');
  if (v.includes('%')) v = percentDecode(v);
  return v;
}

/** Decodes `%XX` escapes (as UTF-8), leaving malformed ones as they are. Never throws. */
export function percentDecode(s: string): string {
  if (!/%[0-9A-Fa-f]{2}/.test(s)) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return Buffer.from(run.replace(/%/g, ''), 'hex').toString('latin1');
      }
    });
  }
}

function confirmBearer(raw: string, at: number, st: ScanState): number {
  if (!startsWord(raw, at, isLetter)) return at + 1;
  BEARER_Y.lastIndex = at;
  const m = BEARER_Y.exec(raw);
  const tok = m?.[1];
  if (m === null || tok === undefined || tok.length < 8) return at + 1;
  const start = at + m[0].length - tok.length;
  let end = start + tok.length;
  if (tok.length >= MAX_VALUE_CHARS) {
    TOKEN_REST_Y.lastIndex = end;
    TOKEN_REST_Y.exec(raw);
    end = TOKEN_REST_Y.lastIndex;
  } else {
    const v = decodeQueryValue(tok);
    if (v.length < 8 || isPlaceholder(v) || isFingerprint(v) || CHALLENGE_PARAM.test(v) || (PLAIN_WORD.test(v) && v.length <= 24)) {
      return at + 1;
    }
  }
  st.hits.push({ reason: 'secret_bearer', start, end });
  return end;
}

function confirmBasic(raw: string, at: number, st: ScanState): number {
  if (!startsWord(raw, at, isLetter)) return at + 1;
  BASIC_Y.lastIndex = at;
  const m = BASIC_Y.exec(raw);
  const tok = m?.[1];
  if (m === null || tok === undefined || tok.length < 8) return at + 1;
  const start = at + m[0].length - tok.length;
  const b64 = decodeQueryValue(tok.replace(/\+/g, '%2B'));
  if (isPlaceholder(b64)) return at + 1;
  // RFC 7617: user-id ":" password. Prose and paths (`basic+auth+setup`) do not decode to that.
  const text = b64utf8(b64.replace(/\s+/g, ''));
  if (text.indexOf(':') < 0 || /[\x00-\x1f\x7f\ufffd]/.test(text.slice(0, 256))) return at + 1;
  const end = start + tok.length;
  st.hits.push({ reason: 'secret_basic', start, end });
  return end;
}

function scanSchemes(raw: string, st: ScanState): void {
  const re = SCHEME_ANCHORS;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(raw)) !== null) {
    const anchor = m.index;
    const word = m[1] ?? '';
    const at = anchor - word.length;
    const next = word.length === 6 ? confirmBearer(raw, at, st) : confirmBasic(raw, at, st);
    re.lastIndex = next > anchor ? next : anchor + 1;
  }
}

// ---------------------------------------------------------------------------------------------
// Credential names: JSON keys, parameters, header lines, HAR pairs.

/** Last words a credential name can end with (a superset; `credentialName` decides). */
const NAME_END =
  'token|secret|signature|sig|sid|sessid|session(?:id)?|sess|authorization|key|cookies?|passw(?:or)?d|passphrase|pwd|credentials?|auth';
/**
 * (1) a name closing a JSON key (`"…token":`, also escaped `\"…\":`); (2) a name before `=`;
 * (3) a name directly before `:` (a header line, `X-Api-Key: …`).
 */
const KEY_ANCHORS = new RegExp(`:(?<=(${NAME_END})\\\\*"\\s*:)|=(?<=(${NAME_END})=)|:(?<=(${NAME_END}):)`, 'gi');
const QUERY_VALUE_Y = /(?:[^&#;\s"'<>\\\0]|\\\/){0,2048}/y;
const QUERY_REST_Y = /(?:[^&#;\s"'<>\\\0]|\\\/)*/y;
const HEADER_VALUE_Y = /[^\r\n"\\\0]{0,2048}/y;
const HEADER_REST_Y = /[^\r\n"\\\0]*/y;
const NAME_CHARS = /[A-Za-z0-9_.-]/;

/** The name ending at `end` (exclusive): letters, digits, `_`, `.`, `-`, at most 96 characters. */
function nameBefore(raw: string, end: number): string {
  let s = end;
  while (s > 0 && s > end - 96 && NAME_CHARS.test(raw[s - 1]!)) s--;
  let name = raw.slice(s, end);
  // a JSON-escaped `&` (`\u0026token=`) is a separator, not part of the name
  if (s > 0 && raw.charCodeAt(s - 1) === 92 && /^u0026/i.test(name)) name = name.slice(5);
  return name;
}

function skipSpace(raw: string, i: number): number {
  let c = raw.charCodeAt(i);
  while (c === 32 || c === 9 || c === 10 || c === 13) c = raw.charCodeAt(++i);
  return i;
}

/** Undoes JSON string escapes well enough to judge a value (`\u003credacted\u003e`). */
export function unescapeJson(s: string): string {
  let out = s;
  for (let pass = 0; pass < 3 && out.includes('\\'); pass++) {
    out = out.replace(/\\u([0-9a-fA-F]{4})|\\([\s\S])/g, (_m, hex: string | undefined, ch: string | undefined) => {
      if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16));
      if (ch === 'n' || ch === 'r' || ch === 't') return ' ';
      return ch ?? '';
    });
  }
  return out;
}

/** `"<credential key>": "value"` or `["v1","v2"]`, at any JSON escaping level; `valueAt` follows the `:`. */
function confirmField(raw: string, valueAt: number, kind: CredentialKind, st: ScanState): void {
  const check = (start: number, end: number): void => {
    if (end <= start) return;
    const text = unescapeJson(raw.slice(start, Math.min(end, start + MAX_VALUE_CHARS + 1)));
    if (end - start > MAX_VALUE_CHARS || isCredentialValue(kind, text)) {
      st.hits.push({ reason: 'secret_credential_field', start, end });
    }
  };
  let i = skipSpace(raw, valueAt);
  let run = 0;
  while (raw.charCodeAt(i) === 92) {
    run++;
    i++;
  }
  if (raw.charCodeAt(i) === 34) {
    check(i + 1, stringEnd(raw, i + 1, run));
  } else if (run === 0 && raw.charCodeAt(i) === 91) {
    // array of strings, e.g. a multi-valued header: "set-cookie": ["a=1; Path=/", "b=2"]
    let j = i + 1;
    for (let n = 0; n < 256 && j < raw.length; n++) {
      j = skipSpace(raw, j);
      while (raw.charCodeAt(j) === 44) j = skipSpace(raw, j + 1);
      let r = 0;
      while (raw.charCodeAt(j) === 92) {
        r++;
        j++;
      }
      if (raw.charCodeAt(j) !== 34) break;
      const end = stringEnd(raw, j + 1, r);
      check(j + 1, end);
      j = end + r + 1;
    }
  } else if (run === 0 && kind === 'strong') {
    // a number under a strong name (`"password": 12345678`)
    const num = /-?\d{4,}/y;
    num.lastIndex = i;
    const m = num.exec(raw);
    if (m !== null) st.hits.push({ reason: 'secret_credential_field', start: i, end: i + m[0].length });
  }
}

const HEADER_SCHEME_Y = /(?:bearer|basic|digest|token|dpop|mac|negotiate|ntlm|apikey|api-key|key|sso-key|ssws|hawk)[ \t]+/iy;

/**
 * A value after `name=` (a parameter) or `Name:` (a header line), up to its separator. The hit
 * starts after an auth scheme word (`Authorization: Token <hit>`). Returns where the scan resumes.
 */
function confirmValue(raw: string, valueAt: number, kind: CredentialKind, header: boolean, st: ScanState): number {
  let from = valueAt;
  if (header) while (raw.charCodeAt(from) === 32 || raw.charCodeAt(from) === 9) from++;
  const y = header ? HEADER_VALUE_Y : QUERY_VALUE_Y;
  y.lastIndex = from;
  const v = y.exec(raw)?.[0] ?? '';
  let end = from + v.length;
  if (v.length >= MAX_VALUE_CHARS) {
    const rest = header ? HEADER_REST_Y : QUERY_REST_Y;
    rest.lastIndex = end;
    rest.exec(raw);
    end = rest.lastIndex;
  } else {
    const trimmed = v.trimEnd();
    end = from + trimmed.length;
    if (trimmed.length === 0 || !isCredentialValue(kind, header ? trimmed : decodeQueryValue(trimmed))) return valueAt;
  }
  if (header) {
    HEADER_SCHEME_Y.lastIndex = from;
    if (HEADER_SCHEME_Y.exec(raw) !== null && HEADER_SCHEME_Y.lastIndex < end) from = HEADER_SCHEME_Y.lastIndex;
  }
  st.hits.push({ reason: header ? 'secret_credential_field' : 'secret_credential_query', start: from, end });
  return end;
}

function scanKeys(raw: string, st: ScanState): void {
  const re = KEY_ANCHORS;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(raw)) !== null) {
    const anchor = m.index;
    if (m[1] !== undefined) {
      // JSON key: the name ends where the key's closing quote (and its escapes) start
      let q = anchor - 1;
      while (q > 0 && raw.charCodeAt(q) !== 34) q--;
      let e = q;
      while (e > 0 && raw.charCodeAt(e - 1) === 92) e--;
      const kind = credentialName(nameBefore(raw, e));
      if (kind !== null) confirmField(raw, anchor + 1, kind, st);
    } else {
      const header = m[3] !== undefined;
      const kind = credentialName(nameBefore(raw, anchor));
      // `https://token:x@…` is userinfo, `tfp1:` a fingerprint: a header line is a name then space or a value
      if (kind === null || (header && raw.startsWith('//', anchor + 1))) continue;
      re.lastIndex = confirmValue(raw, anchor + 1, kind, header, st);
      if (re.lastIndex <= anchor) re.lastIndex = anchor + 1;
    }
  }
}

const HAR_PAIR = /"name"\s*:\s*"([^"\\\0]{1,96})"\s*,\s*"value"\s*:\s*"/g;
function scanHar(raw: string, st: ScanState): void {
  if (raw.indexOf('"name"') < 0) return;
  HAR_PAIR.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = HAR_PAIR.exec(raw)) !== null) {
    const kind = credentialName(m[1]!);
    if (kind === null) continue;
    const start = m.index + m[0].length;
    const end = stringEnd(raw, start, 0);
    const value = unescapeJson(raw.slice(start, Math.min(end, start + MAX_VALUE_CHARS + 1)));
    if (end - start > MAX_VALUE_CHARS || isCredentialValue(kind, value)) st.hits.push({ reason: 'secret_credential_field', start, end });
    HAR_PAIR.lastIndex = Math.max(end, HAR_PAIR.lastIndex);
  }
}

// ---------------------------------------------------------------------------------------------
// URL userinfo.

const USERINFO = /:\/\/([^\s/?#@"'<>\\\0[\]{}]{1,256})@/g;
function scanUserinfo(raw: string, st: ScanState): void {
  if (raw.indexOf('://') < 0) return;
  USERINFO.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = USERINFO.exec(raw)) !== null) {
    const info = m[1]!;
    const colon = info.indexOf(':');
    const secret = colon >= 0 ? percentDecode(info.slice(colon + 1)) : percentDecode(info);
    const live = colon >= 0 ? secret.length > 0 && !isPlaceholder(secret) : looksRandom(secret);
    if (live) {
      const start = m.index + 3;
      st.hits.push({ reason: 'secret_url_userinfo', start, end: start + info.length });
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** Sorts by start and merges overlapping hits; a merged hit keeps the most specific reason. */
export function mergeHits(hits: readonly SecretHit[], length: number): SecretHit[] {
  const sorted = hits
    .map((h) => ({ ...h, start: Math.max(0, h.start), end: Math.min(length, h.end) }))
    .filter((h) => h.end > h.start)
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const out: SecretHit[] = [];
  for (const h of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && h.start < last.end) {
      if (h.end > last.end) last.end = h.end;
      if (PRIORITY[h.reason] > PRIORITY[last.reason]) {
        last.reason = h.reason;
        last.format = h.format;
      }
    } else {
      out.push(h.format === undefined ? { reason: h.reason, start: h.start, end: h.end } : h);
    }
  }
  return out;
}

/**
 * Finds raw credentials in a text. Hits are sorted, non-overlapping (overlaps are merged, keeping
 * the most specific reason) and point at the secret value: the token after `Bearer `, the string
 * content of a credential field, the value of a parameter or header line, the whole PEM block.
 * Empty when the text is clean.
 */
export function scanForSecrets(raw: string): SecretHit[] {
  const st: ScanState = { hits: [], jwtDeadUntil: 0, aws: false, parses: MAX_JWT_HEADER_PARSES };
  scanTokens(raw, st);
  scanJwtPrefix(raw, st);
  scanStructuralJwt(raw, st);
  if (st.aws) scanAwsSecret(raw, st);
  scanSchemes(raw, st);
  scanKeys(raw, st);
  scanHar(raw, st);
  scanUserinfo(raw, st);
  return st.hits.length === 0 ? st.hits : mergeHits(st.hits, raw.length);
}
