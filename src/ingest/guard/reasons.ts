/**
 * Reason codes of the secret guard (DESIGN §2). They are also DLQ reason codes and metric label
 * values, so the list is closed and a code is never reused for something else.
 */
export const SECRET_REASONS = [
  'secret_jwt',
  'secret_bearer',
  'secret_basic',
  'secret_known_key',
  'secret_private_key',
  'secret_credential_field',
  'secret_credential_query',
  'secret_url_userinfo',
] as const;

export type SecretReason = (typeof SECRET_REASONS)[number];

/** When two findings overlap, the merged one keeps the most specific reason. */
export const PRIORITY: Record<SecretReason, number> = {
  secret_private_key: 8,
  secret_jwt: 7,
  secret_known_key: 6,
  secret_basic: 5,
  secret_bearer: 4,
  secret_url_userinfo: 3,
  secret_credential_query: 2,
  secret_credential_field: 1,
};

/** Replacement text for a redacted secret value. */
export function redactionMarker(reason: SecretReason): string {
  return `[REDACTED:${reason}]`;
}
