/**
 * `tokenwatch run`: the consumer loop and the checkpoint around the hot path (batch.ts).
 *
 * One batch = one partition's fetch. Everything the batch produced is made durable (alert rows
 * inserted, denylist and DLQ records acknowledged by all in-sync replicas) before the batch's
 * input offset can be committed; a failing sink is retried (retry.ts) while the partition waits, so
 * the committed offset never passes unwritten work. Detector state changes and the input offsets
 * they cover are committed together in one Kafka transaction (the checkpoint). Every sink is
 * idempotent (deterministic ids, ReplacingMergeTree, compacted denylist), so the replay after a
 * crash changes nothing visible.
 */
import type { BusBatch, BusConsumer, BusProducer, BusRecord, BusTxProducer } from '../io/bus.js';
import { describeError } from '../../schemas/errors.js';
import { setTopicSpecs } from '../respond/set.js';
import { BreakerControl, controlTopicSpec } from '../respond/breaker-control.js';
import { BatchProcessor, type BatchOutput, type ProcessorDeps } from './batch.js';
import { ConsumerHealth } from './health.js';
import { Rekeyer } from './rekey.js';
import { retrySink } from './retry.js';
import { changelogTopic, denylistTopicSpec, repartitionTopic } from './topics.js';
import { METRICS } from '../telemetry/catalogue.js';

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

export class Processor {
  private consumer?: BusConsumer;
  private producer?: BusProducer;
  private tx?: BusTxProducer;
  private control?: BreakerControl;
  readonly core: BatchProcessor;
  private ready = false;
  private stopping = false;
  private readonly lock = new Mutex();
  /** topic -> partition -> next offset whose batch output is durable but whose offset is not committed yet */
  private pendingOffsets: Record<string, Record<number, string>> = {};
  private lastStateFlush = 0;
  private needCatchUp = false;
  /** the state flush being sent, if any */
  private flushing: Promise<void> = Promise.resolve();
  private flushInFlight = false;
  private timer?: NodeJS.Timeout;
  private readonly changelog: string;
  /** what the detectors consume: the input topics, or the repartition topic when re-keying */
  private readonly sourceTopics: string[];
  private readonly sourceGroup: string;
  private rekeyer?: Rekeyer;
  /** crashes of our consumers: readiness, and the failure that ends `tokenwatch run` */
  readonly health: ConsumerHealth;

  constructor(private readonly deps: ProcessorDeps) {
    this.core = new BatchProcessor(deps);
    this.health = new ConsumerHealth(deps.log, deps.metrics);
    this.changelog = changelogTopic(deps.config.groupId);
    this.sourceTopics = deps.config.rekey ? [repartitionTopic(deps.config.groupId)] : deps.config.topics.inputs.map((i) => i.topic);
    this.sourceGroup = deps.config.rekey ? `${deps.config.groupId}.detect` : deps.config.groupId;
  }

  isReady(): boolean {
    return this.ready && !this.stopping && this.health.healthy;
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
      ...config.topics.inputs.map((i) => ({ topic: i.topic, partitions: config.topics.inputPartitions })),
      denylistTopicSpec(config.topics.denylist),
      { topic: config.topics.dlq, partitions: 1 },
      { topic: this.changelog, partitions: config.topics.inputPartitions, compacted: true },
      ...(config.rekey ? [{ topic: this.sourceTopics[0]!, partitions: config.topics.inputPartitions }] : []),
      controlTopicSpec(config.topics.control),
      ...setTopicSpecs(config.set),
    ]);
    // the shared breaker state (a trip elsewhere, or before a restart) is in force before the first batch
    this.control = new BreakerControl({ bus, topic: config.topics.control, breaker: this.core.policy.breaker, log, metrics });
    await this.control.start();
    // A stable transactional id: initialising it fences a killed predecessor of this instance and
    // aborts its open state transaction, so the restore below cannot stop short of state committed
    // after it (an open transaction holds the read_committed end back).
    this.tx = await bus.transactionalProducer(`tokenwatch.${config.groupId}.${config.instanceId}`, { compression: config.compression.internal });
    const engine = this.core.engine(config.topics.input, 0);
    engine.trackChanges = true;
    const t0 = performance.now();
    const restored = await bus.readToEnd(this.changelog, (r) => r.key && engine.applyChange(r.key, r.value));
    const restoreMs = Math.round(performance.now() - t0);
    metrics.set(METRICS.state_restore_seconds, {}, restoreMs / 1000);
    log.info({ changelog: this.changelog, records: restored, ms: restoreMs, keys: engine.keyCounts() }, 'detector state restored');
    this.producer = await bus.producer({ compression: config.compression.output });
    this.consumer = bus.consumer(this.sourceGroup, { maxWaitMs: config.fetchMaxWaitMs, sessionTimeoutMs: config.group.sessionTimeoutMs, heartbeatMs: config.group.heartbeatMs });
    this.consumer.onAssignment((assigned) => {
      const mine = new Set(assigned.filter((a) => this.sourceTopics.includes(a.topic)).map((a) => `${a.topic}/${a.partition}`));
      for (const [topic, parts] of Object.entries(this.pendingOffsets)) {
        for (const p of Object.keys(parts)) if (!mine.has(`${topic}/${p}`)) delete parts[Number(p)];
      }
      // another instance may have updated state for the partitions we now own (also between our
      // restore and this first assignment): catch up before the next batch
      this.needCatchUp = true;
      this.ready = true;
      log.info({ partitions: [...mine].sort() }, 'partitions assigned');
    });
    this.health.watch(this.consumer, 'detect');
    this.timer = setInterval(() => {
      if (this.hasPendingOffsets() && performance.now() - this.lastStateFlush >= config.stateFlushMs) {
        void this.lock.run(async () => void this.flushState().catch((e) => log.warn({ err: describeError(e) }, 'state flush failed'))).catch(() => undefined);
      }
    }, Math.max(50, Math.floor(config.stateFlushMs / 2)));
    this.timer.unref();
    log.info({ input: config.topics.inputs, detectors: this.core.activeDetectors, group: config.groupId, shadow: config.shadow }, 'tokenwatch consuming');
    if (config.rekey) {
      this.rekeyer = new Rekeyer(this.deps, this.health);
      void this.rekeyer.start().catch((e) => this.health.fatal('rekey', e));
    }
    await this.consumer.run(this.sourceTopics, true, (b) => this.lock.run(() => this.handleBatch(b)));
  }

  private async handleBatch(b: BusBatch): Promise<void> {
    if (b.messages.length === 0) return;
    const { metrics, config } = this.deps;
    if (this.needCatchUp) await this.catchUp();
    const out = this.core.process(b.topic, b.partition, b.messages);
    await this.flush(out, b);
    const last = b.messages[b.messages.length - 1]!;
    const next = (BigInt(last.offset) + 1n).toString();
    (this.pendingOffsets[b.topic] ??= {})[b.partition] = next;
    metrics.inc(METRICS.messages_total, { topic: b.topic }, b.messages.length);
    const lag = Number(BigInt(b.highWatermark) - BigInt(next));
    metrics.set(METRICS.consumer_lag, { topic: b.topic, partition: String(b.partition) }, Math.max(0, lag));
    for (const e of this.core.allEngines()) {
      for (const [d, n] of Object.entries(e.keyCounts())) metrics.set(METRICS.state_keys, { detector: d }, n);
      metrics.set(METRICS.state_evictions, { reason: 'cap' }, e.stats.evictedByCap);
      metrics.set(METRICS.state_evictions, { reason: 'ttl' }, e.stats.evictedByTime);
    }
    const mem = process.memoryUsage();
    metrics.set(METRICS.process_heap_bytes, {}, mem.heapUsed);
    metrics.set(METRICS.process_rss_bytes, {}, mem.rss);
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
    if (!this.hasPendingOffsets() || this.flushInFlight) return this.flushing;
    const offsets = this.pendingOffsets;
    const engine = this.core.engine(config.topics.input, 0);
    const records: BusRecord[] = engine.takeChanges().map((c) => ({ topic: this.changelog, key: c.key, value: c.value }));
    this.pendingOffsets = {};
    this.lastStateFlush = performance.now();
    this.flushInFlight = true;
    this.flushing = this.sendState(records, offsets).finally(() => {
      this.flushInFlight = false;
    });
    return this.flushing;
  }

  private hasPendingOffsets(): boolean {
    return Object.values(this.pendingOffsets).some((parts) => Object.keys(parts).length > 0);
  }

  private async sendState(records: BusRecord[], offsets: Record<string, Record<number, string>>): Promise<void> {
    const { metrics, log } = this.deps;
    await retrySink('changelog', () => this.tx!.commit(records, { groupId: this.sourceGroup, topics: offsets }), {
      log,
      metrics,
      stopping: () => this.stopping,
      context: { records: records.length },
      message: 'state changelog / offset commit failed; retrying',
    });
    metrics.inc(METRICS.changelog_records_total, {}, records.length);
  }

  /** Makes a batch's output durable, retrying each sink with backoff until it succeeds. */
  private async flush(out: BatchOutput, b: BusBatch): Promise<void> {
    const { store } = this.deps;
    await Promise.all([
      this.retrying('clickhouse', b, () => store.insertAlerts(out.alerts)),
      this.retrying('kafka', b, () => this.producer!.send(out.records)),
    ]);
  }

  private retrying(sink: string, b: BusBatch, write: () => Promise<void>): Promise<void> {
    const { log, metrics } = this.deps;
    return retrySink(sink, write, { log, metrics, stopping: () => this.stopping, heartbeat: () => b.heartbeat() });
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
