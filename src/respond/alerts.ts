/**
 * Turns findings into alert rows (DESIGN §5) and denylist records (DESIGN §6), with deterministic
 * ids: re-processing the same events yields the same alert and revocation ids.
 */
import { createHash } from 'node:crypto';
import { chDateTime, KEEP_FIRST_BASE, type AlertRow } from '../../schemas/alert.js';
import { denylistKey, type DenylistRecord, type Severity } from '../../schemas/denylist.js';
import type { DetectorFinding } from '../detect/engine.js';
import type { BreakerTrip, Decision } from './policy.js';

function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/** Deterministic alert id from the detector, the state key, the triggering event and a discriminator. */
export function alertId(detectorId: string, key: string, triggerId: string, discriminator = ''): string {
  return digest('alert/v1', detectorId, key, triggerId, discriminator);
}

/** Deterministic revocation id of one scope:id revoked because of one alert. */
export function revocationId(alert: string, scope: string, id: string): string {
  return digest('revocation/v1', alert, scope, id);
}

export interface BuiltAlert {
  row: AlertRow;
  /** records to publish (empty unless the action is revoke) */
  records: Array<{ key: string; value: DenylistRecord }>;
  /** what would have been published (for shadow_revoke / suppressed / breaker fallbacks) */
  wouldRevoke: string[];
}

function uniq<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)];
}

/** Builds the alert row and, for revoke decisions, the denylist records of one finding. */
export function buildAlert(f: DetectorFinding, decision: Decision, nowMs: number, revocationTtlSec: number): BuiltAlert {
  const id = alertId(f.detector.meta.id, f.key, f.trigger.id, f.discriminator);
  const c = f.trigger.cred;
  const revs = f.revocations.map((r) => ({ ...r, key: denylistKey(r.scope, r.id), rid: revocationId(id, r.scope, r.id) }));
  const publish = decision.action === 'revoke';
  const records = publish
    ? revs.map((r) => ({
        key: r.key,
        value: {
          v: 1 as const,
          revocation_id: r.rid,
          scope: r.scope,
          id: r.id,
          tenant: f.trigger.tenant ?? '',
          subject: c.sub ?? '',
          reason: f.detector.meta.id,
          alert_id: id,
          severity: f.severity,
          revoked_at: new Date(nowMs).toISOString(),
          expires_at: new Date(r.expiresAtMs ?? nowMs + revocationTtlSec * 1000).toISOString(),
        },
      }))
    : [];
  const src = f.trigger.source;
  const evidence: Record<string, unknown> = { ...f.evidence, event_ids: f.eventIds };
  if (f.sources?.length) evidence.sources = f.sources;
  if (decision.reasons.length) evidence.policy = decision.reasons;
  if (!publish && revs.length) evidence.would_revoke = revs.map((r) => r.key);
  const row: AlertRow = {
    alert_id: id,
    detector: f.detector.meta.id,
    severity: f.severity,
    action: decision.action,
    event_time: chDateTime(f.trigger.ts),
    event_time_ms: f.trigger.ts,
    detected_at: chDateTime(nowMs),
    tenant: f.trigger.tenant ?? '',
    subject: c.sub ?? '',
    credential_type: c.type,
    credential_fp: c.fp,
    key_id: c.key_id ?? '',
    session_id: c.sid ?? '',
    ips: uniq(f.ips),
    countries: uniq(f.countries),
    asns: uniq(f.asns),
    summary: f.summary,
    evidence: JSON.stringify(evidence),
    revocation_ids: publish || decision.action === 'shadow_revoke' ? revs.map((r) => r.rid) : [],
    source: src ? `${src.topic}/${src.partition}/${src.offset}` : '',
    keep_first: KEEP_FIRST_BASE - nowMs,
  };
  return { row, records, wouldRevoke: revs.map((r) => r.key) };
}

/** What an operational alert row (breaker trips, resets, lifted revocations) says; the rest is empty. */
export interface OperationalAlert {
  /** parts of the deterministic id */
  idParts: string[];
  detector: string;
  severity: Severity;
  summary: string;
  evidence: unknown;
  nowMs: number;
  /** when it happened, if not now */
  eventMs?: number;
  tenant?: string;
  subject?: string;
  credentialFp?: string;
  keyId?: string;
  sessionId?: string;
}

/** An alert row that records something tokenwatch or an operator did, not a detector finding. */
export function operationalAlert(a: OperationalAlert): AlertRow {
  const at = a.eventMs ?? a.nowMs;
  return {
    alert_id: digest(...a.idParts),
    detector: a.detector,
    severity: a.severity,
    action: 'alert',
    event_time: chDateTime(at),
    event_time_ms: at,
    detected_at: chDateTime(a.nowMs),
    tenant: a.tenant ?? '',
    subject: a.subject ?? '',
    credential_type: '',
    credential_fp: a.credentialFp ?? '',
    key_id: a.keyId ?? '',
    session_id: a.sessionId ?? '',
    ips: [],
    countries: [],
    asns: [],
    summary: a.summary,
    evidence: JSON.stringify(a.evidence),
    revocation_ids: [],
    source: '',
    keep_first: KEEP_FIRST_BASE - a.nowMs,
  };
}

/** The critical alert written when the revocation circuit breaker trips. */
export function breakerAlert(trip: BreakerTrip, nowMs: number): AlertRow {
  const scope = trip.scope === 'global' ? 'global' : `tenant:${trip.tenant ?? ''}`;
  return operationalAlert({
    idParts: ['breaker/v1', scope, String(Math.floor(trip.atMs / 60_000))],
    detector: 'revocation_breaker',
    severity: 'critical',
    summary: `Revocation circuit breaker tripped (${scope}): ${trip.count} revocations in a minute, limit ${trip.limit}; tokenwatch is alert-only until ${trip.untilMs ? new Date(trip.untilMs).toISOString() : 'reset'}`,
    evidence: trip,
    nowMs,
    eventMs: trip.atMs,
    tenant: trip.tenant,
  });
}
