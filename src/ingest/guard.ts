/**
 * Secret guard (DESIGN §2): finds raw credentials in a message as received, and redacts them.
 *
 * Events that carry a raw secret (a JWT, `Bearer …`, `Basic …`, a known key format, or a
 * credential-bearing JSON key / query parameter with a non-redacted value) go to the DLQ, and the
 * secret itself must never reach a log line, a DLQ record, a metric label or ClickHouse. This module
 * is the one place that decides what a secret looks like:
 *
 * - `scanForSecrets(raw)` runs on every message (hot path). It works on the raw text, so it also
 *   covers messages that are not JSON. Three precompiled anchor regexes look for characters that
 *   are rare in a clean event (`J` of `eyJ`, the `_`/`-` ending a key prefix, the space after
 *   `Bearer`, the `:` after a credential key, …) and check what precedes them with a lookbehind;
 *   only those candidates are confirmed by small sticky regexes. A clean event costs three regex
 *   passes and no allocation (less than `JSON.parse` of the same text), and the work stays linear
 *   on hostile input: values are capped at 2,048 characters, longer ones count as secrets.
 * - `redact`, `excerpt` and `redactValue` make text and parsed values safe to log or dead-letter.
 *
 * Deliberately not secrets: `tfp1:` fingerprints, credential *type* words in values
 * (`"type":"refresh_token"`), keys such as `fp`, `issued_fp`, `key_id`, `jti`, `sid`, `sub`,
 * `client_id`, UUIDs and hex ids, redaction placeholders, and Stripe publishable keys (`pk_live_…`,
 * which are public by design: they are embedded in every client page of the merchant).
 */
import { Buffer } from 'node:buffer';

/** Reason codes of a secret hit; also the DLQ reason codes for events carrying a raw secret. */
export const SECRET_REASONS = [
  'secret_jwt',
  'secret_bearer',
  'secret_basic',
  'secret_known_key',
  'secret_private_key',
  'secret_credential_field',
  'secret_credential_query',
] as const;

export type SecretReason = (typeof SECRET_REASONS)[number];

/** One raw secret found in a text: `[start, end)` are UTF-16 offsets of the secret value in the text. */
export interface SecretHit {
  reason: SecretReason;
  start: number;
  end: number;
}

/** When hits overlap, the merged hit keeps the most specific reason. */
const PRIORITY: Record<SecretReason, number> = {
  secret_private_key: 7,
  secret_jwt: 6,
  secret_known_key: 5,
  secret_basic: 4,
  secret_bearer: 3,
  secret_credential_query: 2,
  secret_credential_field: 1,
};

// ---------------------------------------------------------------------------------------------
// Patterns, compiled once at module load.

/**
 * Endings of credential-bearing key names. A JSON key or query parameter whose name *ends* with
 * one of these (case-insensitive; `-`/`_` variants and prefixes such as `x-`, `proxy-`, `set-`,
 * `access_`, `client_` included) holds a credential: `authorization`, `proxy-authorization`,
 * `cookie`, `set-cookie`, `x-api-key`, `api_key`, `apikey`, `access_token`, `accessToken`,
 * `refresh_token`, `id_token`, `x-auth-token`, `client_secret`, `password`, `token`, `secret`, ….
 * Names that merely start with one (`token_type`, `key_id`, `issued_fp`) are not.
 */
const CREDENTIAL_KEY_ENDINGS = [
  'authorization',
  'cookies?',
  'token',
  'secret',
  'passw(?:or)?d',
  'passphrase',
  'pwd',
  'api[-_]?key',
  '(?:secret|private|access|auth|master|signing|client)[-_]?key',
  'credentials?',
];

/** Query-parameter names that carry a signature granting access (pre-signed URLs, SAS tokens). */
const SIGNATURE_PARAMS = new Set(['sig', 'signature', 'x-amz-signature', 'x-goog-signature']);

/**
 * Candidate scans. The text is scanned three times, each time for characters that are rare in a
 * clean event, with a lookbehind that checks what precedes them (V8 scans for a single leading
 * character class far faster than for an alternation of many words). Each candidate is then
 * confirmed by a sticky regex at its start offset.
 *
 * TOKEN_ANCHORS: JWT header `eyJ` (1), key prefixes ending in `a`/`A` (2), `-` (3) or `_` (4).
 */
const TOKEN_ANCHORS =
  /J(?<=(eyJ))|[aA](?<=(AIza|A[KS]IA))|-(?<=(xox[baprs]-|sk-|glpat-|-----))|_(?<=([rs]k_(?:live|test)_|gh[pousr]_|github_pat_|npm_|whsec_))/g;
/** SCHEME_ANCHORS: `Bearer`/`Basic` (1) followed by whitespace, `%20` or a form-encoded `+`. */
const SCHEME_ANCHORS = /[\s%+](?<=(bearer|basic)[\s%+])/gi;
const KEY_ENDINGS_SRC = CREDENTIAL_KEY_ENDINGS.join('|');
/**
 * KEY_ANCHORS: a credential key ending (1) closing a JSON key (`"…token":`, also escaped `\"…\":`),
 * or a parameter ending (2) before `=`, including signature parameters.
 */
const KEY_ANCHORS = new RegExp(
  `:(?<=(${KEY_ENDINGS_SRC})\\\\*"\\s*:)|=(?<=(${KEY_ENDINGS_SRC}|sig(?:nature)?)=)`,
  'gi',
);

/** A JWS (3 segments) or JWE (5 segments): base64url JSON header `eyJ…`, dot-separated. */
const JWT_Y = /eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){2,4}/y;
/**
 * Bearer token: RFC 6750 b64token and the opaque tokens seen in the wild; `\/` is JSON's escaped
 * `/`. The capture is capped (`MAX_VALUE_CHARS`) so that a hostile message cannot make the scan
 * quadratic; a longer token is a secret without further checks, and `TOKEN_REST_Y` finds its end.
 */
const BEARER_Y = /[Bb][Ee][Aa][Rr][Ee][Rr](?:\s|%20|\+)+((?:[^\s"'\\,;&<>()[\]{}]|\\\/){0,2048})/y;
const TOKEN_REST_Y = /(?:[^\s"'\\,;&<>()[\]{}]|\\\/)*/y;
/** Longest bearer token / query value that is checked for placeholders; longer ones are secrets. */
const MAX_VALUE_CHARS = 2048;
/** A base64url run, to skip past an `eyJ…` that is not a JWT. */
const B64URL_RUN_Y = /[A-Za-z0-9_-]*/y;
/** Basic credentials: base64 (also with JSON-escaped `/` and URL-encoded `+`, `/`, `=`). */
const BASIC_Y = /[Bb][Aa][Ss][Ii][Cc](?:\s|%20|\+)+((?:[A-Za-z0-9+/]|\\\/|%2[BbFf])+(?:=|%3[Dd]){0,2})/y;
const KNOWN_KEY_Y = new RegExp(
  [
    'gh[pousr]_[A-Za-z0-9]{30,}', // GitHub classic / OAuth / user-to-server / server-to-server / refresh
    'github_pat_[A-Za-z0-9_]{22,}', // GitHub fine-grained PAT
    '[rs]k_(?:live|test)_[A-Za-z0-9]{16,}', // Stripe secret and restricted keys (pk_ is publishable)
    'A[KS]IA[A-Z0-9]{16}(?![A-Za-z0-9])', // AWS access key id (long-term / STS)
    'xox[baprs]-[A-Za-z0-9-]{10,}', // Slack
    'AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])', // Google API key
    'sk-(?:proj|svcacct|admin|ant-(?:api|admin)\\d\\d)-[A-Za-z0-9_-]{20,}', // OpenAI project/service, Anthropic
    '(sk-[A-Za-z0-9]{32,})(?![A-Za-z0-9_-])', // OpenAI legacy (entropy-checked, see below)
    'glpat-[A-Za-z0-9_-]{20,}', // GitLab PAT
    'npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])', // npm
    'whsec_[A-Za-z0-9+/=]{24,}', // Stripe webhook signing secret
  ].join('|'),
  'y',
);
const PEM_Y = /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/y;
const PEM_END = /-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;
/** A query / form value: up to the next separator, quote, whitespace or JSON escape (`\/` allowed). */
const QUERY_VALUE_Y = /(?:[^&#;\s"'<>\\]|\\\/){0,2048}/y;
const QUERY_REST_Y = /(?:[^&#;\s"'<>\\]|\\\/)*/y;

const FINGERPRINT = /^tfp1:[A-Za-z0-9_-]{22}$/;
const PLACEHOLDER_WORD =
  /^[[<({]?\s*(?:redacted|filtered|hidden|masked|removed|omitted|sanitized|scrubbed|censored|obfuscated|null|nil|none|undefined|n\/a)(?:[:_\- ][\w:.\-]*)?\s*[\]>)}]?$/i;
/** Only mask characters: `***`, `xxxx`, `-`, `…`, `••••` (or base64 padding after a `…pwd=`). */
const MASK_ONLY = /^[*xX•·.…#_\-= ]+$/;
/** Partly masked (`abcd****`, `eyJhb…`): a real credential never contains these runs. */
const MASK_RUN = /\*{3}|•{3}|…/;
/** An auth scheme in front of a header value (`Bearer [REDACTED]` is redacted). */
const AUTH_SCHEME =
  /^(?:bearer|basic|digest|token|dpop|mac|negotiate|ntlm|apikey|api-key|key|sso-key|aws4-hmac-sha256)(?:\s+|$)/i;
/** WWW-Authenticate challenge parameters that follow `Bearer ` without being a token. */
const CHALLENGE_PARAM = /^(?:realm|error|error_description|error_uri|scope|charset)=/i;
/** A single plain word (`Bearer authentication failed`): prose, not a token. */
const PLAIN_WORD = /^[A-Za-z][a-z]*$/;
const COOKIE_ENDING = /^cookie/i;
const SIGNATURE_ENDING = /^sig/i;
const TYPE_WORDS = new Set(['access_token', 'refresh_token', 'id_token', 'api_key', 'session']);
const SET_COOKIE_ATTRS = new Set([
  'path',
  'domain',
  'expires',
  'max-age',
  'samesite',
  'secure',
  'httponly',
  'partitioned',
  'priority',
]);

// ---------------------------------------------------------------------------------------------
// Value classification.

/** Undoes JSON string escapes well enough to recognise placeholders (`\u003credacted\u003e`). */
function unescapeJson(s: string): string {
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

function decodeQueryValue(s: string): string {
  let v = s.includes('\\') ? s.replace(/\\\//g, '/') : s;
  if (v.includes('+')) v = v.replace(/\+/g, ' ');
  if (v.includes('%')) {
    try {
      v = decodeURIComponent(v);
    } catch {
      // malformed escapes: judge the text as it is
    }
  }
  return v;
}

/** A redaction placeholder (`[REDACTED]`, `***`, `<redacted>`, `xxx…`, `-`, empty) or a masked value. */
function isPlaceholder(value: string): boolean {
  const s = value.trim();
  return s === '' || PLACEHOLDER_WORD.test(s) || MASK_ONLY.test(s) || MASK_RUN.test(s);
}

/** True when a decoded credential-field value is a real (non-redacted, non-fingerprint) credential. */
function isSecretValue(decoded: string): boolean {
  let s = decoded.trim();
  const scheme = AUTH_SCHEME.exec(s);
  if (scheme !== null) s = s.slice(scheme[0].length).trim();
  if (isPlaceholder(s) || FINGERPRINT.test(s)) return false;
  return !TYPE_WORDS.has(s.toLowerCase());
}

/** A cookie / set-cookie value holds a secret when any cookie in it has a non-redacted value. */
function isSecretCookie(decoded: string): boolean {
  for (const part of decoded.split(';')) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (SET_COOKIE_ATTRS.has(name)) continue;
    const value = eq < 0 ? part : part.slice(eq + 1);
    if (!isPlaceholder(value) && !FINGERPRINT.test(value.trim())) return true;
  }
  return false;
}

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
  if (i >= 3 && raw.charCodeAt(i - 3) === 37 && isHex(raw.charCodeAt(i - 2)) && isHex(raw.charCodeAt(i - 1))) {
    return true;
  }
  if (i >= 2 && raw.charCodeAt(i - 2) === 92 && 'nrtbf'.includes(raw[i - 1]!)) return true;
  return i >= 6 && raw.charCodeAt(i - 6) === 92 && raw.charCodeAt(i - 5) === 117;
}

/**
 * End (exclusive, before the closing quote's escaping backslashes) of a JSON string whose content
 * starts at `from` and whose opening quote was preceded by `run` backslashes: 0 for a plain string,
 * 1 for a string inside an escaped JSON document (`\"…\"`), 3 one level deeper. A closing quote
 * has a backslash run congruent to `run` modulo twice its level's width. Unterminated: end of text.
 */
function stringEnd(raw: string, from: number, run: number): number {
  const mod = (run + 1) * 2;
  let q = raw.indexOf('"', from);
  while (q >= 0) {
    let b = 0;
    while (q - b - 1 >= from && raw.charCodeAt(q - b - 1) === 92) b++;
    if (b % mod === run) return q - run;
    q = raw.indexOf('"', q + 1);
  }
  return raw.length;
}

// ---------------------------------------------------------------------------------------------
// Confirmers. Each gets the candidate offset, pushes hits, and returns where the scan resumes.

function confirmJwt(raw: string, at: number, hits: SecretHit[]): number {
  JWT_Y.lastIndex = at;
  const m = JWT_Y.exec(raw);
  if (m === null || m[0].length < 20) {
    // a later `eyJ` inside the same base64url run cannot start a JWT either
    B64URL_RUN_Y.lastIndex = at;
    B64URL_RUN_Y.exec(raw);
    return B64URL_RUN_Y.lastIndex;
  }
  const end = at + m[0].length;
  hits.push({ reason: 'secret_jwt', start: at, end });
  return end;
}

function confirmBearer(raw: string, at: number, hits: SecretHit[]): number {
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
    if (
      v.length < 8 ||
      isPlaceholder(v) ||
      FINGERPRINT.test(v) ||
      CHALLENGE_PARAM.test(v) ||
      (PLAIN_WORD.test(v) && v.length <= 24)
    ) {
      return at + 1;
    }
  }
  hits.push({ reason: 'secret_bearer', start, end });
  return end; // the token pass finds a JWT or known key inside on its own
}

function confirmBasic(raw: string, at: number, hits: SecretHit[]): number {
  if (!startsWord(raw, at, isLetter)) return at + 1;
  BASIC_Y.lastIndex = at;
  const m = BASIC_Y.exec(raw);
  const tok = m?.[1];
  if (m === null || tok === undefined || tok.length < 8) return at + 1;
  const start = at + m[0].length - tok.length;
  const b64 = decodeQueryValue(tok.replace(/\+/g, '%2B'));
  if (isPlaceholder(b64)) return at + 1;
  // prose ("Basic authentication") is a plain word whose base64 decoding has no `user:` separator
  if (/^[A-Za-z]+$/.test(b64) && !Buffer.from(b64, 'base64').toString('latin1').includes(':')) return at + 1;
  const end = start + tok.length;
  hits.push({ reason: 'secret_basic', start, end });
  return end;
}

function confirmKnownKey(raw: string, at: number, hits: SecretHit[]): number {
  if (!startsWord(raw, at, isAlnum)) return at + 1;
  KNOWN_KEY_Y.lastIndex = at;
  const m = KNOWN_KEY_Y.exec(raw);
  if (m === null) return at + 1;
  // a bare `sk-` + alphanumerics is only a key when it looks random (mixed case and digits)
  if (m[1] !== undefined && !(/[0-9]/.test(m[1]) && /[A-Z]/.test(m[1]) && /[a-z]/.test(m[1]))) return at + 1;
  const end = at + m[0].length;
  hits.push({ reason: 'secret_known_key', start: at, end });
  return end;
}

function confirmPrivateKey(raw: string, at: number, hits: SecretHit[]): number {
  PEM_Y.lastIndex = at;
  const m = PEM_Y.exec(raw);
  if (m === null) {
    // in a long run of dashes, only the last five can open a header
    let j = at + 5;
    while (raw.charCodeAt(j) === 45) j++;
    return j - 1;
  }
  const headerEnd = at + m[0].length;
  PEM_END.lastIndex = headerEnd;
  const footer = PEM_END.exec(raw);
  // no footer (cut or malformed): everything up to the end of the enclosing string is key material
  const end = footer !== null ? footer.index + footer[0].length : stringEnd(raw, headerEnd, 0);
  hits.push({ reason: 'secret_private_key', start: at, end });
  return end;
}

/** `"<credential key>": "value"` or `["v1","v2"]`, at any JSON escaping level; `valueAt` follows the `:`. */
function confirmField(raw: string, valueAt: number, ending: string, hits: SecretHit[]): void {
  const cookie = COOKIE_ENDING.test(ending);
  const check = (start: number, end: number): void => {
    if (end <= start) return;
    const text = unescapeJson(raw.slice(start, end));
    if (cookie ? isSecretCookie(text) : isSecretValue(text)) {
      hits.push({ reason: 'secret_credential_field', start, end });
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
  }
  // null, number, boolean, object: not a credential string
}

function skipSpace(raw: string, i: number): number {
  let c = raw.charCodeAt(i);
  while (c === 32 || c === 9 || c === 10 || c === 13) c = raw.charCodeAt(++i);
  return i;
}

/**
 * `?name=value` / `&name=value` / `#name=value` / `name=value; …`. Returns where the key scan
 * resumes: after the value when it is a secret (anything inside is redacted with it).
 */
function confirmQuery(raw: string, valueAt: number, hits: SecretHit[]): number {
  QUERY_VALUE_Y.lastIndex = valueAt;
  const v = QUERY_VALUE_Y.exec(raw)?.[0] ?? '';
  let end = valueAt + v.length;
  if (v.length >= MAX_VALUE_CHARS) {
    QUERY_REST_Y.lastIndex = end;
    QUERY_REST_Y.exec(raw);
    end = QUERY_REST_Y.lastIndex;
  } else if (v.length === 0 || !isSecretValue(decodeQueryValue(v))) {
    return valueAt;
  }
  hits.push({ reason: 'secret_credential_query', start: valueAt, end });
  return end;
}

/** `sig=` / `signature=` / `X-Amz-Signature=` only as a whole parameter name. */
function confirmSignature(raw: string, at: number, valueAt: number, hits: SecretHit[]): number {
  let s = at;
  while (s > 0 && s > at - 32) {
    const c = raw.charCodeAt(s - 1);
    if (!(isAlnum(c) || c === 45 || c === 95)) break;
    s--;
  }
  let name = raw.slice(s, valueAt - 1).toLowerCase();
  if (s > 0 && raw.charCodeAt(s - 1) === 92 && name.startsWith('u0026')) name = name.slice(5);
  return SIGNATURE_PARAMS.has(name) ? confirmQuery(raw, valueAt, hits) : valueAt;
}

/** Sorts by start and merges overlapping hits; a merged hit keeps the most specific reason. */
function mergeHits(hits: readonly SecretHit[], length: number): SecretHit[] {
  const sorted = hits
    .map((h) => ({ reason: h.reason, start: Math.max(0, h.start), end: Math.min(length, h.end) }))
    .filter((h) => h.end > h.start)
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const out: SecretHit[] = [];
  for (const h of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && h.start < last.end) {
      if (h.end > last.end) last.end = h.end;
      if (PRIORITY[h.reason] > PRIORITY[last.reason]) last.reason = h.reason;
    } else {
      out.push(h);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Public API.

/**
 * Finds raw credentials in a message as received (JSON text or anything else). Hits are sorted,
 * non-overlapping (overlaps are merged, keeping the most specific reason) and point at the secret
 * value: the token after `Bearer `, the string content of a credential field, the value of a
 * query parameter, the whole PEM block. Empty when the text is clean.
 */
export function scanForSecrets(raw: string): SecretHit[] {
  const hits: SecretHit[] = [];
  let m: RegExpExecArray | null;

  const tokens = TOKEN_ANCHORS;
  tokens.lastIndex = 0;
  while ((m = tokens.exec(raw)) !== null) {
    const anchor = m.index;
    const prefix = m[1] ?? m[2] ?? m[3] ?? m[4] ?? '';
    const at = anchor + 1 - prefix.length;
    let next: number;
    if (m[1] !== undefined) next = confirmJwt(raw, at, hits);
    else if (prefix === '-----') next = confirmPrivateKey(raw, at, hits);
    else next = confirmKnownKey(raw, at, hits);
    tokens.lastIndex = next > anchor ? next : anchor + 1;
  }

  const schemes = SCHEME_ANCHORS;
  schemes.lastIndex = 0;
  while ((m = schemes.exec(raw)) !== null) {
    const anchor = m.index;
    const word = m[1] ?? '';
    const at = anchor - word.length;
    const next = word.length === 6 ? confirmBearer(raw, at, hits) : confirmBasic(raw, at, hits);
    schemes.lastIndex = next > anchor ? next : anchor + 1;
  }

  const keys = KEY_ANCHORS;
  keys.lastIndex = 0;
  while ((m = keys.exec(raw)) !== null) {
    const anchor = m.index;
    if (m[1] !== undefined) {
      confirmField(raw, anchor + 1, m[1], hits);
    } else {
      const ending = m[2] ?? '';
      keys.lastIndex = SIGNATURE_ENDING.test(ending)
        ? confirmSignature(raw, anchor - ending.length, anchor + 1, hits)
        : confirmQuery(raw, anchor + 1, hits);
    }
  }

  return hits.length === 0 ? hits : mergeHits(hits, raw.length);
}

/** Replacement text for a redacted secret value. */
export function redactionMarker(reason: SecretReason): string {
  return `[REDACTED:${reason}]`;
}

function applyHits(raw: string, hits: readonly SecretHit[]): string {
  const merged = mergeHits(hits, raw.length);
  if (merged.length === 0) return raw;
  let out = '';
  let pos = 0;
  for (const h of merged) {
    out += raw.slice(pos, h.start) + redactionMarker(h.reason);
    pos = h.end;
  }
  return out + raw.slice(pos);
}

/**
 * Returns `raw` with every secret value replaced by `[REDACTED:<reason>]`. `hits` (from
 * `scanForSecrets(raw)`) saves a scan; whatever they are, the result is rescanned and anything the
 * scanner still finds is redacted too, so the output never holds something `scanForSecrets` flags.
 */
export function redact(raw: string, hits?: readonly SecretHit[]): string {
  let out = hits === undefined ? raw : applyHits(raw, hits);
  for (let pass = 0; pass < 4; pass++) {
    const more = scanForSecrets(out);
    if (more.length === 0) return out;
    out = applyHits(out, more);
  }
  return out;
}

/**
 * A redacted excerpt of `raw` for a DLQ record or a log line: redacts the whole text first, then
 * cuts to at most `maxChars` UTF-16 units (default 512), ending with `…` when cut. The cut never
 * splits a redaction marker or a surrogate pair.
 */
export function excerpt(raw: string, maxChars = 512): string {
  const red = redact(raw);
  if (red.length <= maxChars) return red;
  if (maxChars < 1) return '';
  let cut = maxChars - 1;
  const marker = red.lastIndexOf('[REDACTED:', cut);
  if (marker >= 0 && red.indexOf(']', marker) >= cut) cut = marker;
  const c = red.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  // a prefix of redacted text holds no secret, but a cut placeholder can look like a value again
  return redact(`${red.slice(0, cut)}…`);
}

/** True when a JSON key or query parameter with this name carries a credential. */
export function isCredentialKey(name: string): boolean {
  return CREDENTIAL_KEY_RE.test(name);
}

const CREDENTIAL_KEY_RE = new RegExp(`(?:${CREDENTIAL_KEY_ENDINGS.join('|')})$`, 'i');
const FIELD_MARKER = redactionMarker('secret_credential_field');
const MAX_DEPTH = 32;

/**
 * Deep copy of a parsed JSON value (or any value about to be logged) with secrets redacted:
 * values under credential-bearing keys become `[REDACTED:secret_credential_field]` unless they are
 * placeholders or fingerprints, every other string (and key) is passed through `redact`. Binary
 * data is summarised, cycles become `[Circular]`, nesting deeper than 32 becomes `[Truncated]`.
 * The input is not modified.
 */
export function redactValue(value: unknown): unknown {
  return redactDeep(value, false, 0, new WeakSet<object>());
}

function redactDeep(value: unknown, credential: boolean, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') {
    if (credential && isSecretValue(value)) return FIELD_MARKER;
    return redact(value);
  }
  if (typeof value === 'number' || typeof value === 'bigint') return credential ? FIELD_MARKER : value;
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[binary ${value.byteLength} bytes]`;
  if (value instanceof Date || value instanceof RegExp) return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => redactDeep(v, credential, depth + 1, seen));
    if (value instanceof Map) {
      const out = new Map<unknown, unknown>();
      for (const [k, v] of value) {
        const cred = credential || (typeof k === 'string' && isCredentialKey(k));
        out.set(typeof k === 'string' ? redact(k) : k, redactDeep(v, cred, depth + 1, seen));
      }
      return out;
    }
    if (value instanceof Set) {
      return new Set([...value].map((v) => redactDeep(v, credential, depth + 1, seen)));
    }
    const out: Record<string, unknown> = {};
    if (value instanceof Error) {
      out.name = value.name;
      out.message = redact(value.message);
      if (value.stack !== undefined) out.stack = redact(value.stack);
      if (value.cause !== undefined) out.cause = redactDeep(value.cause, credential, depth + 1, seen);
    }
    for (const key of Object.keys(value)) {
      let v: unknown;
      try {
        v = (value as Record<string, unknown>)[key];
      } catch {
        v = '[Unreadable]';
      }
      out[redact(key)] = redactDeep(v, credential || isCredentialKey(key), depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
