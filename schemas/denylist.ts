/**
 * The denylist contract (DESIGN §6): topic `auth.denylist`, compacted, key `<scope>:<id>`, value a
 * revocation record; a null value (tombstone) lifts the revocation. Written by the processor and
 * `tokenwatch unrevoke`, read by `tokenwatch denylist-server` and by gateways.
 */
import { z } from 'zod';

/** What a revocation applies to: a credential fingerprint, a session / token family, an API key id, or a subject (not-before). */
export const REVOCATION_SCOPES = ['token', 'family', 'api_key', 'subject'] as const;
export type RevocationScope = (typeof REVOCATION_SCOPES)[number];

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A denylist record value. Readers ignore unknown extra fields; optional here are fields older writers may omit. */
export const DenylistRecordSchema = z.object({
  v: z.literal(1),
  revocation_id: z.string().min(1),
  scope: z.enum(REVOCATION_SCOPES),
  id: z.string().min(1),
  tenant: z.string(),
  subject: z.string(),
  reason: z.string(),
  alert_id: z.string(),
  severity: z.enum(SEVERITIES),
  /** ISO 8601 */
  revoked_at: z.string(),
  /** ISO 8601: the credential's expiry when known, else revoked_at + the configured TTL */
  expires_at: z.string(),
});
export type DenylistRecord = z.infer<typeof DenylistRecordSchema>;

/** What a reader accepts: the same record with the descriptive fields optional. */
export const DenylistRecordReadSchema = DenylistRecordSchema.partial({ tenant: true, subject: true, reason: true, alert_id: true }).extend({
  severity: z.string().optional(),
});

/** The record key of a revocation. */
export function denylistKey(scope: RevocationScope, id: string): string {
  return `${scope}:${id}`;
}

/** Parses `<scope>:<id>`; undefined when the scope is unknown or the id empty. */
export function parseDenylistKey(s: string | undefined): { scope: RevocationScope; id: string } | undefined {
  const m = s?.match(/^([a-z_]+):(.+)$/);
  const scope = m?.[1] as RevocationScope | undefined;
  if (!m || !scope || !REVOCATION_SCOPES.includes(scope) || !m[2]!.trim()) return undefined;
  return { scope, id: m[2]! };
}

/** The denylist topic as tokenwatch creates it: compacted, so the latest record of a key is the state. */
export function denylistTopicSpec(topic: string): { topic: string; partitions: number; compacted: true } {
  return { topic, partitions: 3, compacted: true };
}
