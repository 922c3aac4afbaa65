/**
 * The Kafka boundary. The rest of tokenwatch speaks to these small interfaces; kafkajs lives only in
 * this file, so the client can be replaced (e.g. by a librdkafka binding) without touching the
 * pipeline.
 */
import { Kafka, Partitioners, logLevel as KafkaLogLevel, type Consumer, type Producer, type Admin } from 'kafkajs';
import type { Logger } from './log.js';
import { TokenwatchError } from './errors.js';

export interface BusRecord {
  topic: string;
  key: string | null;
  /** null = tombstone */
  value: string | null;
  headers?: Record<string, string>;
  partition?: number;
}

export interface BusMessage {
  key: string | null;
  value: Buffer | null;
  offset: string;
  timestamp: string;
  headers: Record<string, string>;
}

export interface BusBatch {
  topic: string;
  partition: number;
  messages: BusMessage[];
  /** next offset the broker has for this partition (high watermark) */
  highWatermark: string;
  /** keeps the group membership alive during long work; throws when a rebalance took the partition */
  heartbeat(): Promise<void>;
  /** false once the consumer is stopping */
  isRunning(): boolean;
  /** true when the partition was revoked while the batch ran */
  isStale(): boolean;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  compacted?: boolean;
  config?: Record<string, string>;
}

export interface BusProducer {
  /** sends and waits for acknowledgement from all in-sync replicas */
  send(records: BusRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface BusConsumer {
  /**
   * Starts consuming; `onBatch` runs for one partition's batch at a time. When it returns, the
   * consumer moves past the batch; when it throws, the batch is fetched again. Commit offsets
   * yourself (after the batch's output is durable).
   */
  run(topics: string[], fromBeginning: boolean, onBatch: (b: BusBatch) => Promise<void>): Promise<void>;
  commit(topic: string, partition: number, nextOffset: string): Promise<void>;
  /** called with the partitions assigned after each rebalance */
  onAssignment(cb: (assigned: Array<{ topic: string; partition: number }>) => void): void;
  onCrash(cb: (err: Error, willRestart: boolean) => void): void;
  stop(): Promise<void>;
}

export interface Bus {
  ping(): Promise<void>;
  ensureTopics(specs: TopicSpec[]): Promise<void>;
  producer(): Promise<BusProducer>;
  consumer(groupId: string, opts?: { maxWaitMs?: number; sessionTimeoutMs?: number }): BusConsumer;
  /** committed offsets of a group for a topic: partition -> next offset ('-1' when none) */
  committedOffsets(groupId: string, topic: string): Promise<Record<number, string>>;
  /** high watermarks of a topic: partition -> next offset to be written */
  endOffsets(topic: string): Promise<Record<number, string>>;
  close(): Promise<void>;
}

function kafkaLogCreator(log: Logger) {
  return () =>
    ({ level, log: entry }: { namespace: string; level: number; label: string; log: { message: string; [k: string]: unknown } }) => {
      const { message, ...rest } = entry;
      const fields = { component: 'kafkajs', error: rest.error, broker: rest.broker };
      if (level === KafkaLogLevel.ERROR) log.error(fields, message);
      else if (level === KafkaLogLevel.WARN) log.warn(fields, message);
      else log.debug(fields, message);
    };
}

export function kafkaBus(brokers: string[], clientId: string, log: Logger): Bus {
  const kafka = new Kafka({
    clientId,
    brokers,
    logLevel: KafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(log.child({ component: 'kafka' })),
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5_000 },
    connectionTimeout: 5_000,
  });
  let admin: Admin | undefined;
  const getAdmin = async () => {
    if (!admin) {
      admin = kafka.admin();
      await admin.connect();
    }
    return admin;
  };
  const closers: Array<() => Promise<void>> = [];

  return {
    async ping() {
      try {
        const a = await getAdmin();
        await a.describeCluster();
      } catch (e) {
        throw new TokenwatchError('KAFKA_UNAVAILABLE', `cannot reach Kafka at ${brokers.join(',')} (KAFKA_BROKERS): ${(e as Error).message}`, { cause: e });
      }
    },

    async ensureTopics(specs) {
      const a = await getAdmin();
      const existing = new Set(await a.listTopics());
      const missing = specs.filter((s) => !existing.has(s.topic));
      if (missing.length === 0) return;
      await a.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.partitions,
          replicationFactor: -1,
          configEntries: Object.entries({
            ...(s.compacted ? { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.1', 'segment.ms': '3600000' } : {}),
            ...(s.config ?? {}),
          }).map(([name, value]) => ({ name, value })),
        })),
      });
    },

    async producer() {
      const p: Producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await p.connect();
      const bp: BusProducer = {
        async send(records) {
          if (records.length === 0) return;
          const byTopic = new Map<string, BusRecord[]>();
          for (const r of records) {
            const l = byTopic.get(r.topic);
            if (l) l.push(r);
            else byTopic.set(r.topic, [r]);
          }
          await p.sendBatch({
            acks: -1,
            topicMessages: [...byTopic].map(([topic, rs]) => ({
              topic,
              messages: rs.map((r) => ({ key: r.key, value: r.value, headers: r.headers, partition: r.partition })),
            })),
          });
        },
        async close() {
          await p.disconnect();
        },
      };
      closers.push(() => p.disconnect());
      return bp;
    },

    consumer(groupId, opts = {}) {
      const c: Consumer = kafka.consumer({
        groupId,
        maxWaitTimeInMs: opts.maxWaitMs ?? 100,
        sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
        heartbeatInterval: 3_000,
        retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10_000 },
      });
      const assignCbs: Array<(a: Array<{ topic: string; partition: number }>) => void> = [];
      const crashCbs: Array<(e: Error, r: boolean) => void> = [];
      c.on(c.events.GROUP_JOIN, (ev) => {
        const assigned = Object.entries(ev.payload.memberAssignment).flatMap(([topic, parts]) =>
          (parts as number[]).map((partition) => ({ topic, partition })),
        );
        for (const cb of assignCbs) cb(assigned);
      });
      c.on(c.events.CRASH, (ev) => {
        for (const cb of crashCbs) cb(ev.payload.error, ev.payload.restart);
      });
      closers.push(() => c.disconnect());
      return {
        async run(topics, fromBeginning, onBatch) {
          await c.connect();
          await c.subscribe({ topics, fromBeginning });
          await c.run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            partitionsConsumedConcurrently: 1,
            eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
              await onBatch({
                topic: batch.topic,
                partition: batch.partition,
                highWatermark: batch.highWatermark,
                messages: batch.messages.map((m) => ({
                  key: m.key ? m.key.toString('utf8') : null,
                  value: m.value,
                  offset: m.offset,
                  timestamp: m.timestamp,
                  headers: Object.fromEntries(
                    Object.entries(m.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? String(v[0] ?? '') : String(v ?? '')]),
                  ),
                })),
                heartbeat,
                isRunning,
                isStale,
              });
              // the handler returned: the batch is done (and committed by it); move past it
              const last = batch.messages[batch.messages.length - 1];
              if (last) resolveOffset(last.offset);
            },
          });
        },
        async commit(topic, partition, nextOffset) {
          await c.commitOffsets([{ topic, partition, offset: nextOffset }]);
        },
        onAssignment(cb) {
          assignCbs.push(cb);
        },
        onCrash(cb) {
          crashCbs.push(cb);
        },
        async stop() {
          await c.disconnect();
        },
      };
    },

    async committedOffsets(groupId, topic) {
      const a = await getAdmin();
      const res = await a.fetchOffsets({ groupId, topics: [topic] });
      const out: Record<number, string> = {};
      for (const t of res) for (const p of t.partitions) out[p.partition] = p.offset;
      return out;
    },

    async endOffsets(topic) {
      const a = await getAdmin();
      const res = await a.fetchTopicOffsets(topic);
      return Object.fromEntries(res.map((p) => [p.partition, p.high]));
    },

    async close() {
      for (const close of closers.splice(0)) await close().catch(() => undefined);
      if (admin) await admin.disconnect().catch(() => undefined);
      admin = undefined;
    },
  };
}
