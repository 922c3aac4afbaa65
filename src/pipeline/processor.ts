/**
 * `tokenwatch run`: the consumer loop, the tasks and the checkpoint around the hot path (batch.ts).
 *
 * Tasks (DESIGN §3, Kafka Streams' model): one per source partition, with its own state and
 * stream time. When the group assigns partitions, their tasks are restored from the matching
 * changelog partitions while those partitions are paused (the others keep running), then resumed
 * at the input offset the restored state covers; a revoked partition's task is dropped. Memory and
 * restore time per instance follow its share of the partitions.
 *
 * One batch = one partition's fetch. Everything the batch produced is made durable (alert rows
 * inserted, denylist and DLQ records acknowledged by all in-sync replicas) before the batch's
 * input offset can be committed; a failing sink is retried (retry.ts) while the partition waits, so
 * the committed offset never passes unwritten work. Detector state changes and the input offsets
 * they cover are committed together in one Kafka transaction (the checkpoint). Every sink is
 * idempotent (deterministic ids, ReplacingMergeTree, compacted denylist), so the replay after a
 * crash changes nothing visible.
 */
import type { AssignmentInfo, BusBatch, BusConsumer, BusProducer, BusRecord, BusTxProducer, TopicPartitions } from '../io/bus.js';
import { TokenwatchError, describeError, isRetriable } from '../../schemas/errors.js';
import { setTopicSpecs } from '../respond/set.js';
import { BreakerControl, controlTopicSpec } from '../respond/breaker-control.js';
import { BatchProcessor, taskId, type BatchOutput, type ProcessorDeps } from './batch.js';
import { taskRecord } from '../state/changelog.js';
import type { Engine } from '../detect/engine.js';
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

/** What the processor knows of one task it owns. */
interface TaskRun {
  topic: string;
  partition: number;
  /** restoring: paused while its changelog partition is read; ready: processing */
  status: 'restoring' | 'ready';
  /** the assignment that created it (a restore finishing for an older assignment is dropped) */
  epoch: number;
  /** next input offset the task's state covers (events before it are in the state already) */
  nextOffset?: bigint;
  /**
   * The task's own transactional producer (`<changelog>.<partition>`): initialising it fences the
   * task's previous owner — its open transaction is aborted and its later commits refused — so no
   * state of an older owner can land after this one's (Kafka Streams' per-task EOS).
   */
  tx?: BusTxProducer;
}

export class Processor {
  private consumer?: BusConsumer;
  private producer?: BusProducer;
  private control?: BreakerControl;
  readonly core: BatchProcessor;
  private ready = false;
  private stopping = false;
  private readonly lock = new Mutex();
  /** topic -> partition -> next offset whose batch output is durable but whose offset is not committed yet */
  private pendingOffsets: Record<string, Record<number, string>> = {};
  private lastStateFlush = 0;
  /** the state flush being sent, if any */
  private flushing: Promise<void> = Promise.resolve();
  private flushInFlight = false;
  private timer?: NodeJS.Timeout;
  /** what the detectors consume: the input topics, or the repartition topic when re-keying */
  private readonly sourceTopics: string[];
  private readonly sourceGroup: string;
  private rekeyer?: Rekeyer;
  /** the tasks this instance owns, by task id */
  private readonly runs = new Map<string, TaskRun>();
  private memberId?: string;
  private epoch = 0;
  /** restores under way (awaited by stop) */
  private readonly restoring = new Set<Promise<void>>();
  /** crashes of our consumers: readiness, and the failure that ends `tokenwatch run` */
  readonly health: ConsumerHealth;

  constructor(private readonly deps: ProcessorDeps) {
    this.core = new BatchProcessor(deps);
    this.health = new ConsumerHealth(deps.log, deps.metrics);
    const { rekey, groupId, topics } = deps.config;
    const inputs = topics.inputs.map((i) => i.topic);
    const repartition = repartitionTopic(groupId);
    // all: a re-keying stage feeds the repartition topic, the only source; auto: the inputs and the
    // repartition topic the detect stage forwards not-contract-keyed messages to; off: the inputs
    this.sourceTopics = rekey === 'all' ? [repartition] : rekey === 'auto' ? [...inputs, repartition] : inputs;
    this.sourceGroup = rekey === 'all' ? `${groupId}.detect` : groupId;
    if (rekey === 'auto') this.core.forwardUnkeyed(repartition);
  }

  isReady(): boolean {
    return this.ready && !this.stopping && this.health.healthy;
  }

  /** The tasks this instance owns and their status (for tests and logs). */
  taskStatus(): Array<{ task: string; status: TaskRun['status']; keys: Record<string, number> }> {
    return [...this.runs.entries()].map(([task, r]) => ({
      task,
      status: r.status,
      keys: this.core.hasTask(r.topic, r.partition) ? this.core.engine(r.topic, r.partition).keyCounts() : {},
    }));
  }

  /**
   * Validates connectivity (Kafka, ClickHouse), runs migrations, creates topics (a changelog per
   * source topic, partitioned like it), then starts consuming; tasks are restored as their
   * partitions are assigned.
   */
  async start(): Promise<void> {
    const { config, bus, store, log } = this.deps;
    await bus.ping();
    await store.ping();
    await store.migrate(365);
    await bus.ensureTopics([
      ...config.topics.inputs.map((i) => ({ topic: i.topic, partitions: config.topics.inputPartitions })),
      denylistTopicSpec(config.topics.denylist),
      { topic: config.topics.dlq, partitions: 1 },
      ...(config.rekey !== 'off' ? [{ topic: repartitionTopic(config.groupId), partitions: config.topics.inputPartitions }] : []),
      controlTopicSpec(config.topics.control),
      ...setTopicSpecs(config.set),
    ]);
    for (const src of this.sourceTopics) await this.ensureChangelog(src);
    // the shared breaker state (a trip elsewhere, or before a restart) is in force before the first batch
    this.control = new BreakerControl({ bus, topic: config.topics.control, breaker: this.core.policy.breaker, log, metrics: this.deps.metrics });
    await this.control.start();
    this.core.trackChanges();
    this.producer = await bus.producer({ compression: config.compression.output });
    this.consumer = bus.consumer(this.sourceGroup, {
      maxWaitMs: config.fetchMaxWaitMs,
      maxBytesPerPartition: config.fetchMaxBytes,
      sessionTimeoutMs: config.group.sessionTimeoutMs,
      heartbeatMs: config.group.heartbeatMs,
    });
    this.consumer.onAssignment((assigned, info) => this.assign(assigned, info));
    // kafkajs has no revocation callback (eager rebalancing, KIP-429 not implemented): the closest
    // is the moment it learns of a rebalance, before it rejoins — flush state and offsets then, so
    // the next owner of a partition starts where this instance stopped instead of re-reading
    this.consumer.onRebalancing(() => {
      void this.lock.run(() => this.flushState()).catch((e) => log.warn({ err: describeError(e) }, 'state flush before the rebalance failed'));
    });
    this.health.watch(this.consumer, 'detect');
    this.timer = setInterval(() => {
      if (this.hasPendingOffsets() && performance.now() - this.lastStateFlush >= config.stateFlushMs) {
        void this.lock.run(async () => void this.flushState().catch((e) => log.warn({ err: describeError(e) }, 'state flush failed'))).catch(() => undefined);
      }
    }, Math.max(50, Math.floor(config.stateFlushMs / 2)));
    this.timer.unref();
    log.info({ input: config.topics.inputs, detectors: this.core.activeDetectors, group: config.groupId, shadow: config.shadow }, 'tokenwatch consuming');
    if (config.rekey === 'all') {
      this.rekeyer = new Rekeyer(this.deps, this.health);
      void this.rekeyer.start().catch((e) => this.health.fatal('rekey', e));
    }
    await this.consumer.run(this.sourceTopics, true, (b) => this.lock.run(() => this.handleBatch(b)));
  }

  /** The changelog of a source topic exists with at least as many partitions as the source (one per task). */
  private async ensureChangelog(source: string): Promise<void> {
    const { bus, config, log } = this.deps;
    const topic = changelogTopic(config.groupId, source);
    const want = await bus.partitionCount(source);
    this.core.setPartitions(source, want);
    const have = await bus.partitionCount(topic);
    if (have === 0) await bus.ensureTopics([{ topic, partitions: want, compacted: true }]);
    else if (have < want) {
      // new source partitions are new tasks with no state yet: growing the changelog moves nothing
      log.warn({ changelog: topic, from: have, to: want, source }, 'source topic has more partitions than its changelog; adding changelog partitions');
      await bus.addPartitions(topic, want);
    }
  }

  /**
   * A (re)join: tasks of revoked partitions are dropped (their unflushed changes with their
   * uncommitted offsets — the new owner re-reads those events), tasks of new partitions are paused
   * and restored. After a new member id (this instance was out of the group in between, so another
   * may have run its tasks), every task is restored afresh.
   */
  private assign(assigned: TopicPartitions[], info: AssignmentInfo): void {
    const { log } = this.deps;
    const mine = assigned.filter((a) => this.sourceTopics.includes(a.topic));
    const ids = new Set(mine.map((a) => taskId(a.topic, a.partition)));
    const rejoined = this.memberId !== undefined && this.memberId !== info.memberId;
    this.memberId = info.memberId;
    const epoch = ++this.epoch;
    const dropped: string[] = [];
    for (const [id, run] of this.runs) {
      // kept: still ours, same membership, and still able to commit (a task whose producer was
      // fenced is restored afresh: whoever fenced it may have written state since)
      if (ids.has(id) && !rejoined && (run.tx || run.status !== 'ready')) continue;
      this.runs.delete(id);
      this.core.dropTask(run.topic, run.partition);
      delete this.pendingOffsets[run.topic]?.[run.partition];
      this.closeTx(run);
      dropped.push(id);
    }
    const fresh = mine.filter((a) => !this.runs.has(taskId(a.topic, a.partition)));
    for (const a of fresh) {
      this.core.dropTask(a.topic, a.partition);
      this.runs.set(taskId(a.topic, a.partition), { topic: a.topic, partition: a.partition, status: 'restoring', epoch });
    }
    this.consumer?.pause(fresh);
    this.ready = true;
    this.updateTaskMetrics();
    this.updateStateMetrics();
    log.info({ partitions: [...ids].sort(), restoring: fresh.map((a) => taskId(a.topic, a.partition)), dropped, rejoined }, 'partitions assigned');
    if (fresh.length) {
      const p = this.restore(fresh, epoch)
        .catch((e: unknown) => {
          // only when stopping (retries are unbounded otherwise): the tasks were never resumed
          if (!this.stopping) this.health.fatal('restore', e);
        })
        .finally(() => this.restoring.delete(p));
      this.restoring.add(p);
    }
  }

  /**
   * Restores tasks from their changelog partitions (one read per source topic, only those
   * partitions), then seeks each partition to the offset its state covers and resumes it. A
   * failed read is retried with backoff; a task reassigned meanwhile is left to the newer restore.
   */
  private async restore(tasks: TopicPartitions[], epoch: number): Promise<void> {
    const { bus, config, log, metrics } = this.deps;
    const bySource = new Map<string, number[]>();
    for (const t of tasks) (bySource.get(t.topic) ?? bySource.set(t.topic, []).get(t.topic)!).push(t.partition);
    await Promise.all(
      [...bySource].map(async ([source, partitions]) => {
        const current = () => partitions.filter((p) => this.runs.get(taskId(source, p))?.epoch === epoch);
        await retrySink(
          'changelog-restore',
          async () => {
            const want = current();
            if (want.length === 0) return;
            // fence the previous owners first: their open transactions are aborted, so the read
            // below reaches the end at once, and nothing of theirs can land after it
            await Promise.all(
              want.map(async (p) => {
                const run = this.runs.get(taskId(source, p));
                if (!run || run.tx) return;
                const tx = await this.taskProducer(source, p).catch((e: unknown) => {
                  throw isRetriable(e) ? e : new TokenwatchError('SINK_WRITE_FAILED', `initialising the producer of task ${taskId(source, p)}: ${describeError(e)}`, { cause: e });
                });
                if (this.runs.get(taskId(source, p)) === run) run.tx = tx;
                else await tx.close().catch(() => undefined); // dropped meanwhile
              }),
            );
            const engines = new Map<number, Engine>();
            for (const p of want) {
              this.core.dropTask(source, p);
              engines.set(p, this.core.engine(source, p));
            }
            const t0 = performance.now();
            const counts = new Map<number, number>();
            const n = await bus
              .readToEnd(
                changelogTopic(config.groupId, source),
                (r) => {
                  const e = engines.get(r.partition);
                  if (!e || !r.key) return;
                  e.applyChange(r.key, r.value);
                  counts.set(r.partition, (counts.get(r.partition) ?? 0) + 1);
                },
                want,
              )
              .catch((e: unknown) => {
                // whatever Kafka said, the restore is worth another try (the partitions wait meanwhile)
                throw isRetriable(e) ? e : new TokenwatchError('SINK_WRITE_FAILED', `reading the changelog of ${source}: ${describeError(e)}`, { cause: e });
              });
            const ms = Math.round(performance.now() - t0);
            metrics.set(METRICS.state_restore_seconds, {}, ms / 1000);
            const ends = await bus.endOffsets(source);
            const resumed: TopicPartitions[] = [];
            for (const [p, e] of engines) {
              const run = this.runs.get(taskId(source, p));
              if (run?.epoch !== epoch) continue; // revoked or reassigned while restoring
              e.finishRestore();
              const cp = e.restoredCheckpoint;
              if (cp && BigInt(cp.nextOffset) > BigInt(ends[p] ?? '0')) {
                // the source partition is shorter than the state says: the topic was recreated
                log.warn({ source, partition: p, checkpoint: cp.nextOffset, end: ends[p] }, 'task checkpoint is past the end of its partition (topic recreated?); keeping the state, reading from the committed offset');
              } else if (cp) {
                run.nextOffset = BigInt(cp.nextOffset);
                this.consumer?.seek(source, p, cp.nextOffset);
              }
              run.status = 'ready';
              resumed.push({ topic: source, partition: p });
            }
            log.info(
              { source, partitions: resumed.map((r) => r.partition), records: n, ms, perPartition: Object.fromEntries(counts), keys: sumKeys(resumed.map((r) => this.core.engine(r.topic, r.partition))) },
              'task state restored',
            );
            this.consumer?.resume(resumed);
            this.updateTaskMetrics();
            this.updateStateMetrics();
          },
          { log, metrics, stopping: () => this.stopping, context: { source, partitions }, message: 'restoring task state from the changelog failed; retrying' },
        );
      }),
    );
  }

  private async handleBatch(b: BusBatch): Promise<void> {
    if (b.messages.length === 0) return;
    const { metrics, config, log } = this.deps;
    const run = this.runs.get(taskId(b.topic, b.partition));
    if (!run || run.status !== 'ready') {
      // fetched before the pause took effect, or not (yet) known as ours: hand it back
      if (!run) log.debug({ topic: b.topic, partition: b.partition }, 'batch for a partition without a task; deferred');
      b.defer();
      return;
    }
    // a restored task's state already covers the events before its checkpoint
    const from = run.nextOffset;
    const messages = from === undefined || BigInt(b.messages[0]!.offset) >= from ? b.messages : b.messages.filter((m) => BigInt(m.offset) >= from);
    const last = b.messages[b.messages.length - 1]!;
    const next = BigInt(last.offset) + 1n;
    if (messages.length) {
      const out = this.core.process(b.topic, b.partition, messages);
      await this.flush(out, b);
    }
    if (this.runs.get(taskId(b.topic, b.partition)) !== run) {
      // revoked while its output was written: the output is durable (and idempotent), but the
      // offset and the state are the next owner's now — it reads these events again
      log.info({ topic: b.topic, partition: b.partition }, 'partition revoked during its batch; its offset is left to the next owner');
      return;
    }
    run.nextOffset = next;
    (this.pendingOffsets[b.topic] ??= {})[b.partition] = next.toString();
    metrics.inc(METRICS.messages_total, { topic: b.topic }, messages.length);
    const lag = Number(BigInt(b.highWatermark) - next);
    metrics.set(METRICS.consumer_lag, { topic: b.topic, partition: String(b.partition) }, Math.max(0, lag));
    this.updateStateMetrics();
    if (performance.now() - this.lastStateFlush >= config.stateFlushMs) void this.flushState().catch(() => undefined);
  }

  private updateStateMetrics(): void {
    const { metrics } = this.deps;
    const engines = this.core.allEngines();
    for (const [d, n] of Object.entries(sumKeys(engines))) metrics.set(METRICS.state_keys, { detector: d }, n);
    metrics.set(METRICS.state_evictions, { reason: 'cap' }, engines.reduce((n, e) => n + e.stats.evictedByCap, 0));
    metrics.set(METRICS.state_evictions, { reason: 'ttl' }, engines.reduce((n, e) => n + e.stats.evictedByTime, 0));
    const mem = process.memoryUsage();
    metrics.set(METRICS.process_heap_bytes, {}, mem.heapUsed);
    metrics.set(METRICS.process_rss_bytes, {}, mem.rss);
  }

  private updateTaskMetrics(): void {
    let ready = 0;
    let restoring = 0;
    for (const r of this.runs.values()) r.status === 'ready' ? ready++ : restoring++;
    this.deps.metrics.set(METRICS.tasks, { status: 'ready' }, ready);
    this.deps.metrics.set(METRICS.tasks, { status: 'restoring' }, restoring);
  }

  /**
   * Takes the state changes since the last flush and the input offsets of the batches they cover
   * — synchronously, between two batches, so they match — and writes them in one Kafka transaction
   * in the background: the next batches run while it is sent. Each task's changes go to its own
   * changelog partition with its checkpoint (offset, stream time). State and offsets move
   * together, so a crash replays exactly the events whose effects were not kept. One flush at a
   * time; a failed one is retried until it lands (later flushes wait behind it).
   */
  private flushState(): Promise<void> {
    const { config } = this.deps;
    if (!this.hasPendingOffsets() || this.flushInFlight) return this.flushing;
    const commits: Array<{ run: TaskRun; records: BusRecord[]; offset: string }> = [];
    for (const run of this.runs.values()) {
      // only tasks still owned and running: a revoked task's offsets belong to its next owner
      const next = this.pendingOffsets[run.topic]?.[run.partition];
      if (next === undefined || run.status !== 'ready' || !run.tx || !this.core.hasTask(run.topic, run.partition)) continue;
      const engine = this.core.engine(run.topic, run.partition);
      const topic = changelogTopic(config.groupId, run.topic);
      const changes = engine.takeChanges();
      changes.push(taskRecord({ nextOffset: next, streamTimeMs: engine.watermarkMs, lastSweepMs: engine.lastSweepMs }));
      commits.push({ run, offset: next, records: changes.map((c) => ({ topic, partition: run.partition, key: c.key, value: c.value })) });
    }
    this.pendingOffsets = {};
    this.lastStateFlush = performance.now();
    this.flushInFlight = true;
    this.flushing = Promise.all(commits.map((c) => this.sendState(c.run, c.records, c.offset)))
      .then(() => undefined)
      .finally(() => {
        this.flushInFlight = false;
      });
    return this.flushing;
  }

  private hasPendingOffsets(): boolean {
    return Object.values(this.pendingOffsets).some((parts) => Object.keys(parts).length > 0);
  }

  /** One task's state changes and input offset, in one transaction of the task's producer. */
  private async sendState(run: TaskRun, records: BusRecord[], offset: string): Promise<void> {
    const { metrics, log } = this.deps;
    try {
      await retrySink('changelog', () => run.tx!.commit(records, { groupId: this.sourceGroup, topics: { [run.topic]: { [run.partition]: offset } } }), {
        log,
        metrics,
        stopping: () => this.stopping,
        context: { task: taskId(run.topic, run.partition), records: records.length },
        message: 'state changelog / offset commit failed; retrying',
      });
      metrics.inc(METRICS.changelog_records_total, {}, records.length);
    } catch (e) {
      if ((e as TokenwatchError).code !== 'PRODUCER_FENCED') throw e;
      // another instance initialised the task's producer: it owns the task now and restored it,
      // so these changes are its to redo; this one commits nothing more for the task until the
      // rebalance takes it away
      log.warn({ task: taskId(run.topic, run.partition) }, 'task taken over by another instance; its state flush is dropped');
      this.closeTx(run);
    }
  }

  /** The task's transactional producer, initialised (which fences the task's previous owner). */
  private taskProducer(topic: string, partition: number): Promise<BusTxProducer> {
    const { bus, config } = this.deps;
    return bus.transactionalProducer(`${changelogTopic(config.groupId, topic)}.${partition}`, { compression: config.compression.internal });
  }

  /** Closes a dropped task's producer once the flush that may be using it is done. */
  private closeTx(run: TaskRun): void {
    const tx = run.tx;
    run.tx = undefined;
    if (tx) void this.flushing.catch(() => undefined).then(() => tx.close().catch(() => undefined));
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
    await Promise.allSettled([...this.restoring]);
    await this.control?.stop();
    await this.rekeyer?.stop();
    await this.consumer?.stop().catch(() => undefined);
    await this.producer?.close().catch(() => undefined);
    await Promise.allSettled([...this.runs.values()].map((r) => r.tx?.close()));
  }
}

/** Tracked keys per detector, summed over engines. */
function sumKeys(engines: Engine[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of engines) for (const [d, n] of Object.entries(e.keyCounts())) out[d] = (out[d] ?? 0) + n;
  return out;
}
