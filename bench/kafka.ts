/**
 * The bench's own Kafka clients (kafkajs directly, not the code under test): topic admin, a load
 * producer built for rate (acks=1, not idempotent, big batches, several requests in flight), and a
 * topic follower.
 */
import { Kafka, Partitioners, logLevel, type Admin, type PartitionMetadata, type Producer, type RecordMetadata } from 'kafkajs';
import { sleep } from './lib.js';

export function benchKafka(brokers: string[], clientId = 'tokenwatch-bench'): Kafka {
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 } });
}

export interface TopicPlan {
  topic: string;
  partitions: number;
  compacted?: boolean;
  /** broker-stamped record timestamps: the record timestamp is its append time */
  logAppendTime?: boolean;
}

export async function createTopics(admin: Admin, plans: TopicPlan[]): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: plans.map((p) => ({
      topic: p.topic,
      numPartitions: p.partitions,
      replicationFactor: -1,
      configEntries: Object.entries({
        // the same settings `tokenwatch run` gives the compacted topics it creates
        ...(p.compacted ? { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.1', 'segment.ms': '3600000' } : {}),
        ...(p.logAppendTime ? { 'message.timestamp.type': 'LogAppendTime' } : {}),
      }).map(([name, value]) => ({ name, value })),
    })),
  });
}

/** Sum of a topic's high watermarks (= records in a fresh topic). */
export async function topicEnd(admin: Admin, topic: string): Promise<{ total: number; byPartition: Record<number, string> }> {
  const offs = await admin.fetchTopicOffsets(topic);
  const byPartition: Record<number, string> = {};
  let total = 0;
  for (const o of offs) {
    byPartition[o.partition] = o.high;
    total += Number(o.high) - Number(o.low);
  }
  return { total, byPartition };
}

export interface LoadRecord {
  key: string;
  value: string;
}

export interface LoadStats {
  sent: number;
  seconds: number;
  eps: number;
  /** largest gap between the due time of a chunk and its hand-off to the client, ms (pacing debt) */
  maxBehindMs: number;
}

/**
 * A producer for load: acks=1, not idempotent, several requests in flight, no per-message awaits.
 * `pace` sends at `rateEps` (0 = as fast as the client goes) in chunks every `tickMs`, asking
 * `make(n, nowMs)` for the next n records (fewer = the source is exhausted); `sendOne` sends a
 * single record and returns its append metadata (for the latency probes). Records are keyed and
 * partitioned exactly as the Bus producer does (kafkajs' murmur2 DefaultPartitioner), the partition
 * computed once per key and cached: murmur2 over kafkajs' emulated 64-bit Long is the producer's
 * single largest cost otherwise.
 */
export class LoadProducer {
  private readonly producer: Producer;
  private readonly inflight = new Set<Promise<unknown>>();
  private failure: unknown;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly partitionOf = new Map<string, number>();
  private partitionMetadata: PartitionMetadata[] = [];

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly maxInFlight = 6,
  ) {
    this.producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: false,
      maxInFlightRequests: maxInFlight,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const md = await admin.fetchTopicMetadata({ topics: [this.topic] });
      this.partitionMetadata = md.topics[0]!.partitions;
    } finally {
      await admin.disconnect();
    }
  }

  private message(r: LoadRecord, timestamp: string): { key: string; value: string; partition: number; timestamp: string } {
    let partition = this.partitionOf.get(r.key);
    if (partition === undefined) {
      partition = this.partitioner({ topic: this.topic, partitionMetadata: this.partitionMetadata, message: { key: r.key, value: null } });
      this.partitionOf.set(r.key, partition);
    }
    return { key: r.key, value: r.value, partition, timestamp };
  }

  private async submit(records: LoadRecord[]): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.inflight.size >= this.maxInFlight) await Promise.race(this.inflight);
    const ts = String(Date.now());
    const p: Promise<void> = this.producer
      .send({ topic: this.topic, acks: 1, messages: records.map((r) => this.message(r, ts)) })
      .then(
        () => undefined,
        (e: unknown) => {
          this.failure = e;
        },
      )
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /** Sends one record on its own and resolves with its partition metadata once acknowledged. */
  async sendOne(r: LoadRecord): Promise<{ partition: number; appendMs: number; createMs: number }> {
    const createMs = Date.now();
    const meta: RecordMetadata[] = await this.producer.send({ topic: this.topic, acks: 1, messages: [this.message(r, String(createMs))] });
    const m = meta[0]!;
    const lat = Number(m.logAppendTime ?? '-1');
    return { partition: m.partition, appendMs: lat > 0 ? lat : createMs, createMs };
  }

  /**
   * Sends records at `rateEps` until `total` were sent, `durationMs` passed or `make` runs dry.
   * Returns when every send was acknowledged.
   */
  async pace(opts: {
    rateEps: number;
    total?: number;
    durationMs?: number;
    make: (n: number, nowMs: number) => LoadRecord[];
    chunk?: number;
    tickMs?: number;
    onTick?: (sent: number, elapsedMs: number) => void;
  }): Promise<LoadStats> {
    const tickMs = opts.tickMs ?? 20;
    const chunkMax = opts.chunk ?? 2000;
    const start = performance.now();
    let sent = 0;
    let maxBehindMs = 0;
    let exhausted = false;
    const total = opts.total ?? Number.POSITIVE_INFINITY;
    const endAt = opts.durationMs !== undefined ? start + opts.durationMs : Number.POSITIVE_INFINITY;
    while (!exhausted) {
      const now = performance.now();
      if (sent >= total || now >= endAt) break;
      let due = opts.rateEps > 0 ? Math.min(total, Math.floor(((now - start) / 1000) * opts.rateEps)) - sent : Math.min(chunkMax, total - sent);
      if (opts.rateEps > 0) maxBehindMs = Math.max(maxBehindMs, (due / opts.rateEps) * 1000);
      while (due > 0 && !exhausted) {
        const n = Math.min(due, chunkMax);
        const recs = opts.make(n, Date.now());
        if (recs.length < n) exhausted = true;
        if (recs.length) await this.submit(recs);
        sent += recs.length;
        due -= recs.length;
      }
      opts.onTick?.(sent, performance.now() - start);
      if (opts.rateEps > 0) await sleep(tickMs);
    }
    await Promise.all(this.inflight);
    if (this.failure) throw this.failure;
    const seconds = (performance.now() - start) / 1000;
    return { sent, seconds, eps: sent / seconds, maxBehindMs: Math.round(maxBehindMs) };
  }

  async close(): Promise<void> {
    await Promise.all(this.inflight);
    await this.producer.disconnect();
  }
}

/** Follows a topic from the beginning; calls `onRecord` with each record's key, value and timestamp. */
export async function followTopic(
  kafka: Kafka,
  topic: string,
  groupId: string,
  onRecord: (r: { key: string | null; value: string | null; timestampMs: number; receivedMs: number; partition: number }) => void,
): Promise<{ stop: () => Promise<void> }> {
  const c = kafka.consumer({ groupId, maxWaitTimeInMs: 20, sessionTimeout: 30_000 });
  await c.connect();
  await c.subscribe({ topics: [topic], fromBeginning: true });
  let joined = false;
  c.on(c.events.GROUP_JOIN, () => (joined = true));
  void c.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      onRecord({
        key: message.key?.toString('utf8') ?? null,
        value: message.value?.toString('utf8') ?? null,
        timestampMs: Number(message.timestamp),
        receivedMs: Date.now(),
        partition,
      });
    },
  });
  const deadline = Date.now() + 30_000;
  while (!joined && Date.now() < deadline) await sleep(50);
  return { stop: () => c.disconnect() };
}
