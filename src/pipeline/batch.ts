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
import { decodeAll, type Decoded, type DlqReason } from '../ingest/decode.js';
import { excerpt } from '../ingest/guard.js';
import type { Logger } from '../telemetry/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Bus, BusBatch, BusRecord } from '../io/bus.js';
import type { AlertStore } from '../io/clickhouse.js';
import type { AlertRow } from '../../schemas/alert.js';
import { describeError } from '../../schemas/errors.js';
import { ResponsePolicy } from '../respond/policy.js';
import { breakerAlert, buildAlert } from '../respond/alerts.js';
import { setBusRecord } from '../respond/set.js';
import { breakerOpenRecord } from '../respond/breaker-control.js';
import type { InputFormat } from '../ingest/adapters/index.js';
import { DeadLetters } from './dead-letter.js';
import { producerKey } from '../../schemas/keys.js';
import { forwardRecord } from './forward.js';
import { SRC_OFFSET_HEADER, SRC_PARTITION_HEADER, SRC_TOPIC_HEADER } from './topics.js';
import { METRICS } from '../telemetry/catalogue.js';

type Message = BusBatch['messages'][number];

/** A task's id: its source topic and partition. */
export const taskId = (topic: string, partition: number): string => `${topic}/${partition}`;

/**
 * Decodes one Kafka message into the events it carries, the same way in every stage that reads
 * input (this batch, the re-keying stage): its topic's format, the source position as the
 * adapters' fallback and as the stable substitute for a secret-bearing request id.
 */
export function decodeMessage(m: Message, source: SourceRef, format: InputFormat, now: () => number): Decoded[] {
  return decodeAll(m.value, {
    now,
    idSubstitute: `${source.topic}/${source.partition}/${source.offset}`,
    format,
    source: { ...source, timestampMs: Number(m.timestamp) || undefined },
  });
}

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
  /** events forwarded to the repartition topic (TOKENWATCH_REKEY=auto) */
  forwarded: number;
}

/**
 * The processing core without Kafka: decode → … → policy for a list of messages of one
 * partition. Shared by the processor and by tests; pure apart from the engine's state.
 */
export class BatchProcessor {
  readonly policy: ResponsePolicy;
  readonly enricher: Enricher;
  /** one engine per task (source topic/partition): its own state, alias table and stream time */
  private readonly engines = new Map<string, Engine>();
  /** whether engines created from now on track their changes for a changelog */
  private tracking = false;
  /** in TOKENWATCH_REKEY=auto: the repartition topic events of input messages not keyed by the contract go to */
  private forwardTo?: string;
  /** partition count per source topic: a task's key cap is its share of TOKENWATCH_MAX_KEYS_PER_DETECTOR */
  private readonly partitionCounts = new Map<string, number>();
  private readonly active: Array<{ detector: Detector; config: unknown }>;
  private readonly formats: Map<string, InputFormat>;
  private readonly deadLetters: DeadLetters;

  constructor(private readonly deps: Omit<ProcessorDeps, 'bus' | 'store'>) {
    const { config } = deps;
    this.policy = new ResponsePolicy({ response: config.response, shadow: config.shadow });
    this.enricher = new Enricher({ ...config.network, geo: deps.geo });
    this.active = deps.detectors
      .filter((d) => this.policy.detectorAction(d.meta.id, d.meta.defaultAction) !== 'off')
      .map((d) => ({ detector: d, config: config.detectorConfigs[d.meta.id] }));
    this.formats = new Map(config.topics.inputs.map((i) => [i.topic, i.format]));
    this.deadLetters = new DeadLetters({ topic: config.topics.dlq, metrics: deps.metrics, now: deps.now ?? Date.now });
  }

  get activeDetectors(): string[] {
    return this.active.map((a) => a.detector.meta.id);
  }

  /**
   * The task of one source partition (DESIGN §3, Kafka Streams' model): its own detector state,
   * alias table and stream time, created on first use. Events of one partition are processed in
   * offset order by one task, so what a task finds depends only on its partition's content — not
   * on fetch sizes, on how partitions interleave, or on which instance owns it. Detection is
   * complete when every event of a key lands on one partition: producers key by the contract's
   * rule, or `TOKENWATCH_REKEY` re-keys the input.
   */
  engine(topic: string, partition: number): Engine {
    const id = taskId(topic, partition);
    let e = this.engines.get(id);
    if (!e) {
      const cap = this.taskKeyCap(topic);
      e = new Engine(this.active, {
        maxKeysPerDetector: cap,
        maxAliasesPerDetector: 2 * cap,
        allowedLatenessMs: this.deps.config.latenessSec * 1000,
      });
      e.trackChanges = this.tracking;
      this.engines.set(id, e);
    }
    return e;
  }

  /**
   * Tells how many partitions a source topic has. The key cap is for the whole input and each task
   * gets an equal share of it: a task's evictions then depend on its own partition only (not on
   * which other tasks share its instance), and an instance holds at most its share of the keys.
   */
  setPartitions(topic: string, partitions: number): void {
    this.partitionCounts.set(topic, Math.max(1, partitions));
  }

  /** A task's key cap per detector: TOKENWATCH_MAX_KEYS_PER_DETECTOR over its topic's partitions. */
  taskKeyCap(topic: string): number {
    return Math.max(1, Math.floor(this.deps.config.maxKeysPerDetector / (this.partitionCounts.get(topic) ?? 1)));
  }

  /** Whether the task's engine exists. */
  hasTask(topic: string, partition: number): boolean {
    return this.engines.has(taskId(topic, partition));
  }

  /** Forgets a task's state (its partition was revoked, or it is about to be restored afresh). */
  dropTask(topic: string, partition: number): void {
    this.engines.delete(taskId(topic, partition));
  }

  /**
   * TOKENWATCH_REKEY=auto: an event of an input message whose key is not the producer contract's
   * (`producerKey`, schemas/keys.ts) is not detected on here — its partition may not hold the
   * rest of its key's events — but forwarded, guarded, to `repartition` (keyed like the re-keying
   * stage does), whose tasks detect on it. Messages keyed by the contract stay in place. The
   * choice depends on the message alone, so a producer's messages for one key all take one path.
   */
  forwardUnkeyed(repartition: string): void {
    this.forwardTo = repartition;
  }

  /** Makes every engine created from now on track its changes for a changelog. */
  trackChanges(): void {
    this.tracking = true;
    for (const e of this.engines.values()) e.trackChanges = true;
  }

  /** The tasks that exist, as [topic, partition, engine]. */
  tasks(): Array<{ topic: string; partition: number; engine: Engine }> {
    return [...this.engines].map(([id, engine]) => {
      const cut = id.lastIndexOf('/');
      return { topic: id.slice(0, cut), partition: Number(id.slice(cut + 1)), engine };
    });
  }

  allEngines(): Engine[] {
    return [...this.engines.values()];
  }

  /** The format records of `topic` are in: its `TOKENWATCH_INPUT_FORMAT`; canonical for the repartition topic. */
  formatOf(topic: string): InputFormat {
    return this.formats.get(topic) ?? 'canonical';
  }

  process(topic: string, partition: number, messages: BusBatch['messages']): BatchOutput {
    const { metrics } = this.deps;
    const now = this.deps.now ?? Date.now;
    const engine = this.engine(topic, partition);
    const out: BatchOutput = { alerts: [], records: [], dlq: 0, findings: 0, revocations: 0, forwarded: 0 };
    const format = this.formatOf(topic);
    const forward = this.forwardTo !== undefined && this.formats.has(topic) ? this.forwardTo : undefined;
    const lateBefore = engine.stats.lateEvents;
    for (const m of messages) {
      // after re-keying, the headers carry where the event entered tokenwatch
      const source: SourceRef = m.headers[SRC_TOPIC_HEADER]
        ? { topic: m.headers[SRC_TOPIC_HEADER]!, partition: Number(m.headers[SRC_PARTITION_HEADER]), offset: m.headers[SRC_OFFSET_HEADER] ?? '' }
        : { topic, partition, offset: m.offset };
      let decoded: Decoded[];
      try {
        decoded = decodeMessage(m, source, format, now);
      } catch (e) {
        decoded = [];
        this.failed(out, e, 'decode', undefined, source, m, topic, partition);
      }
      for (const d of decoded) this.processOne(d, engine, out, now, source, m, topic, partition, forward);
    }
    if (out.forwarded) metrics.inc(METRICS.rekeyed_total, {}, out.forwarded);
    const late = engine.stats.lateEvents - lateBefore;
    if (late) metrics.inc(METRICS.late_events_total, {}, late);
    metrics.set(METRICS.breaker_open, {}, this.policy.breaker.isOpen(now()) ? 1 : 0);
    return out;
  }

  /**
   * One decoded event, whole or not at all: a failure anywhere in its path takes back what it
   * added, dead-letters it, and the batch goes on (a poison pill never stops a partition).
   */
  private processOne(d: Decoded, engine: Engine, out: BatchOutput, now: () => number, source: SourceRef, m: Message, topic: string, partition: number, forward?: string): void {
    const mark = { ...out, alerts: out.alerts.length, records: out.records.length };
    let stage: 'decode' | 'detectors' | 'response' = 'decode';
    try {
      const dead = this.deadLetters.ofDecoded(d, source, m);
      if (dead) {
        out.records.push(dead);
        out.dlq++;
      }
      if (!d.ok) return;
      if (forward !== undefined && m.key !== producerKey(d.event.cred)) {
        out.records.push(forwardRecord(forward, d.event, source));
        out.forwarded++;
        return;
      }
      stage = 'detectors';
      const findings = engine.process(this.enricher.enrich(d.event, source));
      stage = 'response';
      this.respond(findings, out, now);
      this.deps.metrics.inc(METRICS.events_total, { stage: 'detected' });
    } catch (e) {
      out.alerts.length = mark.alerts;
      out.records.length = mark.records;
      Object.assign(out, { dlq: mark.dlq, findings: mark.findings, revocations: mark.revocations, forwarded: mark.forwarded });
      this.failed(out, e, stage, d.ok ? d.event : undefined, source, m, topic, partition);
    }
  }

  /** The DLQ record of an event that failed at `stage`; its excerpt is the guarded event when decode got that far, else the raw text through the redactor. */
  private failed(out: BatchOutput, e: unknown, stage: string, guarded: unknown, source: SourceRef, m: Message, topic: string, partition: number): void {
    const reason: DlqReason = stage === 'detectors' ? 'detector_failed' : 'processing_failed';
    const err = describeError(e);
    this.deps.log.error({ err, stage, offset: m.offset, partition, topic }, `${stage} failed on an event; it is dead-lettered (${reason}) and the batch goes on`);
    let safe = '';
    try {
      safe = excerpt(guarded === undefined ? (m.value?.toString('utf8') ?? '') : JSON.stringify(guarded), 512);
    } catch {
      // the redactor itself failed on this input: no excerpt rather than an unredacted one
    }
    out.records.push(this.deadLetters.record(reason, `${stage}: ${err}`.slice(0, 300), safe, undefined, source, m));
    out.dlq++;
  }

  /**
   * Response for one event's findings: policy decision, alert row, denylist / SET / control
   * records. Counters are bumped once the whole event is through (a failure takes its outputs back).
   */
  private respond(findings: DetectorFinding[], out: BatchOutput, now: () => number): void {
    const { config, metrics, log } = this.deps;
    const counted: Array<() => void> = [];
    for (const f of findings) {
      const t = now();
      const decision = this.policy.decide(f, t);
      if (decision.trip) {
        const trip = decision.trip;
        out.alerts.push(breakerAlert(trip, t));
        out.records.push(breakerOpenRecord(config.topics.control, trip, this.policy.breaker.status.reason ?? ''));
        counted.push(() => metrics.inc(METRICS.breaker_trips_total, { scope: trip.scope }));
        log.error({ breaker: trip }, 'revocation circuit breaker tripped: alert-only until reset or cool-down');
      }
      const built = buildAlert(f, decision, t, config.revocationTtlSec);
      out.alerts.push(built.row);
      out.findings++;
      counted.push(() => metrics.inc(METRICS.findings_total, { detector: f.detector.meta.id, action: decision.action }));
      for (const r of built.records) {
        out.records.push({ topic: config.topics.denylist, key: r.key, value: JSON.stringify(r.value) });
        const set = setBusRecord(config.set, r.value);
        if (set) out.records.push(set);
        out.revocations++;
        counted.push(() => metrics.inc(METRICS.revocations_total, { detector: f.detector.meta.id, scope: r.value.scope }));
      }
    }
    for (const c of counted) c();
  }
}
