/**
 * Configuration: environment variables (DESIGN §7) plus an optional JSON config file
 * (`TOKENWATCH_CONFIG`). Everything is validated offline, before any connection, and an error names
 * the setting and what was expected (STYLE habit 4).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Detector } from '../detect/contract.js';
import { TokenwatchError } from '../../schemas/errors.js';
import { CidrSet } from '../ingest/net.js';
import { NetworkConfigSchema, type NetworkConfig } from '../ingest/enrich.js';
import { ResponseConfigSchema, type ResponseConfig } from '../respond/policy.js';
export { ResponseConfigSchema, NetworkConfigSchema, type ResponseConfig, type NetworkConfig };
import type { SetOptions } from '../respond/set.js';
import { EnvSchema, ENV_SETTINGS, type Env, type EnvSetting, type RekeyMode } from './env.js';
import type { InputFormat } from '../ingest/adapters/index.js';

export { ENV_SETTINGS, type EnvSetting };

export const FileConfigSchema = z
  .object({
    detectors: z.record(z.string(), z.unknown()).default({}).describe('per-detector config, by detector id'),
    response: ResponseConfigSchema.default(ResponseConfigSchema.parse({})),
    network: NetworkConfigSchema.default(NetworkConfigSchema.parse({})),
  })
  .strict();


export interface Config {
  kafka: { brokers: string[]; clientId: string };
  topics: {
    /** the first input topic (created with `inputPartitions` when missing; the simulator writes to it) */
    input: string;
    /** every input topic with the format its records are in (`TOKENWATCH_INPUT_TOPIC`, `TOKENWATCH_INPUT_FORMAT`) */
    inputs: Array<{ topic: string; format: InputFormat }>;
    denylist: string; dlq: string; control: string; inputPartitions: number };
  groupId: string;
  clickhouse: { url: string; database: string; username: string; password: string };
  fpKey?: string;
  revocationTtlSec: number;
  shadow: boolean;
  latenessSec: number;
  metricsPort: number;
  fetchMaxWaitMs: number;
  /** most bytes per partition per fetch */
  fetchMaxBytes: number;
  /** consumer group membership: session timeout and heartbeat interval, ms */
  group: { sessionTimeoutMs: number; heartbeatMs: number };
  stateFlushMs: number;
  /** what goes through the repartition topic: auto = messages not keyed by the producer contract, all, off */
  rekey: RekeyMode;
  instanceId: string;
  maxKeysPerDetector: number;
  logLevel: string;
  /** record-batch compression of our producers */
  compression: { internal: Env['TOKENWATCH_COMPRESSION']; output: Env['TOKENWATCH_OUTPUT_COMPRESSION'] };
  geoip: { cityDbPath?: string; asnDbPath?: string };
  response: ResponseConfig;
  network: NetworkConfig;
  /** Security Event Tokens for revocations (off when `set.topic` is empty) */
  set: SetOptions & { topic: string };
  /** listen address of `tokenwatch denylist-server` */
  bridge: { host: string; port: number };
  /** detector id -> parsed config, for every registered detector */
  detectorConfigs: Record<string, unknown>;
}

function fail(setting: string, expected: string, got?: string): never {
  const shown = got === undefined ? '' : ` (got "${got.length > 80 ? got.slice(0, 80) + '…' : got}")`;
  throw new TokenwatchError('CONFIG_INVALID', `${setting} must be ${expected}${shown}`);
}

/** Parses the environment with the one schema (env.ts); every bad variable is named. */
export function parseEnv(env: NodeJS.ProcessEnv): Env {
  const names = Object.keys(EnvSchema.shape);
  const r = EnvSchema.safeParse(Object.fromEntries(names.map((n) => [n, env[n]])));
  if (!r.success) throw new TokenwatchError('CONFIG_INVALID', r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
  return r.data;
}

function zodProblems(err: z.ZodError, prefix: string): string {
  return err.issues.map((i) => `${[prefix, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
}

/** Reads the optional config file; errors name the file and the offending path. */
export function loadFileConfig(path: string | undefined): z.infer<typeof FileConfigSchema> {
  if (!path) return FileConfigSchema.parse({});
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail('TOKENWATCH_CONFIG', 'the path of a readable JSON file', `${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail('TOKENWATCH_CONFIG', 'valid JSON', `${path}: ${(e as Error).message}`);
  }
  const r = FileConfigSchema.safeParse(json);
  if (!r.success) throw new TokenwatchError('CONFIG_INVALID', `TOKENWATCH_CONFIG (${path}) is invalid: ${zodProblems(r.error, 'config')}`);
  return r.data;
}

/** Parses each registered detector's config; unknown detector ids and bad fields are errors. */
export function parseDetectorConfigs(detectors: readonly Detector[], raw: Record<string, unknown>): Record<string, unknown> {
  const ids = new Set(detectors.map((d) => d.meta.id));
  for (const id of Object.keys(raw)) {
    if (!ids.has(id)) fail(`config.detectors.${id}`, `one of the registered detectors (${[...ids].join(', ')})`, id);
  }
  const out: Record<string, unknown> = {};
  for (const d of detectors) {
    const r = d.config.safeParse(raw[d.meta.id] ?? {});
    if (!r.success) throw new TokenwatchError('CONFIG_INVALID', `invalid detector config: ${zodProblems(r.error as z.ZodError, `config.detectors.${d.meta.id}`)}`);
    out[d.meta.id] = r.data;
  }
  return out;
}

function groupTiming(e: Env): Config['group'] {
  const t = { sessionTimeoutMs: e.TOKENWATCH_SESSION_TIMEOUT_MS, heartbeatMs: e.TOKENWATCH_HEARTBEAT_MS };
  if (t.heartbeatMs * 3 > t.sessionTimeoutMs) fail('TOKENWATCH_HEARTBEAT_MS', `at most a third of TOKENWATCH_SESSION_TIMEOUT_MS (${t.sessionTimeoutMs} ms)`, String(t.heartbeatMs));
  return t;
}

/** The input topics with their formats; a `topic=format` pair must name an input topic. */
function inputTopics(e: Env): Config['topics']['inputs'] {
  const { fallback, byTopic } = e.TOKENWATCH_INPUT_FORMAT;
  for (const t of Object.keys(byTopic)) {
    if (!e.TOKENWATCH_INPUT_TOPIC.includes(t)) fail('TOKENWATCH_INPUT_FORMAT', `topic=format pairs for topics of TOKENWATCH_INPUT_TOPIC (${e.TOKENWATCH_INPUT_TOPIC.join(', ')})`, t);
  }
  return e.TOKENWATCH_INPUT_TOPIC.map((topic) => ({ topic, format: byTopic[topic] ?? fallback }));
}

/** Builds and validates the whole configuration from the environment. Throws CONFIG_INVALID. */
export function loadConfig(detectors: readonly Detector[], env: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(env);
  const file = loadFileConfig(e.TOKENWATCH_CONFIG);
  const network = { ...file.network };
  if (e.TOKENWATCH_TRUSTED_CIDRS.length) network.trustedCidrs = [...network.trustedCidrs, ...e.TOKENWATCH_TRUSTED_CIDRS];
  try {
    new CidrSet(network.trustedCidrs);
  } catch (err) {
    fail('TOKENWATCH_TRUSTED_CIDRS / config.network.trustedCidrs', 'CIDR blocks like 203.0.113.0/24', (err as Error).message);
  }
  try {
    new CidrSet(network.anonymousCidrs);
    new CidrSet(file.response.allowlist.cidrs);
  } catch (err) {
    fail('config.network.anonymousCidrs / config.response.allowlist.cidrs', 'CIDR blocks like 203.0.113.0/24', (err as Error).message);
  }
  return {
    kafka: { brokers: e.KAFKA_BROKERS, clientId: `tokenwatch-${e.TOKENWATCH_INSTANCE_ID}` },
    topics: {
      input: e.TOKENWATCH_INPUT_TOPIC[0]!,
      inputs: inputTopics(e),
      denylist: e.TOKENWATCH_DENYLIST_TOPIC,
      dlq: e.TOKENWATCH_DLQ_TOPIC,
      control: e.TOKENWATCH_CONTROL_TOPIC,
      inputPartitions: e.TOKENWATCH_INPUT_PARTITIONS,
    },
    groupId: e.TOKENWATCH_GROUP_ID,
    clickhouse: { url: e.CLICKHOUSE_URL, database: e.CLICKHOUSE_DATABASE, username: e.CLICKHOUSE_USER, password: e.CLICKHOUSE_PASSWORD },
    fpKey: e.TOKENWATCH_FP_KEY,
    revocationTtlSec: e.TOKENWATCH_REVOCATION_TTL_SEC,
    shadow: e.TOKENWATCH_SHADOW,
    latenessSec: e.TOKENWATCH_LATENESS_SEC,
    metricsPort: e.TOKENWATCH_METRICS_PORT,
    fetchMaxWaitMs: e.TOKENWATCH_FETCH_MAX_WAIT_MS,
    fetchMaxBytes: e.TOKENWATCH_FETCH_MAX_BYTES,
    group: groupTiming(e),
    stateFlushMs: e.TOKENWATCH_STATE_FLUSH_MS,
    rekey: e.TOKENWATCH_REKEY,
    instanceId: e.TOKENWATCH_INSTANCE_ID,
    maxKeysPerDetector: e.TOKENWATCH_MAX_KEYS_PER_DETECTOR,
    logLevel: e.LOG_LEVEL,
    compression: { internal: e.TOKENWATCH_COMPRESSION, output: e.TOKENWATCH_OUTPUT_COMPRESSION },
    geoip: { cityDbPath: e.TOKENWATCH_GEOIP_CITY_DB, asnDbPath: e.TOKENWATCH_GEOIP_ASN_DB },
    response: file.response,
    network,
    set: {
      topic: e.TOKENWATCH_SET_TOPIC,
      issuer: e.TOKENWATCH_SET_ISSUER,
      audience: e.TOKENWATCH_SET_AUDIENCE,
      subjectIssuer: e.TOKENWATCH_SET_SUBJECT_ISSUER,
      signer: e.TOKENWATCH_SET_SIGNING_KEY,
    },
    bridge: e.TOKENWATCH_BRIDGE_LISTEN,
    detectorConfigs: parseDetectorConfigs(detectors, file.detectors),
  };
}
