/**
 * The hot path, in flow order, for one partition's messages and without Kafka (DESIGN §1):
 *
 *   decode (size → secret guard → JSON → schema) ─► enrich ─► detectors ─► response policy
 *       └─► DLQ record                                             └─► alert rows, denylist / SET / control records
 *
 * Shared by `tokenwatch run` (processor.ts), `tokenwatch replay`, the bench and the tests, so all
 * of them agree. Pure apart from the engine's state and the injected clock.
 */
import type { Config } from '../config/index.js';
import type { Detector, SourceRef } from '../detect/contract.js';
import { Engine, type DetectorFinding } from '../detect/engine.js';
import { Enricher, type GeoLookup } from '../ingest/enrich.js';
import { decode, type DlqReason } from '../ingest/decode.js';
import { excerpt } from '../ingest/guard.js';
import type { Logger } from '../telemetry/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Bus, BusBatch, BusRecord } from '../io/bus.js';
import type { AlertStore } from '../io/clickhouse.js';
import type { AlertRow } from '../../schemas/alert.js';
import { DLQ_REASON_HEADER, dlqKey, type DlqRecord } from '../../schemas/dlq.js';
import { describeError } from '../../schemas/errors.js';
import { ResponsePolicy } from '../respond/policy.js';
import { breakerAlert, buildAlert } from '../respond/alerts.js';
import { setBusRecord } from '../respond/set.js';
import { breakerOpenRecord } from '../respond/breaker-control.js';
import { SRC_OFFSET_HEADER, SRC_PARTITION_HEADER, SRC_TOPIC_HEADER } from './topics.js';

export interface ProcessorDeps {
  config: Config;
  detectors: readonly Detector[];
  bus: Bus;
  store: AlertStore;
  log: Logger;
  metrics: Metrics;
  geo?: GeoLookup;
  /** wall clock for detected_at / revoked_at / breaker; injected for tests */
  now?: () => number;
}

/** What one batch produced, waiting to be made durable. */
export interface BatchOutput {
  alerts: AlertRow[];
  records: BusRecord[];
  dlq: number;
  findings: number;
  revocations: number;
}

/**
 * The processing core without Kafka: decode → … → policy for a list of messages of one
 * partition. Shared by the processor and by tests; pure apart from the engine's state.
 */
export class BatchProcessor {
  readonly policy: ResponsePolicy;
  readonly enricher: Enricher;
  private sharedEngine?: Engine;
  private readonly active: Array<{ detector: Detector; config: unknown }>;

  constructor(private readonly deps: Omit<ProcessorDeps, 'bus' | 'store'>) {
    const { config } = deps;
    this.policy = new ResponsePolicy({ response: config.response, shadow: config.shadow });
    this.enricher = new Enricher({ ...config.network, geo: deps.geo });
    this.active = deps.detectors
      .filter((d) => this.policy.detectorAction(d.meta.id, d.meta.defaultAction) !== 'off')
      .map((d) => ({ detector: d, config: config.detectorConfigs[d.meta.id] }));
  }

  get activeDetectors(): string[] {
    return this.active.map((a) => a.detector.meta.id);
  }

  /**
   * The detection state of this instance. One engine serves every partition the instance owns, so
   * detection is complete whatever the producers keyed the input by, as long as one instance owns
   * all partitions. (Per-partition state with changelogs and re-keying for scale-out: see README.)
   */
  engine(_topic: string, _partition: number): Engine {
    if (!this.sharedEngine) {
      this.sharedEngine = new Engine(this.active, {
        maxKeysPerDetector: this.deps.config.maxKeysPerDetector,
        maxAliasesPerDetector: 2 * this.deps.config.maxKeysPerDetector,
        allowedLatenessMs: this.deps.config.latenessSec * 1000,
      });
    }
    return this.sharedEngine;
  }

  allEngines(): Engine[] {
    return this.sharedEngine ? [this.sharedEngine] : [];
  }

  process(topic: string, partition: number, messages: BusBatch['messages']): BatchOutput {
    const { config, metrics, log } = this.deps;
    const now = this.deps.now ?? Date.now;
    const engine = this.engine(topic, partition);
    const out: BatchOutput = { alerts: [], records: [], dlq: 0, findings: 0, revocations: 0 };
    const lateBefore = engine.stats.lateEvents;
    for (const m of messages) {
      // after re-keying, the headers carry where the event entered tokenwatch
      const source: SourceRef = m.headers[SRC_TOPIC_HEADER]
        ? { topic: m.headers[SRC_TOPIC_HEADER]!, partition: Number(m.headers[SRC_PARTITION_HEADER]), offset: m.headers[SRC_OFFSET_HEADER] ?? '' }
        : { topic, partition, offset: m.offset };
      const d = decode(m.value, { now, idSubstitute: `${source.topic}/${source.partition}/${source.offset}` });
      if (!d.ok) {
        out.records.push(this.dlqRecord(d.reason, d.detail, d.excerpt, d.redacted, source, m));
        out.dlq++;
        metrics.inc('tokenwatch_dlq_total', 'messages sent to the dead-letter topic', { reason: d.reason });
        if (d.reason.startsWith('secret_')) metrics.inc('tokenwatch_quarantined_total', 'secret-bearing messages, by outcome', { reason: d.reason, outcome: 'dropped' });
        continue;
      }
      if (d.quarantine) {
        // redact, don't blind: the quarantine record is written and the redacted event still detected on
        const q = d.quarantine;
        out.records.push(this.dlqRecord(q.reason, q.detail, q.excerpt, q.redacted, source, m));
        out.dlq++;
        metrics.inc('tokenwatch_dlq_total', 'messages sent to the dead-letter topic', { reason: q.reason });
        metrics.inc('tokenwatch_quarantined_total', 'secret-bearing messages, by outcome', { reason: q.reason, outcome: 'redacted_processed' });
      }
      let findings: DetectorFinding[];
      try {
        findings = engine.process(this.enricher.enrich(d.event, source));
      } catch (e) {
        log.error({ err: describeError(e), offset: m.offset, partition }, 'detector failed; event dead-lettered');
        const text = m.value?.toString('utf8') ?? '';
        out.records.push(this.dlqRecord('detector_failed', describeError(e).slice(0, 300), excerpt(text, 512), undefined, source, m));
        out.dlq++;
        metrics.inc('tokenwatch_dlq_total', 'messages sent to the dead-letter topic', { reason: 'detector_failed' });
        continue;
      }
      metrics.inc('tokenwatch_events_total', 'events decoded and run through the detectors', { stage: 'detected' });
      for (const f of findings) {
        const t = now();
        const decision = this.policy.decide(f, t);
        if (decision.trip) {
          out.alerts.push(breakerAlert(decision.trip, t));
          out.records.push(breakerOpenRecord(config.topics.control, decision.trip, this.policy.breaker.status.reason ?? ''));
          metrics.inc('tokenwatch_breaker_trips_total', 'revocation circuit breaker trips', { scope: decision.trip.scope });
          log.error({ breaker: decision.trip }, 'revocation circuit breaker tripped: alert-only until reset or cool-down');
        }
        const built = buildAlert(f, decision, t, config.revocationTtlSec);
        out.alerts.push(built.row);
        out.findings++;
        metrics.inc('tokenwatch_findings_total', 'findings by detector and action', { detector: f.detector.meta.id, action: decision.action });
        for (const r of built.records) {
          out.records.push({ topic: config.topics.denylist, key: r.key, value: JSON.stringify(r.value) });
          const set = setBusRecord(config.set, r.value);
          if (set) out.records.push(set);
          out.revocations++;
          metrics.inc('tokenwatch_revocations_total', 'denylist records published', { detector: f.detector.meta.id, scope: r.value.scope });
        }
      }
    }
    const late = engine.stats.lateEvents - lateBefore;
    if (late) metrics.inc('tokenwatch_late_events_total', 'events later than the allowed lateness (processed best-effort)', {}, late);
    metrics.set('tokenwatch_breaker_open', 'revocation circuit breaker state (1 = open, alert-only)', {}, this.policy.breaker.isOpen(now()) ? 1 : 0);
    return out;
  }

  private dlqRecord(
    reason: DlqReason,
    detail: string,
    exc: string,
    redacted: string | undefined,
    source: SourceRef,
    m: BusBatch['messages'][number],
  ): BusRecord {
    const rec: DlqRecord = {
      v: 1,
      reason,
      detail,
      source: { ...source, timestamp: m.timestamp, key: m.key === null ? null : excerpt(m.key, 200) },
      excerpt: exc,
      payload: redacted,
      at: new Date((this.deps.now ?? Date.now)()).toISOString(),
    };
    return {
      topic: this.deps.config.topics.dlq,
      key: dlqKey(source),
      value: JSON.stringify(rec),
      headers: { [DLQ_REASON_HEADER]: reason },
    };
  }
}
