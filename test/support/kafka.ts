/** Kafka from the test's side: a plain kafkajs client for producing, reading topics and group offsets (not the code under test). */
import { Kafka, Partitioners, logLevel, type Admin } from 'kafkajs';
import type { AccessEventInput } from '../../schemas/event.js';
import { keyOf } from '../fixtures/events.js';
import { uid, type TestEnv } from './services.js';

export function testKafka(t: TestEnv): Kafka {
  return new Kafka({ clientId: 'test-client', brokers: t.ep.brokers.split(','), logLevel: logLevel.NOTHING });
}

export async function withAdmin<T>(t: TestEnv, fn: (a: Admin) => Promise<T>): Promise<T> {
  const admin = testKafka(t).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates the input topic with the wanted partitions before the processor does (it would make 3 via produce()). */
export async function createInput(t: TestEnv, partitions: number): Promise<void> {
  await withAdmin(t, (a) => a.createTopics({ topics: [{ topic: t.input, numPartitions: partitions }], waitForLeaders: true }));
}

/** Sends the messages in one request (acks all), creating the topic with 3 partitions when it does not exist yet. */
export async function produce(t: TestEnv, topic: string, messages: Array<{ key?: string | null; value: string | Buffer | null }>): Promise<void> {
  const k = testKafka(t);
  const admin = k.admin();
  await admin.connect();
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const p = k.producer({ allowAutoTopicCreation: false });
  await p.connect();
  await p.send({ topic, acks: -1, messages: messages.map((m) => ({ key: m.key ?? null, value: m.value })) });
  await p.disconnect();
}

/** Produces events to the test's input, keyed per the producer contract ({@link keyOf}). */
export async function produceEvents(t: TestEnv, events: AccessEventInput[]): Promise<void> {
  await produce(t, t.input, events.map((e) => ({ key: keyOf(e), value: JSON.stringify(e) })));
}

/** A long-lived idempotent producer to the test's input, keyed per the producer contract (`cred.sid ?? cred.sub ?? cred.key_id ?? cred.fp`). */
export async function eventProducer(t: TestEnv) {
  // idempotent: a retried send cannot duplicate events
  const p = testKafka(t).producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  return {
    /** sends the events in order (one request; per partition, in the order given) */
    async send(events: AccessEventInput[]): Promise<void> {
      if (events.length === 0) return;
      await p.send({ topic: t.input, acks: -1, messages: events.map((e) => ({ key: keyOf(e), value: JSON.stringify(e) })) });
    },
    async close() {
      await p.disconnect();
    },
  };
}

export interface TopicRecord {
  key: string | null;
  value: string | null;
  partition: number;
  offset: string;
  /** the record's timestamp (CreateTime, set by the producer at send), epoch ms */
  timestamp: number;
  headers: Record<string, string>;
}

/** Reads a whole topic from the beginning (until the end offsets seen at call time). */
export async function readTopic(t: TestEnv, topic: string): Promise<TopicRecord[]> {
  const k = testKafka(t);
  const admin = k.admin();
  await admin.connect();
  const exists = (await admin.listTopics()).includes(topic);
  if (!exists) {
    await admin.disconnect();
    return [];
  }
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = new Map(ends.map((e) => [e.partition, BigInt(e.high)]));
  const out: TopicRecord[] = [];
  if ([...want.values()].every((h) => h === 0n)) return out;
  const c = k.consumer({ groupId: uid('reader'), maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topics: [topic], fromBeginning: true });
  const done = new Set<number>([...want].filter(([, h]) => h === 0n).map(([p]) => p));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), 30_000);
    c.run({
      eachMessage: async ({ partition, message }) => {
        out.push({
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? null,
          partition,
          offset: message.offset,
          timestamp: Number(message.timestamp),
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([hk, hv]) => [hk, String(hv)])),
        });
        if (BigInt(message.offset) + 1n >= (want.get(partition) ?? 0n)) done.add(partition);
        if (done.size === want.size) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await c.disconnect();
  return out;
}

/** Latest value per key of a compacted topic (null = tombstone). */
export function latestByKey(records: Array<{ key: string | null; value: string | null }>): Map<string, string | null> {
  const m = new Map<string, string | null>();
  for (const r of records) if (r.key !== null) m.set(r.key, r.value);
  return m;
}

/** Committed offsets of the test's group on the input topic (partition -> next offset, -1 = none). */
export async function committed(t: TestEnv, topic = t.input): Promise<Record<number, bigint>> {
  return withAdmin(t, async (a) => {
    const res = await a.fetchOffsets({ groupId: t.group, topics: [topic] });
    const out: Record<number, bigint> = {};
    for (const p of res[0]?.partitions ?? []) out[p.partition] = BigInt(p.offset);
    return out;
  });
}
