/**
 * Credential-bearing names (JSON keys, query / form parameters, header names, HAR name/value
 * pairs, cookie names) and the rules that decide whether the value under such a name is a live
 * credential.
 *
 * A name is compared in a normal form: lower case, letters and digits only, so `X-Api-Key`,
 * `x_api_key`, `apiKey` and `API-KEY` are one name. Three kinds:
 *
 * - **strong** (`authorization`, `x-api-key`, `access_token`, `client_secret`, `password`,
 *   session cookie names such as `JSESSIONID`, …): any value that is not a placeholder, a
 *   fingerprint, a credential-type word or a boolean-like word is a credential.
 * - **cookie** (`cookie`, `set-cookie`): a credential when any cookie in it has a live value.
 * - **weak** (names that merely end with `token`, `secret`, `signature`, `session`…): the value
 *   must also look random (the bounded entropy rule of {@link looksRandom}).
 *
 * Look-alikes that end like a credential name but are not one (`pageToken`, `next_token`,
 * `csrf_token`, `publicKey`, `idempotency-key`, `token_type`, …) are not credential names.
 */
import { TFP1_RE } from '../../../schemas/fingerprint.js';

export type CredentialKind = 'strong' | 'weak' | 'cookie';

/** Normal form ending that makes a name strong. */
const STRONG_ENDINGS = [
  'authorization',
  'apikey',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'authtoken',
  'bearertoken',
  'sessiontoken',
  'securitytoken',
  'oauthtoken',
  'apitoken',
  'privatetoken',
  'vaulttoken',
  'clientsecret',
  'appsecret',
  'apisecret',
  'secretkey',
  'privatekey',
  'signingkey',
  'masterkey',
  'accesskey',
  'authkey',
  'clientkey',
  'encryptionkey',
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'credential',
  'credentials',
  'jsessionid',
  'phpsessid',
  'aspnetsessionid',
  'connectsid',
  'laravelsession',
  'gitlabsession',
  'sessioncookie',
];

/** Normal form endings that make a name weak (value must look random). */
const WEAK_ENDINGS = ['token', 'secret', 'signature', 'sessionid', 'session', 'sess'];
/** Whole names (normal form) that are weak. */
const WEAK_NAMES = new Set(['sig', 'auth']);

/** Normal form endings of look-alikes: end like a credential name, are not one. */
const LOOKALIKE_ENDINGS = [
  'pagetoken',
  'nexttoken',
  'prevtoken',
  'previoustoken',
  'continuationtoken',
  'synctoken',
  'resumetoken',
  'cursortoken',
  'paginationtoken',
  'starttoken',
  'csrftoken',
  'xsrftoken',
  'csrfmiddlewaretoken',
  'authenticitytoken',
  'requestverificationtoken',
  'antiforgerytoken',
  'publickey',
  'publishablekey',
  'idempotencykey',
  'cachekey',
  'sortkey',
  'partitionkey',
  'primarykey',
  'foreignkey',
  'objectkey',
  'hashkey',
  'rangekey',
  'routingkey',
  'messagekey',
  'dedupkey',
  'deduplicationkey',
  'tokentype',
  'secretname',
];

function endsWithAny(n: string, endings: readonly string[]): boolean {
  for (const e of endings) if (n.endsWith(e)) return true;
  return false;
}

/** Lower case, letters and digits only; the last 64 characters of a longer name. */
export function normalName(name: string): string {
  const tail = name.length > 96 ? name.slice(-96) : name;
  const n = tail.toLowerCase().replace(/[^a-z0-9]/g, '');
  return n.length > 64 ? n.slice(-64) : n;
}

const cache = new Map<string, CredentialKind | null>();

/**
 * The credential kind of a key / parameter / header / cookie name, or null when it does not carry
 * a credential. Cached (names repeat across events; the cache is bounded).
 */
export function credentialName(name: string): CredentialKind | null {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const kind = classify(name);
  if (cache.size > 4096) cache.clear();
  cache.set(name, kind);
  return kind;
}

function classify(name: string): CredentialKind | null {
  if (name.length === 0 || name.length > 256) return null;
  if (name === '_token' || name === '_csrf') return null; // Laravel / Express CSRF form fields
  const n = normalName(name);
  if (n.length === 0) return null;
  if (n.endsWith('cookie') || n.endsWith('cookies')) return 'cookie';
  if (endsWithAny(n, LOOKALIKE_ENDINGS)) return null;
  if (n.startsWith('aspsessionid')) return 'strong';
  if (endsWithAny(n, STRONG_ENDINGS)) return 'strong';
  if (WEAK_NAMES.has(n) || endsWithAny(n, WEAK_ENDINGS)) return 'weak';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Values.

const PLACEHOLDER_WORD =
  /^[[<({]?\s*(?:redacted|filtered|hidden|masked|removed|omitted|sanitized|scrubbed|censored|obfuscated|null|nil|none|undefined|n\/a)(?:[:_\- ][\w:.\-]*)?\s*[\]>)}]?$/i;
/** Only mask characters: `***`, `xxxx`, `-`, `…`, `••••` (or base64 padding after a `…pwd=`). */
const MASK_ONLY = /^[*xX•·.…#_\-= ]+$/;
/** Partly masked (`abcd****`, `eyJhb…`): a real credential never contains these runs. */
const MASK_RUN = /\*{3}|•{3}|…/;
/** Template variables: `${API_KEY}`, `{{token}}`, `%s`, `<password>`, `:password`. */
const TEMPLATE = /^(?:\$\{[^}]*\}|\{\{[^}]*\}\}|%[sdv]|<[a-z_ -]{1,40}>|\{[a-z_]{1,40}\}|:[a-z_]{1,40})$/i;
/** An auth scheme in front of a header value. */
const AUTH_SCHEME =
  /^(?:bearer|basic|digest|token|dpop|mac|negotiate|ntlm|apikey|api-key|key|sso-key|ssws|aws4-hmac-sha256|hawk|otr)(?:\s+|$)/i;
const TYPE_WORDS = new Set(['access_token', 'refresh_token', 'id_token', 'api_key', 'session', 'bearer', 'basic']);
/** Words that say something *about* a credential: `refresh_token=true`, `password: required`. */
const STATE_WORDS = new Set([
  'true',
  'false',
  'yes',
  'no',
  'on',
  'off',
  '0',
  '1',
  'y',
  'n',
  'required',
  'optional',
  'enabled',
  'disabled',
  'present',
  'missing',
  'set',
  'unset',
  'invalid',
  'expired',
  'revoked',
  'valid',
  'empty',
  'default',
]);
const SET_COOKIE_ATTRS = new Set(['path', 'domain', 'expires', 'max-age', 'samesite', 'secure', 'httponly', 'partitioned', 'priority']);

/** A redaction placeholder (`[REDACTED]`, `***`, `<redacted>`, `xxx…`, `-`, empty, `${TOKEN}`) or a masked value. */
export function isPlaceholder(value: string): boolean {
  const s = value.trim();
  return s === '' || PLACEHOLDER_WORD.test(s) || MASK_ONLY.test(s) || MASK_RUN.test(s) || TEMPLATE.test(s);
}

export function isFingerprint(value: string): boolean {
  return TFP1_RE.test(value.trim());
}

/** Strips one auth scheme word (`Bearer `, `Token `, `SSWS `…) from a header value. */
export function stripAuthScheme(value: string): string {
  const s = value.trim();
  const m = AUTH_SCHEME.exec(s);
  return m === null ? s : s.slice(m[0].length).trim();
}

const asciiCounts = new Int32Array(128);

/**
 * Shannon entropy in bits per character of at most the first 128 characters. Terms are summed in
 * order of first occurrence; ASCII characters are counted in a typed array (no Map per token).
 */
export function entropy(s: string): number {
  const n = Math.min(s.length, 128);
  if (n === 0) return 0;
  let other: Map<number, number> | undefined;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 128) asciiCounts[c]!++;
    else (other ??= new Map()).set(c, (other.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let k: number;
    if (c < 128) {
      k = asciiCounts[c]!;
      asciiCounts[c] = 0;
    } else {
      k = other!.get(c) ?? 0;
      other!.delete(c);
    }
    if (k === 0) continue;
    const p = k / n;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * The bounded entropy rule: a value that looks like a random token — at least 12 characters, no
 * white space, at least two character classes (upper, lower, digit, symbol) and at least 3 bits
 * of entropy per character over its first 128 characters. Constant work per value.
 */
export function looksRandom(s: string): boolean {
  if (s.length < 12) return false;
  const head = s.length > 256 ? s.slice(0, 256) : s;
  if (/\s/.test(head)) return false;
  let classes = 0;
  if (/[A-Z]/.test(head)) classes++;
  if (/[a-z]/.test(head)) classes++;
  if (/[0-9]/.test(head)) classes++;
  if (/[^A-Za-z0-9]/.test(head)) classes++;
  if (classes < 2) return false;
  return entropy(head) >= 3;
}

/** A cookie / set-cookie value holds a secret when any cookie in it has a live value. */
function isSecretCookie(value: string): boolean {
  const parts = value.length > 8192 ? [value] : value.split(';');
  for (const part of parts) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (SET_COOKIE_ATTRS.has(name)) continue;
    const v = eq < 0 ? part : part.slice(eq + 1);
    if (!isPlaceholder(v) && !isFingerprint(v) && v.trim() !== '') return true;
  }
  return false;
}

/**
 * Whether `value` (decoded) is a live credential under a name of kind `kind`. Values longer than
 * `maxChars` (default 2,048) are credentials without further checks.
 */
export function isCredentialValue(kind: CredentialKind, value: string, maxChars = 2048): boolean {
  if (value.length > maxChars) return true;
  if (kind === 'cookie') return isSecretCookie(value);
  const s = stripAuthScheme(value);
  if (isPlaceholder(s) || isFingerprint(s)) return false;
  const lower = s.toLowerCase();
  if (TYPE_WORDS.has(lower) || STATE_WORDS.has(lower)) return false;
  if (kind === 'strong') return s.length >= 4;
  return looksRandom(s);
}
