/**
 * Secret guard (DESIGN §2): finds raw credentials in what the code reads, and redacts them.
 *
 * Events that carry a raw secret (a JWT, `Bearer …`, `Basic …`, a known key format, a credential
 * under a credential name, URL userinfo) must not leak it: the secret never reaches a log line, a
 * DLQ record, a metric label, a Kafka topic of ours or ClickHouse. This module is the one place
 * that decides what a secret looks like; docs/secret-guard.md describes it for users.
 *
 * - `guard/formats.ts` — the table of known key formats (id, reason, prefix, body, example).
 * - `guard/names.ts` — credential names (JSON keys, parameters, headers, cookies, HAR pairs) and
 *   the value rules under them (placeholders, fingerprints, the bounded entropy rule).
 * - `guard/scan.ts` — `scanForSecrets(text)`: the linear-time text scanner.
 * - `guard/event.ts` — `guardJson(value)`: the guard on decoded values (escapes, URL encoding,
 *   base64, nested JSON), whole-value redaction, identity fields.
 * - `guard/text.ts` — `redact`, `excerpt`, `redactText` (whole tokens, for text of unknown
 *   shape), `textExcerpt`, `redactValue` (log objects), `isCredentialKey`.
 *
 * Deliberately not secrets: `tfp1:` fingerprints, credential *type* words in values
 * (`"type":"refresh_token"`), keys such as `fp`, `issued_fp`, `key_id`, `jti`, `sid`, `sub`,
 * `client_id`, pagination and CSRF tokens (`pageToken`, `next_token`, `csrf_token`), UUIDs and hex
 * ids outside credential names, redaction placeholders, and Stripe publishable keys (`pk_live_…`,
 * public by design).
 */
export { SECRET_REASONS, PRIORITY, redactionMarker, type SecretReason } from './guard/reasons.js';
export { KEY_FORMATS, type KeyFormat, type Gen } from './guard/formats.js';
export { credentialName, isCredentialValue, looksRandom, entropy, isPlaceholder, type CredentialKind } from './guard/names.js';
export { scanForSecrets, mergeHits, percentDecode, unescapeJson, type SecretHit } from './guard/scan.js';
export { guardJson, IDENTITY_PATHS, MAX_DEPTH, type FieldFinding, type GuardResult } from './guard/event.js';
export { redact, excerpt, redactText, textExcerpt, redactValue, isCredentialKey, OPAQUE_MARKER } from './guard/text.js';
