/**
 * Credential fingerprints, scheme `tfp1` (DESIGN §2): `tfp1:` + the first 22 characters of the
 * base64url HMAC-SHA-256 of the credential (without its `Bearer ` scheme), keyed by the secret
 * shared by the gateways and tokenwatch (`TOKENWATCH_FP_KEY`). A keyed hash, because a plain hash of
 * a low-entropy API key can be brute-forced.
 */
import { createHmac } from 'node:crypto';

export const FP_PREFIX = 'tfp1:';

/** Matches a well-formed tfp1 fingerprint. */
export const TFP1_RE = /^tfp1:[A-Za-z0-9_-]{22}$/;

/** Strips an HTTP auth scheme (`Bearer`, case-insensitive) and surrounding white space. */
export function stripScheme(credential: string): string {
  return credential.trim().replace(/^bearer(?:\s+|$)/i, '').trim();
}

/**
 * Fingerprints a raw credential. The key must be at least 16 bytes; the credential is never kept.
 * @throws Error when the key is too short or the credential is empty
 */
export function fingerprint(credential: string, key: string | Buffer): string {
  const k = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (k.length < 16) throw new Error('TOKENWATCH_FP_KEY must be at least 16 bytes');
  const value = stripScheme(credential);
  if (value === '') throw new Error('credential is empty');
  return FP_PREFIX + createHmac('sha256', k).update(value, 'utf8').digest('base64url').slice(0, 22);
}
