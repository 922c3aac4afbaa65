/**
 * Making text and values safe to log or dead-letter.
 *
 * - `redact(text)` replaces each secret the scanner finds (span by span) by a marker: for texts
 *   whose structure should stay readable (a log message, a CLI argument).
 * - `redactText(text)` is the aggressive form for text of unknown shape (a message that is not
 *   JSON, an oversize message, a Kafka key, an error message): it works on whole tokens and also
 *   removes every token that merely *looks* like a credential (long and random-looking, or
 *   following a credential name or an auth scheme), whatever its format.
 * - `excerpt` / `textExcerpt` cut either to a length without splitting a marker.
 * - `redactValue` deep-copies a value (a log object) with credential-bearing keys redacted.
 */
import { credentialName, isFingerprint, isPlaceholder, looksRandom } from './names.js';
import { mergeHits, percentDecode, scanForSecrets, unescapeJson, type SecretHit } from './scan.js';
import { redactionMarker, type SecretReason } from './reasons.js';

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

/** Cuts a redacted text to `maxChars` (ending with `…`), never inside a marker or a surrogate pair. */
function cut(red: string, maxChars: number): string {
  if (red.length <= maxChars) return red;
  if (maxChars < 1) return '';
  let at = maxChars - 1;
  const marker = red.lastIndexOf('[REDACTED', at);
  if (marker >= 0 && red.indexOf(']', marker) >= at) at = marker;
  const c = red.charCodeAt(at - 1);
  if (c >= 0xd800 && c <= 0xdbff) at--;
  return `${red.slice(0, at)}…`;
}

/**
 * A redacted excerpt of `raw` for a DLQ record or a log line: redacts the whole text first, then
 * cuts to at most `maxChars` UTF-16 units (default 512), ending with `…` when cut. The cut never
 * splits a redaction marker or a surrogate pair.
 */
export function excerpt(raw: string, maxChars = 512): string {
  const red = redact(raw);
  if (red.length <= maxChars) return red;
  // a prefix of redacted text holds no secret, but a cut placeholder can look like a value again
  return redact(cut(red, maxChars));
}

/** The generic marker for a token removed by `redactText` because it looks like a credential. */
export const OPAQUE_MARKER = '[REDACTED]';

/** Characters that end a token in `redactText` (also `=`, `:`, `&`, `?`, `#`, `@` between name and value). */
const TOKEN_SPLIT = /[\s"'`<>()[\]{}\\,;|&?=:#@!*^$\0]+/g;
/** Auth scheme words: the token after one is a credential. */
const SCHEME_WORDS = new Set(['bearer', 'basic', 'token', 'ssws', 'apikey', 'api-key', 'dpop', 'digest', 'negotiate', 'ntlm']);
/** Longest text `redactText` looks at; the rest is cut (callers want an excerpt, not a copy). */
const MAX_TEXT_CHARS = 65_536;

/**
 * Token-wise redaction for text of unknown shape: every whole token that overlaps a scanner hit,
 * looks random (`looksRandom`: at least 12 characters, two character classes, 3 bits of entropy
 * per character) or follows a credential name or an auth scheme is replaced by a marker, so no
 * *part* of a secret survives (a JSON `\u0065yJ…`, a `%65yJ…`, an unknown token format). `tfp1`
 * fingerprints and placeholders are kept. Output is at most `maxChars` (default: all of it, up to
 * 64 Ki characters) and ends with `…` when cut.
 */
export function redactText(raw: string, maxChars = MAX_TEXT_CHARS): string {
  const text = raw.length > MAX_TEXT_CHARS ? raw.slice(0, MAX_TEXT_CHARS) : raw;
  const hits = scanForSecrets(text);
  const hitAt = new Uint8Array(text.length + 1);
  const reasonAt: Array<SecretReason | undefined> = [];
  for (const h of hits) {
    for (let i = h.start; i < h.end; i++) hitAt[i] = 1;
    reasonAt[h.start] = h.reason;
  }
  let out = '';
  let pos = 0;
  let prev = '';
  let prevSep = '';
  TOKEN_SPLIT.lastIndex = 0;
  for (;;) {
    const m = TOKEN_SPLIT.exec(text);
    const end = m === null ? text.length : m.index;
    if (end > pos) {
      const tok = text.slice(pos, end);
      let hit: SecretReason | undefined;
      let covered = false;
      for (let i = pos; i < end; i++) {
        if (hitAt[i] === 1) {
          covered = true;
          break;
        }
      }
      if (covered) {
        for (const h of hits) if (h.start < end && h.end > pos) hit = h.reason;
      }
      const afterName = /[=:]/.test(prevSep) && prev !== '' && credentialName(prev) !== null;
      const afterScheme = /^\s+$/.test(prevSep) && SCHEME_WORDS.has(prev.toLowerCase()) && tok.length >= 6;
      const fp = prev.toLowerCase() === 'tfp1' && prevSep === ':' && /^[A-Za-z0-9_-]{22}$/.test(tok);
      const keep = fp || isFingerprint(tok) || (isPlaceholder(tok) && !covered);
      if (!keep && (covered || afterName || afterScheme || looksRandom(tok))) {
        out += hit !== undefined ? redactionMarker(hit) : OPAQUE_MARKER;
      } else {
        out += tok;
      }
      prev = tok;
      if (out.length > maxChars) break;
    }
    if (m === null) break;
    out += m[0];
    prevSep = m[0];
    pos = m.index + m[0].length;
    if (out.length > maxChars) break;
  }
  if (raw.length > text.length && out.length <= maxChars) out += '…';
  return withheldIfEscaped(out.length > maxChars ? cut(out, maxChars) : out);
}

/** What a redacted text becomes when a secret still hides behind its escapes. */
export const WITHHELD_MARKER = '[REDACTED: text withheld — a secret behind JSON or percent escapes]';

/**
 * Fails closed on text whose redaction left a secret behind JSON (`\u0067hp_…`) or percent
 * (`sk_%6C…`) escapes: a text that does not parse as JSON is not decoded by the guard, so its
 * decoded views are checked here, and such a text is withheld whole.
 */
function withheldIfEscaped(red: string): string {
  if (red.includes('\\') && scanForSecrets(unescapeJson(red)).length > 0) return WITHHELD_MARKER;
  if (red.includes('%') && scanForSecrets(percentDecode(red)).length > 0) return WITHHELD_MARKER;
  return red;
}

/** A `redactText` excerpt of at most `maxChars` (default 512). Only the text's beginning is read. */
export function textExcerpt(raw: string, maxChars = 512): string {
  // a token can be cut by reading a prefix: read well past the excerpt and let `redactText` cut
  const head = raw.length > maxChars * 4 + 256 ? raw.slice(0, maxChars * 4 + 256) : raw;
  const red = redactText(head, maxChars);
  return raw.length > head.length && !red.endsWith('…') ? cut(`${red}…`, maxChars) : red;
}

/** True when a JSON key, query parameter, header or cookie with this name carries a credential. */
export function isCredentialKey(name: string): boolean {
  return credentialName(name) !== null;
}

const FIELD_MARKER = redactionMarker('secret_credential_field');
const MAX_DEPTH = 32;

/**
 * Deep copy of a parsed JSON value (or any value about to be logged) with secrets redacted:
 * values under credential-bearing keys become `[REDACTED:secret_credential_field]` unless they are
 * placeholders or fingerprints, every other string (and key) is passed through `redact`. Binary
 * data is summarised, cycles become `[Circular]`, nesting deeper than 32 becomes `[Truncated]`.
 * The input is not modified; keys such as `__proto__` stay plain keys of the copy.
 */
export function redactValue(value: unknown): unknown {
  return redactDeep(value, false, 0, new WeakSet<object>());
}

function isLiveCredential(value: string): boolean {
  const s = value.trim().replace(/^(?:bearer|basic|token)\s+/i, '');
  return !(isPlaceholder(s) || isFingerprint(s));
}

function redactDeep(value: unknown, credential: boolean, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') {
    if (credential && isLiveCredential(value)) return FIELD_MARKER;
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
    const entries: Array<[string, unknown]> = [];
    if (value instanceof Error) {
      entries.push(['name', value.name], ['message', redact(value.message)]);
      if (value.stack !== undefined) entries.push(['stack', redact(value.stack)]);
      if (value.cause !== undefined) entries.push(['cause', redactDeep(value.cause, credential, depth + 1, seen)]);
    }
    for (const key of Object.keys(value)) {
      let v: unknown;
      try {
        v = (value as Record<string, unknown>)[key];
      } catch {
        v = '[Unreadable]';
      }
      entries.push([redact(key), redactDeep(v, credential || isCredentialKey(key), depth + 1, seen)]);
    }
    return Object.fromEntries(entries);
  } finally {
    seen.delete(value);
  }
}
