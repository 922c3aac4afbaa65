/**
 * Integration harness: real Kafka and ClickHouse. Endpoints come from KAFKA_BROKERS /
 * CLICKHOUSE_URL when set (npm test sets them after `npm run services -- up`), else from
 * testcontainers when a Docker engine answers, else the suite fails with the command to run.
 * Every test gets its own topics, consumer group and database.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { detectors } from '../../detectors/index.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/log.js';
import { kafkaBus, type Bus } from '../../src/io/kafka.js';
import { AlertStore } from '../../src/io/clickhouse.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Processor } from '../../src/pipeline/index.js';

export interface Endpoints {
  brokers: string;
  clickhouseUrl: string;
}

let endpoints: Promise<Endpoints> | undefined;

async function fromContainers(): Promise<Endpoints> {
  const tc = await import('testcontainers');
  try {
    await tc.getContainerRuntimeClient();
  } catch {
    throw new Error(
      'Integration tests need Kafka and ClickHouse. Start them with `npm run services -- up` and set ' +
        'KAFKA_BROKERS=127.0.0.1:9092 CLICKHOUSE_URL=http://127.0.0.1:8123 (npm test does both), or run a Docker engine for testcontainers.',
    );
  }
  const kafka = await new tc.GenericContainer('apache/kafka:3.9.1')
    .withExposedPorts({ container: 9092, host: 39092 })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://localhost:39092',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withWaitStrategy(tc.Wait.forLogMessage(/Kafka Server started/))
    .start();
  const ch = await new tc.GenericContainer('clickhouse/clickhouse-server:24.8')
    .withExposedPorts(8123)
    .withWaitStrategy(tc.Wait.forHttp('/ping', 8123))
    .start();
  return {
    brokers: `${kafka.getHost()}:39092`,
    clickhouseUrl: `http://${ch.getHost()}:${ch.getMappedPort(8123)}`,
  };
}

export function services(): Promise<Endpoints> {
  if (!endpoints) {
    const brokers = process.env.KAFKA_BROKERS;
    const clickhouseUrl = process.env.CLICKHOUSE_URL;
    endpoints = brokers && clickhouseUrl ? Promise.resolve({ brokers, clickhouseUrl }) : fromContainers();
  }
  return endpoints;
}

export function uid(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

export interface TestEnv {
  ep: Endpoints;
  input: string;
  denylist: string;
  dlq: string;
  group: string;
  database: string;
  env: NodeJS.ProcessEnv;
  config: Config;
}

/** Unique topics, group and database for one test; the env a `tokenwatch run` would get. */
export async function testEnv(name: string, extra: NodeJS.ProcessEnv = {}): Promise<TestEnv> {
  const ep = await services();
  const id = uid(name);
  const env: NodeJS.ProcessEnv = {
    KAFKA_BROKERS: ep.brokers,
    CLICKHOUSE_URL: ep.clickhouseUrl,
    CLICKHOUSE_DATABASE: `tw_${id}`.replace(/[^A-Za-z0-9_]/g, '_'),
    TOKENWATCH_INPUT_TOPIC: `in.${id}`,
    TOKENWATCH_DENYLIST_TOPIC: `deny.${id}`,
    TOKENWATCH_DLQ_TOPIC: `dlq.${id}`,
    TOKENWATCH_CONTROL_TOPIC: `ctl.${id}`,
    TOKENWATCH_GROUP_ID: `g.${id}`,
    TOKENWATCH_INPUT_PARTITIONS: '3',
    TOKENWATCH_METRICS_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...extra,
  };
  const config = loadConfig(detectors, env);
  return {
    ep,
    input: config.topics.input,
    denylist: config.topics.denylist,
    dlq: config.topics.dlq,
    group: config.groupId,
    database: config.clickhouse.database,
    env,
    config,
  };
}

export interface Running {
  processor: Processor;
  bus: Bus;
  store: AlertStore;
  metrics: Metrics;
  stop(): Promise<void>;
}

/** Starts an in-process processor (the same object `tokenwatch run` builds). */
export async function startProcessor(t: TestEnv, overrides: Partial<Config> = {}): Promise<Running> {
  // every in-process instance is its own (the default, the host name, is shared by all of them)
  const config = { ...t.config, instanceId: uid('inst'), ...overrides };
  const log = createLogger({ level: t.env.LOG_LEVEL });
  const bus = kafkaBus(config.kafka.brokers, 'tokenwatch-test', log);
  const store = new AlertStore(config.clickhouse, log);
  const metrics = new Metrics();
  const processor = new Processor({ config, detectors, bus, store, log, metrics });
  let failed: unknown;
  processor.start().catch((e) => (failed = e));
  await waitFor(() => {
    if (failed) throw failed;
    return processor.isReady();
  }, 60_000, 'processor to join its consumer group');
  return {
    processor,
    bus,
    store,
    metrics,
    async stop() {
      await processor.stop();
      await bus.close();
      await store.close();
    },
  };
}

export async function waitFor<T>(probe: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
      if (e instanceof Error && /processor|tokenwatch|Kafka|ClickHouse/i.test(e.constructor.name + e.message) && e.name === 'TokenwatchError') throw e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A plain kafkajs client for the test's own producing and reading (not the code under test). */
export function testKafka(t: TestEnv): Kafka {
  return new Kafka({ clientId: 'test-client', brokers: t.ep.brokers.split(','), logLevel: logLevel.NOTHING });
}

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

/** Reads a whole topic from the beginning (until the end offsets seen at call time). */
export async function readTopic(t: TestEnv, topic: string): Promise<Array<{ key: string | null; value: string | null; partition: number; offset: string; headers: Record<string, string> }>> {
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
  const out: Array<{ key: string | null; value: string | null; partition: number; offset: string; headers: Record<string, string> }> = [];
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

export function chClient(t: TestEnv): ClickHouseClient {
  return createClient({ url: t.ep.clickhouseUrl });
}

export async function alertRows(t: TestEnv, where = '1'): Promise<Array<Record<string, unknown>>> {
  const c = chClient(t);
  try {
    const rs = await c.query({ query: `SELECT * FROM ${t.database}.alerts FINAL WHERE ${where} ORDER BY event_time_ms, alert_id`, format: 'JSONEachRow' });
    return (await rs.json()) as Array<Record<string, unknown>>;
  } finally {
    await c.close();
  }
}

export async function dropDatabase(t: TestEnv): Promise<void> {
  const c = chClient(t);
  await c.command({ query: `DROP DATABASE IF EXISTS ${t.database}` }).catch(() => undefined);
  await c.close();
}
