/**
 * The kafkajs implementation of the Bus (bus.ts). kafkajs lives only in this file.
 */
import { AssignerProtocol, Kafka, Partitioners, logLevel as KafkaLogLevel, type Consumer, type PartitionAssigner, type Producer, type Admin } from 'kafkajs';
import type { Logger } from '../telemetry/log.js';
import { TokenwatchError } from '../../schemas/errors.js';
import type { AssignmentInfo, Bus, BusProducer, BusRecord, TopicPartitions } from './bus.js';
import { compressionType, registerCodecs } from './codecs.js';

export type { Bus, BusBatch, BusConsumer, BusMessage, BusProducer, BusRecord, BusTxProducer, TopicSpec } from './bus.js';

function kafkaLogCreator(log: Logger) {
  return () =>
    ({ level, log: entry }: { namespace: string; level: number; label: string; log: { message: string; [k: string]: unknown } }) => {
      const { message, ...rest } = entry;
      const fields = { component: 'kafkajs', error: rest.error, broker: rest.broker };
      // our sink loop retries sends itself, so the idempotent producer's bounded retries are deliberate
      if (message.startsWith('Limiting retries for the idempotent producer')) return log.debug(fields, message);
      if (level === KafkaLogLevel.ERROR) log.error(fields, message);
      else if (level === KafkaLogLevel.WARN) log.warn(fields, message);
      else log.debug(fields, message);
    };
}

/**
 * Splits records into sends of at most `maxBytes` (keys + values): Kafka refuses a record batch
 * larger than the broker's message.max.bytes (1 MiB by default), and kafkajs puts everything one
 * send holds for a partition into one batch.
 */
export function chunkRecords(records: BusRecord[], maxBytes = 512 * 1024): BusRecord[][] {
  const out: BusRecord[][] = [];
  let cur: BusRecord[] = [];
  let size = 0;
  for (const r of records) {
    const n = (r.key?.length ?? 0) + (r.value?.length ?? 0) + 64;
    if (cur.length && size + n > maxBytes) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(r);
    size += n;
  }
  if (cur.length) out.push(cur);
  return out;
}

function topicMessages(records: BusRecord[]) {
  const byTopic = new Map<string, BusRecord[]>();
  for (const r of records) {
    const l = byTopic.get(r.topic);
    if (l) l.push(r);
    else byTopic.set(r.topic, [r]);
  }
  return [...byTopic].map(([topic, rs]) => ({
    topic,
    messages: rs.map((r) => ({ key: r.key, value: r.value, headers: r.headers, partition: r.partition })),
  }));
}

/**
 * A partition assigner for a consumer that is the only member of its group and must read exactly
 * `partitions` of `topic` (kafkajs has no manual assignment: every consumer joins a group, and its
 * built-in assigners spread all partitions). Used by the restore, which reads only the changelog
 * partitions of the tasks an instance was just assigned.
 */
function fixedAssigner(topic: string, partitions: number[]): PartitionAssigner {
  const name = 'tokenwatch-fixed';
  return () => ({
    name,
    version: 1,
    async assign({ members }) {
      return members.map(({ memberId }, i) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: i === 0 ? { [topic]: partitions } : {}, userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }) {
      return { name, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
  });
}

function ifRunning(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!/not initialized/i.test((e as Error).message)) throw e;
  }
}

function byTopic(parts: TopicPartitions[]): Array<{ topic: string; partitions: number[] }> {
  const m = new Map<string, number[]>();
  for (const { topic, partition } of parts) {
    const l = m.get(topic);
    if (l) l.push(partition);
    else m.set(topic, [partition]);
  }
  return [...m].map(([topic, partitions]) => ({ topic, partitions }));
}

/** Retries an admin call that can fail transiently (e.g. right after topic creation, before leaders settle). */
async function withRetry<T>(fn: () => Promise<T>, attempts: number): Promise<T> {
  let delay = 100;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }
}

/**
 * What to do about a consumer crash, from the error's kind (kafkajs error names, never the
 * message's secrets): secret-free, for the last log line of a process that exits.
 */
export function crashFix(err: unknown): string {
  const e = err as { name?: string; message?: string; code?: string; retriable?: boolean } | undefined;
  const text = `${e?.name ?? ''} ${e?.code ?? ''} ${e?.message ?? ''}`;
  if (/compression|codec|CODEC_FAILED/i.test(text)) {
    return 'a record batch uses a compression codec that could not be decoded; tokenwatch decodes gzip, snappy, lz4 and zstd (src/io/codecs.ts) — check the producer\'s codec settings (e.g. compression.codec of a librdkafka shipper) and that npm ci installed the codec packages';
  }
  if (/KafkaJSNumberOfRetriesExceeded|KafkaJSConnectionError|ECONNREFUSED|KafkaJSBrokerNotFound/.test(text)) {
    return 'Kafka was unreachable for longer than the client retries: check KAFKA_BROKERS and the brokers, then restart (uncommitted input is read again)';
  }
  if (/INVALID_SESSION_TIMEOUT|session timeout/i.test(text)) {
    return 'the broker refused the consumer session timeout: set TOKENWATCH_SESSION_TIMEOUT_MS within its group.min.session.timeout.ms … group.max.session.timeout.ms (6 s – 30 min by default)';
  }
  if (/GROUP_AUTHORIZATION|TOPIC_AUTHORIZATION|SASL|authoriz/i.test(text)) {
    return 'Kafka refused access: grant the consumer group and topics to this client, then restart';
  }
  return 'restart tokenwatch; uncommitted input is read again and nothing is lost — if it happens again, the error above names the cause';
}

/** A failed write of ours: retriable (the pipeline retries it with backoff while the partition waits). */
function sinkError(what: string, e: unknown): TokenwatchError {
  return new TokenwatchError('SINK_WRITE_FAILED', `${what} failed: ${(e as Error).message ?? String(e)}`, { cause: e });
}

export function kafkaBus(brokers: string[], clientId: string, log: Logger): Bus {
  registerCodecs();
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

    async producer(opts = {}) {
      const compression = compressionType(opts.compression ?? 'none');
      const p: Producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await p.connect();
      const bp: BusProducer = {
        async send(records) {
          try {
            for (const chunk of chunkRecords(records)) await p.sendBatch({ acks: -1, compression, topicMessages: topicMessages(chunk) });
          } catch (e) {
            throw sinkError(`Kafka send of ${records.length} record(s)`, e);
          }
        },
        async close() {
          await p.disconnect();
        },
      };
      closers.push(() => p.disconnect());
      return bp;
    },

    async transactionalProducer(transactionalId, opts = {}) {
      const compression = compressionType(opts.compression ?? 'none');
      const p: Producer = kafka.producer({
        transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: 60_000,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await p.connect();
      closers.push(() => p.disconnect());
      return {
        async commit(records, offsets) {
          const tx = await p.transaction();
          try {
            for (const chunk of chunkRecords(records)) await tx.sendBatch({ compression, topicMessages: topicMessages(chunk) });
            const topics = Object.entries(offsets.topics)
              .map(([topic, parts]) => ({ topic, partitions: Object.entries(parts).map(([partition, offset]) => ({ partition: Number(partition), offset })) }))
              .filter((t) => t.partitions.length > 0);
            if (topics.length) await tx.sendOffsets({ consumerGroupId: offsets.groupId, topics });
            await tx.commit();
          } catch (e) {
            await tx.abort().catch(() => undefined);
            const type = (e as { type?: string }).type ?? (e as { cause?: { type?: string } }).cause?.type;
            if (type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED' || /INVALID_PRODUCER_EPOCH|PRODUCER_FENCED/.test(String((e as Error).message))) {
              throw new TokenwatchError('PRODUCER_FENCED', `transactional id ${transactionalId} was taken over by a newer producer`, { cause: e });
            }
            throw sinkError(`Kafka transaction of ${records.length} record(s) and ${Object.values(offsets.topics).reduce((n, p) => n + Object.keys(p).length, 0)} offset(s)`, e);
          }
        },
        async close() {
          await p.disconnect();
        },
      };
    },

    async readToEnd(topic, onRecord, partitions) {
      const a = await getAdmin();
      if (!(await a.listTopics()).includes(topic)) return 0;
      const ends = await withRetry(() => a.fetchTopicOffsets(topic), 8);
      const wanted = partitions ? new Set(partitions) : undefined;
      const pending = new Map(
        ends.filter((e) => (!wanted || wanted.has(e.partition)) && BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]),
      );
      if (pending.size === 0) return 0;
      const c = kafka.consumer({
        groupId: `${clientId}.restore.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}`,
        maxWaitTimeInMs: 200,
        readUncommitted: false,
        maxBytesPerPartition: 4 * 1024 * 1024,
        ...(wanted ? { partitionAssigners: [fixedAssigner(topic, [...pending.keys()].sort((x, y) => x - y))] } : {}),
      });
      let n = 0;
      await c.connect();
      try {
        await c.subscribe({ topics: [topic], fromBeginning: true });
        await new Promise<void>((resolve, reject) => {
          let lastProgress = Date.now();
          const finish = (e?: Error) => {
            clearInterval(stall);
            if (e) reject(e);
            else resolve();
          };
          // Progress is the position, not the records delivered: kafkajs reports every fetched
          // batch's last offset — also of a batch that was only transaction markers or aborted
          // records, which delivers nothing — so a partition is done exactly at its end offset.
          c.on(c.events.END_BATCH_PROCESS, ({ payload }) => {
            if (payload.topic !== topic) return;
            lastProgress = Date.now();
            const end = pending.get(payload.partition);
            if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) pending.delete(payload.partition);
            if (pending.size === 0) finish();
          });
          // Short of the end only while a transaction is open there (read_committed stops at it):
          // a killed producer's is aborted by its transaction timeout (60 s). Past that, fail, so
          // the caller retries rather than going on with part of the state.
          const stall = setInterval(() => {
            if (Date.now() - lastProgress > 75_000) {
              finish(new TokenwatchError('SINK_WRITE_FAILED', `reading ${topic} made no progress for 75 s at partitions ${[...pending.keys()].join(',')} (an open transaction?)`));
            }
          }, 1_000);
          c.on(c.events.GROUP_JOIN, () => {
            lastProgress = Date.now();
          });
          c.run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              for (const m of batch.messages) {
                onRecord({ key: m.key?.toString('utf8') ?? null, value: m.value?.toString('utf8') ?? null, partition: batch.partition });
                n++;
              }
            },
          }).catch((e) => finish(e as Error));
        });
      } finally {
        await c.disconnect();
      }
      return n;
    },

    consumer(groupId, opts = {}) {
      const c: Consumer = kafka.consumer({
        groupId,
        maxWaitTimeInMs: opts.maxWaitMs ?? 100,
        // small per-partition fetches interleave the partitions finely, so the shared event-time
        // clock does not race ahead on one partition while another lags (e.g. reading a backlog)
        maxBytesPerPartition: opts.maxBytesPerPartition ?? 256 * 1024,
        sessionTimeout: opts.sessionTimeoutMs ?? 8_000,
        heartbeatInterval: opts.heartbeatMs ?? 2_000,
        retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10_000 },
      });
      const assignCbs: Array<(a: TopicPartitions[], info: AssignmentInfo) => void> = [];
      const crashCbs: Array<(e: Error, r: boolean) => void> = [];
      c.on(c.events.GROUP_JOIN, (ev) => {
        const assigned = Object.entries(ev.payload.memberAssignment).flatMap(([topic, parts]) =>
          (parts as number[]).map((partition) => ({ topic, partition })),
        );
        for (const cb of assignCbs) cb(assigned, { memberId: ev.payload.memberId });
      });
      const rebalancingCbs: Array<() => void> = [];
      c.on(c.events.REBALANCING, () => {
        for (const cb of rebalancingCbs) cb();
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
            eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset, pause }) => {
              let deferred = false;
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
                defer() {
                  deferred = true;
                  pause();
                },
              });
              // the handler returned: the batch is done (and committed by it); move past it — unless
              // it was handed back (not resolved: the next fetch after resume starts at it again)
              const last = batch.messages[batch.messages.length - 1];
              if (last && !deferred) resolveOffset(last.offset);
            },
          });
        },
        async commit(topic, partition, nextOffset) {
          await c.commitOffsets([{ topic, partition, offset: nextOffset }]);
        },
        onAssignment(cb) {
          assignCbs.push(cb);
        },
        onRebalancing(cb) {
          rebalancingCbs.push(cb);
        },
        // kafkajs throws when the consumer is not running (stopped, or between a crash and its
        // restart); its next assignment starts from the committed offsets, unpaused, so ignore it
        pause(parts) {
          if (parts.length) ifRunning(() => c.pause(byTopic(parts)));
        },
        resume(parts) {
          if (parts.length) ifRunning(() => c.resume(byTopic(parts)));
        },
        seek(topic, partition, offset) {
          ifRunning(() => c.seek({ topic, partition, offset }));
        },
        onCrash(cb) {
          crashCbs.push(cb);
        },
        async stop() {
          await c.disconnect();
        },
      };
    },

    async partitionCount(topic) {
      const a = await getAdmin();
      if (!(await a.listTopics()).includes(topic)) return 0;
      const res = await withRetry(() => a.fetchTopicOffsets(topic), 8);
      return res.length;
    },

    async addPartitions(topic, count) {
      const a = await getAdmin();
      await a.createPartitions({ topicPartitions: [{ topic, count }] });
    },

    async committedOffsets(groupId, topic) {
      const a = await getAdmin();
      const res = await withRetry(() => a.fetchOffsets({ groupId, topics: [topic] }), 8);
      const out: Record<number, string> = {};
      for (const t of res) for (const p of t.partitions) out[p.partition] = p.offset;
      return out;
    },

    async endOffsets(topic) {
      const a = await getAdmin();
      const res = await withRetry(() => a.fetchTopicOffsets(topic), 8);
      return Object.fromEntries(res.map((p) => [p.partition, p.high]));
    },

    async close() {
      for (const close of closers.splice(0)) await close().catch(() => undefined);
      if (admin) await admin.disconnect().catch(() => undefined);
      admin = undefined;
    },
  };
}
