/**
 * The services every integration and fault test runs against: real Kafka and ClickHouse. Endpoints
 * come from KAFKA_BROKERS / CLICKHOUSE_URL when set (npm test sets them after `npm run services --
 * up`), else from testcontainers when a Docker engine answers, else the suite fails with the
 * command to run. Every test gets its own topics, consumer group and database ({@link testEnv}).
 *
 * What a test starts is torn down by {@link teardown}, in reverse order of starting (processors,
 * bridges and children before the database they write to). A test file registers it once:
 * `afterEach(teardown)`, or `afterAll(teardown)` when its set-up is in `beforeAll`.
 */
import { randomBytes } from 'node:crypto';
import { detectors } from '../../detectors/index.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { dropDatabase } from './clickhouse.js';

/** Event-time origin of the integration and fault scenarios: 2026-11-30T10:00:00Z (event time, not the wall clock). */
export const T0 = Date.UTC(2026, 10, 30, 10, 0, 0);

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

/** A name no other test (or earlier run) uses: `<prefix>_<time>_<random>`. */
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

/**
 * Unique topics, group and database for one test; the env a `tokenwatch run` would get. The
 * database is dropped at {@link teardown}.
 */
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
  const t: TestEnv = {
    ep,
    input: config.topics.input,
    denylist: config.topics.denylist,
    dlq: config.topics.dlq,
    group: config.groupId,
    database: config.clickhouse.database,
    env,
    config,
  };
  onTeardown(() => dropDatabase(t));
  return t;
}

const pending: Array<() => unknown> = [];

/** Registers a step for {@link teardown} (run last-registered first). */
export function onTeardown(fn: () => unknown): void {
  pending.push(fn);
}

/** Runs every registered teardown step, newest first; all run even when one fails (the first failure is thrown). */
export async function teardown(): Promise<void> {
  let failure: unknown;
  while (pending.length) {
    try {
      await pending.pop()!();
    } catch (e) {
      failure ??= e;
    }
  }
  if (failure) throw failure;
}
