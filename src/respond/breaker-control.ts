/**
 * The revocation circuit breaker's shared state (DESIGN §6), on a compacted control topic
 * (`TOKENWATCH_CONTROL_TOPIC`, default `tokenwatch.control`, key `breaker`):
 *
 * - when an instance's breaker trips, the batch that tripped it also publishes an `open` record
 *   (with the cool-down end, or null = until reset), so every instance goes alert-only and a
 *   restarted instance comes back alert-only instead of revoking again;
 * - `tokenwatch breaker-reset --reason …` publishes a `closed` record and writes a `breaker_reset`
 *   alert row (the audit trail); every instance closes its breaker and resumes revoking.
 *
 * Each processor follows the topic from the beginning (its latest record is the state) before it
 * consumes input, then keeps following it.
 */
import type { Bus, BusRecord, TopicSpec } from '../io/bus.js';
import type { Logger } from '../telemetry/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { BreakerState, BreakerTrip } from './policy.js';
import type { AlertRow } from '../../schemas/alert.js';
import { BREAKER_CONTROL_KEY, BreakerControlRecordSchema, type BreakerControlRecord } from '../../schemas/control.js';
import { operationalAlert } from './alerts.js';
import { TopicFollower } from '../io/follower.js';
import { METRICS } from '../telemetry/catalogue.js';

export { BREAKER_CONTROL_KEY, type BreakerControlRecord };

/** The control topic's spec (one partition: one total order of breaker changes). */
export function controlTopicSpec(topic: string): TopicSpec {
  return { topic, partitions: 1, compacted: true };
}

/** The record an instance publishes when its breaker trips. */
export function breakerOpenRecord(topic: string, trip: BreakerTrip, reason: string): BusRecord {
  const rec: BreakerControlRecord = {
    v: 1,
    type: 'breaker',
    state: 'open',
    at: new Date(trip.atMs).toISOString(),
    until: trip.untilMs == null ? null : new Date(trip.untilMs).toISOString(),
    reason,
    trip: { scope: trip.scope, ...(trip.tenant !== undefined ? { tenant: trip.tenant } : {}), count: trip.count, limit: trip.limit },
  };
  return { topic, key: BREAKER_CONTROL_KEY, value: JSON.stringify(rec) };
}

/** The record `tokenwatch breaker-reset` publishes. */
export function breakerResetRecord(topic: string, actor: string, reason: string, nowMs: number): BusRecord {
  const rec: BreakerControlRecord = { v: 1, type: 'breaker', state: 'closed', at: new Date(nowMs).toISOString(), until: null, reason, actor };
  return { topic, key: BREAKER_CONTROL_KEY, value: JSON.stringify(rec) };
}

/** The alert row that records a reset. */
export function breakerResetRow(actor: string, reason: string, nowMs: number, was?: BreakerControlRecord): AlertRow {
  return operationalAlert({
    idParts: ['breaker-reset/v1', String(nowMs), actor],
    detector: 'breaker_reset',
    severity: 'medium',
    summary: `Revocation circuit breaker reset by ${actor}: ${reason}; revocations resume`,
    evidence: { actor, reason, previous: was ?? null },
    nowMs,
    tenant: was?.trip?.tenant,
  });
}

export function parseBreakerRecord(value: string | Buffer | null): BreakerControlRecord | undefined {
  if (value === null) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(value.toString());
  } catch {
    return undefined;
  }
  const r = BreakerControlRecordSchema.safeParse(json);
  return r.success ? r.data : undefined;
}

/** What the control needs of a breaker (the processor's `policy.breaker`). */
export interface ControllableBreaker {
  readonly status: BreakerState;
  reset(): void;
  /** takes over an open state published by another instance (or before a restart) */
  restore(state: BreakerState): void;
}

export interface BreakerControlOptions {
  bus: Pick<Bus, 'ensureTopics' | 'consumer' | 'endOffsets'>;
  topic: string;
  breaker: ControllableBreaker;
  log: Logger;
  metrics?: Metrics;
  now?: () => number;
}

/**
 * Applies the control topic to a breaker. Order-safe: a reset closes only a breaker opened at or
 * before it, and an open record older than the last reset is ignored, so a trip and a reset that
 * cross on the wire end in the state the later of the two asked for.
 */
export class BreakerControl {
  private readonly follower: TopicFollower;
  private lastResetMs = Number.NEGATIVE_INFINITY;
  /** the latest valid record seen */
  latest?: BreakerControlRecord;

  constructor(private readonly opts: BreakerControlOptions) {
    this.follower = new TopicFollower({
      bus: opts.bus,
      topic: opts.topic,
      groupPrefix: 'tokenwatch-control',
      log: opts.log,
      idleCatchUpMs: 1_000,
      onMessage: (m) => {
        if (m.key === BREAKER_CONTROL_KEY) this.apply(parseBreakerRecord(m.value));
      },
    });
  }

  /** Applies one record (exposed for tests). */
  apply(rec: BreakerControlRecord | undefined): void {
    if (!rec) return;
    const { breaker, log } = this.opts;
    const now = (this.opts.now ?? Date.now)();
    const atMs = Date.parse(rec.at);
    this.latest = rec;
    if (rec.state === 'closed') {
      this.lastResetMs = Math.max(this.lastResetMs, atMs);
      const st = breaker.status;
      if (st.open && (st.openedAtMs ?? Number.NEGATIVE_INFINITY) <= atMs) {
        breaker.reset();
        log.warn({ actor: rec.actor, reason: rec.reason }, 'revocation circuit breaker reset: revocations resume');
      }
    } else {
      const untilMs = rec.until === null ? null : Date.parse(rec.until);
      if (atMs <= this.lastResetMs || (untilMs !== null && untilMs <= now)) return;
      const st = breaker.status;
      if (!st.open || (st.openedAtMs ?? 0) < atMs) {
        breaker.restore({ open: true, openedAtMs: atMs, untilMs, reason: rec.reason });
        log.error({ at: rec.at, until: rec.until, reason: rec.reason }, 'revocation circuit breaker open (shared state): alert-only until reset or cool-down');
      }
    }
    this.opts.metrics?.set(METRICS.breaker_open, {}, breaker.status.open ? 1 : 0);
  }

  /** Creates the topic if needed and follows it; resolves once its current state is applied. */
  async start(): Promise<void> {
    await this.opts.bus.ensureTopics([controlTopicSpec(this.opts.topic)]);
    await this.follower.start();
    await this.follower.caughtUp;
  }

  async stop(): Promise<void> {
    await this.follower.stop();
  }
}

/** Reads the control topic to its end and returns the latest breaker record (for `breaker-reset`). */
export async function readBreakerState(bus: Pick<Bus, 'consumer' | 'endOffsets'>, topic: string, log: Logger): Promise<BreakerControlRecord | undefined> {
  let latest: BreakerControlRecord | undefined;
  const f = new TopicFollower({
    bus,
    topic,
    groupPrefix: 'tokenwatch-control-read',
    log,
    idleCatchUpMs: 1_000,
    onMessage: (m) => {
      if (m.key === BREAKER_CONTROL_KEY) latest = parseBreakerRecord(m.value) ?? latest;
    },
  });
  try {
    await f.start();
    await f.caughtUp;
  } finally {
    await f.stop();
  }
  return latest;
}
