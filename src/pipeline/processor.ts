/**
 * The stream processor behind `tokenwatch run` (DESIGN §1):
 *
 *   Kafka input ─► decode ─► secret guard ─► validate ─► enrich ─► detectors ─► response policy
 *                                                                              │
 *        ClickHouse alerts ◄── alert rows ┼─► denylist records ─► Kafka auth.denylist
 *                                         └─► DLQ records ─► Kafka tokenwatch.dlq
 *
 * One batch = one partition's fetch. Everything the batch produced is made durable (alert rows
 * inserted, denylist and DLQ records acknowledged by all in-sync replicas) before the batch's
 * input offset is committed; a failing sink is retried with backoff while the partition waits, so
 * the committed offset never passes unwritten work. Every sink is idempotent (deterministic ids,
 * ReplacingMergeTree, compacted denylist), so the replay after a crash changes nothing visible.
 */
import type { Config } from '../config/index.js';
import type { Detector, SourceRef } from '../detect/contract.js';
import { Engine, type DetectorFinding } from '../detect/engine.js';
import { Enricher, type GeoLookup } from '../ingest/enrich.js';
import type { Logger } from '../telemetry/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Bus, BusBatch, BusConsumer, BusProducer, BusRecord, BusTxProducer } from '../io/kafka.js';
import type { AlertRow, AlertStore } from '../io/clickhouse.js';
import { decode, type DlqReason } from '../ingest/decode.js';
import { ResponsePolicy } from '../respond/policy.js';
import { breakerAlert, buildAlert } from '../respond/alerts.js';
import { describeError, isRetriable } from '../../schemas/errors.js';
import { excerpt } from '../ingest/guard.js';
import { setBusRecord, setTopicSpecs } from '../respond/set.js';
import { BreakerControl, breakerOpenRecord, controlTopicSpec } from '../respond/breaker-control.js';

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

/** A dead-letter record's value. */
export interface DlqRecord {
  v: 1;
  reason: DlqReason;
  detail: string;
  source: SourceRef & { timestamp: string; key: string | null };
  excerpt: string;
  /** the whole message with secrets redacted, when it was small enough */
  payload?: string;
  at: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
      const d = decode(m.value);
      if (!d.ok) {
        out.records.push(this.dlqRecord(d.reason, d.detail, d.excerpt, d.redacted, source, m));
        out.dlq++;
        metrics.inc('tokenwatch_dlq_total', 'messages sent to the dead-letter topic', { reason: d.reason });
        continue;
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
      key: `${source.topic}/${source.partition}/${source.offset}`,
      value: JSON.stringify(rec),
      headers: { 'tokenwatch-reason': reason },
    };
  }
}

/** A one-at-a-time lock: batches and state flushes never interleave. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.tail.then(fn);
    this.tail = r.then(
      () => undefined,
      () => undefined,
    );
    return r;
  }
}

/** Name of the compacted changelog topic that backs the detectors' state (DESIGN §3). */
export function changelogTopic(groupId: string): string {
  return `tokenwatch.${groupId}.state-changelog`;
}

/** Internal topic the input is re-keyed through when TOKENWATCH_REKEY is on (DESIGN §3). */
export function repartitionTopic(groupId: string): string {
  return `tokenwatch.${groupId}.repartition`;
}

export const SRC_TOPIC_HEADER = 'tw-src-topic';
export const SRC_PARTITION_HEADER = 'tw-src-partition';
export const SRC_OFFSET_HEADER = 'tw-src-offset';

/**
 * The re-keying key: everything one detector key depends on lands on one partition owner. The
 * subject first (its sessions, its refresh families and its tokens travel together, which the
 * subject-level travel check and families without a session id need), then the session, the API
 * key, the credential. The tenant prefixes it so equal ids of two tenants do not collide.
 */
export function routingKey(value: Buffer | null): string | null {
  if (!value || value.length > 65_536) return null;
  try {
    const e = JSON.parse(value.toString('utf8')) as { tenant?: unknown; cred?: Record<string, unknown> };
    const c = e.cred ?? {};
    const id = [c.sub, c.sid, c.key_id, c.fp].find((x) => typeof x === 'string' && x !== '');
    return id === undefined ? null : `${typeof e.tenant === 'string' ? e.tenant : ''}|${String(id)}`;
  } catch {
    return null;
  }
}

/**
 * Stage one of a re-keyed deployment: reads the input as producers keyed it and forwards every
 * message, unchanged, to the repartition topic keyed by `routingKey` (Kafka's default murmur2
 * partitioner: a fixed key → partition mapping). Input offsets are committed after the forwarded
 * records are acknowledged; malformed messages are forwarded too and dead-lettered by stage two.
 */
export class Rekeyer {
  private consumer?: BusConsumer;
  private producer?: BusProducer;

  constructor(private readonly deps: Pick<ProcessorDeps, 'config' | 'bus' | 'log' | 'metrics'>) {}

  async start(): Promise<void> {
    const { config, bus, log, metrics } = this.deps;
    const target = repartitionTopic(config.groupId);
    this.producer = await bus.producer();
    this.consumer = bus.consumer(config.groupId, { maxWaitMs: config.fetchMaxWaitMs });
    log.info({ input: config.topics.input, repartition: target }, 're-keying the input');
    await this.consumer.run([config.topics.input], true, async (b) => {
      const records: BusRecord[] = b.messages.map((m) => ({
        topic: target,
        key: routingKey(m.value),
        value: m.value === null ? null : m.value.toString('utf8'),
        headers: { ...m.headers, [SRC_TOPIC_HEADER]: b.topic, [SRC_PARTITION_HEADER]: String(b.partition), [SRC_OFFSET_HEADER]: m.offset },
      }));
      let delay = 200;
      for (;;) {
        try {
          await this.producer!.send(records);
          break;
        } catch (e) {
          metrics.inc('tokenwatch_sink_errors_total', 'failed sink writes (retried)', { sink: 'repartition' });
          log.warn({ err: describeError(e) }, 're-keying send failed; retrying');
          await sleep(delay);
          delay = Math.min(delay * 2, 10_000);
          await b.heartbeat().catch(() => undefined);
        }
      }
      const last = b.messages[b.messages.length - 1];
      if (last) await this.consumer!.commit(b.topic, b.partition, (BigInt(last.offset) + 1n).toString());
      metrics.inc('tokenwatch_rekeyed_total', 'input messages forwarded to the repartition topic', {}, b.messages.length);
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.stop().catch(() => undefined);
    await this.producer?.close().catch(() => undefined);
  }
}

export class Processor {
  private consumer?: BusConsumer;
  private producer?: BusProducer;
  private tx?: BusTxProducer;
  private control?: BreakerControl;
  readonly core: BatchProcessor;
  private ready = false;
  private stopping = false;
  private readonly lock = new Mutex();
  /** partition -> next offset whose batch output is durable but whose offset is not committed yet */
  private pendingOffsets: Record<number, string> = {};
  private lastStateFlush = 0;
  private needCatchUp = false;
  /** the state flush being sent, if any */
  private flushing: Promise<void> = Promise.resolve();
  private flushInFlight = false;
  private timer?: NodeJS.Timeout;
  private readonly changelog: string;
  /** what the detectors consume: the input, or the repartition topic when re-keying */
  private readonly sourceTopic: string;
  private readonly sourceGroup: string;
  private rekeyer?: Rekeyer;

  constructor(private readonly deps: ProcessorDeps) {
    this.core = new BatchProcessor(deps);
    this.changelog = changelogTopic(deps.config.groupId);
    this.sourceTopic = deps.config.rekey ? repartitionTopic(deps.config.groupId) : deps.config.topics.input;
    this.sourceGroup = deps.config.rekey ? `${deps.config.groupId}.detect` : deps.config.groupId;
  }

  isReady(): boolean {
    return this.ready && !this.stopping;
  }

  /**
   * Validates connectivity (Kafka, ClickHouse), runs migrations, creates topics, restores the
   * detectors' state from the changelog, then starts consuming.
   */
  async start(): Promise<void> {
    const { config, bus, store, log, metrics } = this.deps;
    await bus.ping();
    await store.ping();
    await store.migrate(365);
    await bus.ensureTopics([
      { topic: config.topics.input, partitions: config.topics.inputPartitions },
      { topic: config.topics.denylist, partitions: 3, compacted: true },
      { topic: config.topics.dlq, partitions: 1 },
      { topic: this.changelog, partitions: config.topics.inputPartitions, compacted: true },
      ...(config.rekey ? [{ topic: this.sourceTopic, partitions: config.topics.inputPartitions }] : []),
      controlTopicSpec(config.topics.control),
      ...setTopicSpecs(config.set),
    ]);
    // the shared breaker state (a trip elsewhere, or before a restart) is in force before the first batch
    this.control = new BreakerControl({ bus, topic: config.topics.control, breaker: this.core.policy.breaker, log, metrics });
    await this.control.start();
    // A stable transactional id: initialising it fences a killed predecessor of this instance and
    // aborts its open state transaction, so the restore below cannot stop short of state committed
    // after it (an open transaction holds the read_committed end back).
    this.tx = await bus.transactionalProducer(`tokenwatch.${config.groupId}.${config.instanceId}`);
    const engine = this.core.engine(config.topics.input, 0);
    engine.trackChanges = true;
    const t0 = performance.now();
    const restored = await bus.readToEnd(this.changelog, (r) => r.key && engine.applyChange(r.key, r.value));
    const restoreMs = Math.round(performance.now() - t0);
    metrics.set('tokenwatch_state_restore_seconds', 'time the last state restore took', {}, restoreMs / 1000);
    log.info({ changelog: this.changelog, records: restored, ms: restoreMs, keys: engine.keyCounts() }, 'detector state restored');
    this.producer = await bus.producer();
    this.consumer = bus.consumer(this.sourceGroup, { maxWaitMs: config.fetchMaxWaitMs });
    this.consumer.onAssignment((assigned) => {
      const mine = new Set(assigned.filter((a) => a.topic === this.sourceTopic).map((a) => a.partition));
      for (const p of Object.keys(this.pendingOffsets)) if (!mine.has(Number(p))) delete this.pendingOffsets[Number(p)];
      // another instance may have updated state for the partitions we now own (also between our
      // restore and this first assignment): catch up before the next batch
      this.needCatchUp = true;
      this.ready = true;
      log.info({ partitions: [...mine] }, 'partitions assigned');
    });
    this.consumer.onCrash((err, restart) => log.error({ err: describeError(err), restart }, 'consumer crashed'));
    this.timer = setInterval(() => {
      if (Object.keys(this.pendingOffsets).length && performance.now() - this.lastStateFlush >= config.stateFlushMs) {
        void this.lock.run(async () => void this.flushState().catch((e) => log.warn({ err: describeError(e) }, 'state flush failed'))).catch(() => undefined);
      }
    }, Math.max(50, Math.floor(config.stateFlushMs / 2)));
    this.timer.unref();
    log.info({ input: config.topics.input, detectors: this.core.activeDetectors, group: config.groupId, shadow: config.shadow }, 'tokenwatch consuming');
    if (config.rekey) {
      this.rekeyer = new Rekeyer(this.deps);
      void this.rekeyer.start().catch((e) => log.error({ err: describeError(e) }, 're-keying stage failed'));
    }
    await this.consumer.run([this.sourceTopic], true, (b) => this.lock.run(() => this.handleBatch(b)));
  }

  private async handleBatch(b: BusBatch): Promise<void> {
    if (b.messages.length === 0) return;
    const { metrics, config } = this.deps;
    if (this.needCatchUp) await this.catchUp();
    const out = this.core.process(b.topic, b.partition, b.messages);
    await this.flush(out, b);
    const last = b.messages[b.messages.length - 1]!;
    const next = (BigInt(last.offset) + 1n).toString();
    this.pendingOffsets[b.partition] = next;
    metrics.inc('tokenwatch_messages_total', 'input messages consumed', { topic: b.topic }, b.messages.length);
    const lag = Number(BigInt(b.highWatermark) - BigInt(next));
    metrics.set('tokenwatch_consumer_lag', 'messages behind the end of the input partition', { partition: String(b.partition) }, Math.max(0, lag));
    for (const e of this.core.allEngines()) {
      for (const [d, n] of Object.entries(e.keyCounts())) metrics.set('tokenwatch_state_keys', 'tracked keys per detector', { detector: d }, n);
      metrics.set('tokenwatch_state_evictions', 'keys evicted since start, by reason', { reason: 'cap' }, e.stats.evictedByCap);
      metrics.set('tokenwatch_state_evictions', 'keys evicted since start, by reason', { reason: 'ttl' }, e.stats.evictedByTime);
    }
    const mem = process.memoryUsage();
    metrics.set('tokenwatch_process_heap_bytes', 'V8 heap in use', {}, mem.heapUsed);
    metrics.set('tokenwatch_process_rss_bytes', 'resident set size', {}, mem.rss);
    if (performance.now() - this.lastStateFlush >= config.stateFlushMs) void this.flushState().catch(() => undefined);
  }

  private async catchUp(): Promise<void> {
    // our own last flush must be in the changelog before reading it back over the in-memory state
    await this.flushing.catch(() => undefined);
    const engine = this.core.engine(this.deps.config.topics.input, 0);
    const t0 = performance.now();
    const n = await this.deps.bus.readToEnd(this.changelog, (r) => r.key && engine.applyChange(r.key, r.value, true));
    this.needCatchUp = false;
    this.deps.log.info({ records: n, ms: Math.round(performance.now() - t0) }, 'state caught up after rebalance');
  }

  /**
   * Takes the state changes since the last flush and the input offsets of the batches they cover
   * — synchronously, between two batches, so they match — and writes them in one Kafka transaction
   * in the background: the next batches run while it is sent. State and offsets move together, so
   * a crash replays exactly the events whose effects were not kept. One flush at a time; a failed
   * one is retried until it lands (later flushes wait behind it).
   */
  private flushState(): Promise<void> {
    const { config } = this.deps;
    const offsets = { ...this.pendingOffsets };
    if (Object.keys(offsets).length === 0 || this.flushInFlight) return this.flushing;
    const engine = this.core.engine(config.topics.input, 0);
    const records: BusRecord[] = engine.takeChanges().map((c) => ({ topic: this.changelog, key: c.key, value: c.value }));
    for (const p of Object.keys(offsets)) delete this.pendingOffsets[Number(p)];
    this.lastStateFlush = performance.now();
    this.flushInFlight = true;
    this.flushing = this.sendState(records, offsets).finally(() => {
      this.flushInFlight = false;
    });
    return this.flushing;
  }

  private async sendState(records: BusRecord[], offsets: Record<number, string>): Promise<void> {
    const { metrics, log } = this.deps;
    let delay = 200;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.tx!.commit(records, { groupId: this.sourceGroup, topic: this.sourceTopic, partitions: offsets });
        break;
      } catch (e) {
        metrics.inc('tokenwatch_sink_errors_total', 'failed sink writes (retried)', { sink: 'changelog' });
        log.warn({ attempt, records: records.length, err: describeError(e) }, 'state changelog / offset commit failed; retrying');
        if (this.stopping && attempt > 3) throw e;
        await sleep(delay);
        delay = Math.min(delay * 2, 10_000);
      }
    }
    metrics.inc('tokenwatch_changelog_records_total', 'state changelog records written', {}, records.length);
  }

  /** Makes a batch's output durable, retrying each sink with backoff until it succeeds. */
  private async flush(out: BatchOutput, b: BusBatch): Promise<void> {
    const { store } = this.deps;
    await Promise.all([
      this.retrying('clickhouse', b, () => store.insertAlerts(out.alerts)),
      this.retrying('kafka', b, () => this.producer!.send(out.records)),
    ]);
  }

  private async retrying(sink: string, b: BusBatch, write: () => Promise<void>): Promise<void> {
    const { log, metrics } = this.deps;
    let delay = 200;
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        if (attempt > 1) log.info({ sink, attempts: attempt }, 'sink recovered');
        return;
      } catch (e) {
        metrics.inc('tokenwatch_sink_errors_total', 'failed sink writes (retried)', { sink });
        if (!isRetriable(e) && sink !== 'kafka') throw e;
        log.warn({ sink, attempt, err: describeError(e), retryInMs: delay }, 'sink write failed; partition paused, retrying');
        if (this.stopping && attempt > 3) throw e;
        await sleep(delay);
        delay = Math.min(delay * 2, 10_000);
        try {
          await b.heartbeat();
        } catch (hb) {
          log.warn({ err: describeError(hb) }, 'heartbeat failed while retrying a sink');
        }
      }
    }
  }

  /** Graceful stop: lets the running batch finish, flushes state and commits, then disconnects. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.lock
      .run(async () => {
        await this.flushing.catch(() => undefined);
        await this.flushState();
      })
      .catch((e) => this.deps.log.error({ err: describeError(e) }, 'final state flush failed'));
    await this.control?.stop();
    await this.rekeyer?.stop();
    await this.consumer?.stop().catch(() => undefined);
    await this.producer?.close().catch(() => undefined);
    await this.tx?.close().catch(() => undefined);
  }
}
