/**
 * The alert contract (DESIGN §5): one row of ClickHouse `tokenwatch.alerts` per finding, and per
 * operational event (breaker trips and resets, lifted revocations). The table itself is created by
 * the migrations in `clickhouse/`.
 */
import { z } from 'zod';

/** What happened to a finding: alerted only, revoked, would have been revoked (shadow mode), or kept from revoking by the allowlist or breaker. */
export const ALERT_ACTIONS = ['alert', 'revoke', 'shadow_revoke', 'suppressed'] as const;
export type AlertAction = (typeof ALERT_ACTIONS)[number];

export const AlertRowSchema = z.object({
  alert_id: z.string(),
  detector: z.string(),
  severity: z.string(),
  action: z.enum(ALERT_ACTIONS),
  /** 'YYYY-MM-DD hh:mm:ss' UTC, of the triggering event */
  event_time: z.string(),
  event_time_ms: z.number(),
  detected_at: z.string(),
  tenant: z.string(),
  subject: z.string(),
  credential_type: z.string(),
  credential_fp: z.string(),
  key_id: z.string(),
  session_id: z.string(),
  ips: z.array(z.string()),
  countries: z.array(z.string()),
  asns: z.array(z.number()),
  summary: z.string(),
  /** JSON text */
  evidence: z.string(),
  revocation_ids: z.array(z.string()),
  /** topic/partition/offset of the triggering event */
  source: z.string(),
  /** version column: rows detected earlier win, so a replay keeps the first detection time */
  keep_first: z.number(),
});
export type AlertRow = z.infer<typeof AlertRowSchema>;

/** Largest ms timestamp representable; keep_first = KEEP_FIRST_BASE − detected_ms. */
export const KEEP_FIRST_BASE = 9_999_999_999_999;

/** ClickHouse DateTime text ('YYYY-MM-DD hh:mm:ss', UTC) of an epoch-ms time. */
export function chDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
