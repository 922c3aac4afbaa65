/**
 * Configuration: environment variables (DESIGN §7) plus an optional JSON config file
 * (`TOKENWATCH_CONFIG`). Everything is validated offline, before any connection, and an error names
 * the setting and what was expected (STYLE habit 4).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import type { Detector } from '../detect/contract.js';
import { TokenwatchError } from '../../schemas/errors.js';
import { CidrSet } from '../ingest/net.js';
import { NetworkConfigSchema, type NetworkConfig } from '../ingest/enrich.js';
import { ResponseConfigSchema, type ResponseConfig } from '../respond/policy.js';
export { ResponseConfigSchema, NetworkConfigSchema, type ResponseConfig, type NetworkConfig };
import { SetSigner, type SetOptions } from '../respond/set.js';

const HOST_PORT = /^[A-Za-z0-9._-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

const csv = (s: string | undefined) =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** One environment setting: its variable, default and description (the README table is built from these). */
export interface EnvSetting {
  name: string;
  default?: string;
  description: string;
}

export const ENV_SETTINGS: readonly EnvSetting[] = [
  { name: 'KAFKA_BROKERS', default: 'localhost:9092', description: 'Kafka bootstrap brokers, host:port[,host:port]' },
  { name: 'TOKENWATCH_INPUT_TOPIC', default: 'gateway.access-logs', description: 'canonical access events (input)' },
  { name: 'TOKENWATCH_DENYLIST_TOPIC', default: 'auth.denylist', description: 'compacted revocation topic gateways load' },
  { name: 'TOKENWATCH_DLQ_TOPIC', default: 'tokenwatch.dlq', description: 'dead-letter topic for bad input, with reason codes' },
  { name: 'TOKENWATCH_GROUP_ID', default: 'tokenwatch', description: 'consumer group of the processor' },
  { name: 'CLICKHOUSE_URL', default: 'http://localhost:8123', description: 'ClickHouse HTTP endpoint' },
  { name: 'CLICKHOUSE_DATABASE', default: 'tokenwatch', description: 'database holding the alerts table' },
  { name: 'CLICKHOUSE_USER', default: 'default', description: 'ClickHouse user' },
  { name: 'CLICKHOUSE_PASSWORD', default: '', description: 'ClickHouse password (never logged)' },
  { name: 'TOKENWATCH_FP_KEY', description: 'the tfp1 HMAC key (≥ 16 bytes); needed to fingerprint raw credentials; never logged' },
  { name: 'TOKENWATCH_CONFIG', description: 'path of an optional JSON config file (detectors, response policy, networks)' },
  { name: 'TOKENWATCH_INPUT_PARTITIONS', default: '6', description: 'partitions for the input topic when tokenwatch creates it' },
  { name: 'TOKENWATCH_REVOCATION_TTL_SEC', default: '86400', description: 'lifetime of a revocation when the credential expiry is unknown' },
  { name: 'TOKENWATCH_SHADOW', default: 'false', description: 'shadow mode: record would-be revocations as shadow_revoke, publish none' },
  { name: 'TOKENWATCH_LATENESS_SEC', default: '30', description: 'allowed event-time lateness; later events are counted as late' },
  { name: 'TOKENWATCH_TRUSTED_CIDRS', default: '', description: 'trusted proxy / egress CIDRs (comma-separated): one network, never a location' },
  { name: 'TOKENWATCH_GEOIP_CITY_DB', description: 'path of a licensed MaxMind City .mmdb (default: the bundled free database)' },
  { name: 'TOKENWATCH_GEOIP_ASN_DB', description: 'path of a licensed MaxMind ASN .mmdb (default: the bundled free database)' },
  { name: 'TOKENWATCH_METRICS_PORT', default: '9464', description: 'port of /metrics, /healthz and /readyz (0 disables)' },
  { name: 'TOKENWATCH_FETCH_MAX_WAIT_MS', default: '100', description: 'longest the broker holds a fetch open waiting for input (latency vs. requests)' },
  { name: 'TOKENWATCH_INSTANCE_ID', default: 'the host name', description: 'stable id of this instance: its state transactions fence a killed predecessor with the same id; unique per instance' },
  { name: 'TOKENWATCH_REKEY', default: 'false', description: 're-key the input through tokenwatch.<group>.repartition (for several instances when producers cannot key by the contract)' },
  { name: 'TOKENWATCH_STATE_FLUSH_MS', default: '1000', description: 'how often detector state goes to the changelog with the input offsets (one transaction)' },
  { name: 'TOKENWATCH_MAX_KEYS_PER_DETECTOR', default: '200000', description: 'cap on tracked keys per detector; the least recently used key is evicted past it' },
  { name: 'TOKENWATCH_CONTROL_TOPIC', default: 'tokenwatch.control', description: 'compacted control topic (circuit-breaker state shared by all instances, `tokenwatch breaker-reset`)' },
  { name: 'TOKENWATCH_SET_TOPIC', default: '', description: 'also publish each revocation as a Security Event Token (RFC 8417) to this topic; empty = off' },
  { name: 'TOKENWATCH_SET_ISSUER', default: 'urn:tokenwatch', description: '`iss` of the SETs (a string or URI)' },
  { name: 'TOKENWATCH_SET_AUDIENCE', default: '', description: '`aud` of the SETs, comma-separated; empty = no aud claim' },
  { name: 'TOKENWATCH_SET_SUBJECT_ISSUER', default: '', description: 'issuer of the subjects (your IdP); when set, subjects are iss_sub identifiers in SETs, else opaque' },
  { name: 'TOKENWATCH_SET_SIGNING_KEY', description: 'signs SETs: PEM private key (EC P-256 → ES256, RSA → RS256), HMAC secret ≥ 32 bytes (HS256), or a path to either; unsigned (alg none) when unset; never logged' },
  { name: 'TOKENWATCH_BRIDGE_LISTEN', default: '127.0.0.1:8089', description: 'host:port of `tokenwatch denylist-server` (GET /v1/check, /healthz, /readyz, /metrics)' },
  { name: 'LOG_LEVEL', default: 'info', description: 'pino log level' },
];

export const FileConfigSchema = z
  .object({
    detectors: z.record(z.string(), z.unknown()).default({}).describe('per-detector config, by detector id'),
    response: ResponseConfigSchema.default(ResponseConfigSchema.parse({})),
    network: NetworkConfigSchema.default(NetworkConfigSchema.parse({})),
  })
  .strict();


export interface Config {
  kafka: { brokers: string[]; clientId: string };
  topics: { input: string; denylist: string; dlq: string; control: string; inputPartitions: number };
  groupId: string;
  clickhouse: { url: string; database: string; username: string; password: string };
  fpKey?: string;
  revocationTtlSec: number;
  shadow: boolean;
  latenessSec: number;
  metricsPort: number;
  fetchMaxWaitMs: number;
  stateFlushMs: number;
  rekey: boolean;
  instanceId: string;
  maxKeysPerDetector: number;
  logLevel: string;
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

function intSetting(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(name, `a whole number from ${min} to ${max}`, raw);
  return n;
}

function boolSetting(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  return fail(name, 'true or false', raw);
}

function instanceIdSetting(env: NodeJS.ProcessEnv): string {
  const v = env.TOKENWATCH_INSTANCE_ID || hostname();
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(v)) fail('TOKENWATCH_INSTANCE_ID', 'letters, digits, ".", "_" or "-" (at most 128)', v);
  return v;
}

function topicSetting(env: NodeJS.ProcessEnv, name: string, def: string): string {
  const v = env[name] || def;
  if (!TOPIC.test(v)) fail(name, 'a Kafka topic name (letters, digits, ".", "_", "-"; at most 249)', v);
  return v;
}

/** `host:port`, `[v6]:port`; port 0 picks a free one. */
function listenSetting(env: NodeJS.ProcessEnv, name: string, def: string): { host: string; port: number } {
  const raw = env[name] || def;
  const m = raw.match(/^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/) ?? raw.match(/^([A-Za-z0-9._-]+):(\d{1,5})$/);
  const port = Number(m?.[2]);
  if (!m || port > 65_535) fail(name, 'host:port to listen on, e.g. 127.0.0.1:8089 or [::1]:8089', raw);
  return { host: m[1]!, port };
}

/** A JWT StringOrURI: any string, but one containing ":" must be a URI (RFC 7519 §2). */
function stringOrUri(name: string, v: string): string {
  if (v.includes(':')) {
    try {
      new URL(v);
    } catch {
      fail(name, 'a string or URI (a value containing ":" must be a URI such as https://idp.example.com/ or urn:tokenwatch)', v);
    }
  }
  return v;
}

function setSettings(env: NodeJS.ProcessEnv): Config['set'] {
  const topic = env.TOKENWATCH_SET_TOPIC ?? '';
  if (topic !== '' && !TOPIC.test(topic)) fail('TOKENWATCH_SET_TOPIC', 'empty (off) or a Kafka topic name (letters, digits, ".", "_", "-"; at most 249)', topic);
  const issuer = stringOrUri('TOKENWATCH_SET_ISSUER', env.TOKENWATCH_SET_ISSUER || 'urn:tokenwatch');
  const audience = csv(env.TOKENWATCH_SET_AUDIENCE).map((a) => stringOrUri('TOKENWATCH_SET_AUDIENCE', a));
  const subjectIssuer = env.TOKENWATCH_SET_SUBJECT_ISSUER ? stringOrUri('TOKENWATCH_SET_SUBJECT_ISSUER', env.TOKENWATCH_SET_SUBJECT_ISSUER) : undefined;
  const signer = env.TOKENWATCH_SET_SIGNING_KEY ? SetSigner.fromSetting(env.TOKENWATCH_SET_SIGNING_KEY, 'TOKENWATCH_SET_SIGNING_KEY') : undefined;
  return { topic, issuer, audience, subjectIssuer, signer };
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

/** Builds and validates the whole configuration from the environment. Throws CONFIG_INVALID. */
export function loadConfig(detectors: readonly Detector[], env: NodeJS.ProcessEnv = process.env): Config {
  const brokersRaw = env.KAFKA_BROKERS || 'localhost:9092';
  const brokers = csv(brokersRaw);
  if (brokers.length === 0 || !brokers.every((b) => HOST_PORT.test(b))) {
    fail('KAFKA_BROKERS', 'host:port[,host:port] (e.g. localhost:9092)', brokersRaw);
  }
  const chUrl = env.CLICKHOUSE_URL || 'http://localhost:8123';
  try {
    const u = new URL(chUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
  } catch {
    fail('CLICKHOUSE_URL', 'an http(s) URL such as http://localhost:8123', chUrl);
  }
  const database = env.CLICKHOUSE_DATABASE || 'tokenwatch';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(database)) fail('CLICKHOUSE_DATABASE', 'an identifier ([A-Za-z_][A-Za-z0-9_]*)', database);
  const fpKey = env.TOKENWATCH_FP_KEY || undefined;
  if (fpKey !== undefined && Buffer.byteLength(fpKey) < 16) fail('TOKENWATCH_FP_KEY', 'at least 16 bytes long (value not shown)');
  const file = loadFileConfig(env.TOKENWATCH_CONFIG);
  const network = { ...file.network };
  const trusted = csv(env.TOKENWATCH_TRUSTED_CIDRS);
  if (trusted.length) network.trustedCidrs = [...network.trustedCidrs, ...trusted];
  try {
    new CidrSet(network.trustedCidrs);
  } catch (e) {
    fail('TOKENWATCH_TRUSTED_CIDRS / config.network.trustedCidrs', 'CIDR blocks like 203.0.113.0/24', (e as Error).message);
  }
  try {
    new CidrSet(network.anonymousCidrs);
    new CidrSet(file.response.allowlist.cidrs);
  } catch (e) {
    fail('config.network.anonymousCidrs / config.response.allowlist.cidrs', 'CIDR blocks like 203.0.113.0/24', (e as Error).message);
  }
  const logLevel = env.LOG_LEVEL || 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    fail('LOG_LEVEL', 'one of fatal, error, warn, info, debug, trace, silent', logLevel);
  }
  return {
    kafka: { brokers, clientId: 'tokenwatch' },
    topics: {
      input: topicSetting(env, 'TOKENWATCH_INPUT_TOPIC', 'gateway.access-logs'),
      denylist: topicSetting(env, 'TOKENWATCH_DENYLIST_TOPIC', 'auth.denylist'),
      dlq: topicSetting(env, 'TOKENWATCH_DLQ_TOPIC', 'tokenwatch.dlq'),
      control: topicSetting(env, 'TOKENWATCH_CONTROL_TOPIC', 'tokenwatch.control'),
      inputPartitions: intSetting(env, 'TOKENWATCH_INPUT_PARTITIONS', 6, 1, 10_000),
    },
    groupId: env.TOKENWATCH_GROUP_ID || 'tokenwatch',
    clickhouse: {
      url: chUrl,
      database,
      username: env.CLICKHOUSE_USER || 'default',
      password: env.CLICKHOUSE_PASSWORD ?? '',
    },
    fpKey,
    revocationTtlSec: intSetting(env, 'TOKENWATCH_REVOCATION_TTL_SEC', 86_400, 60, 31_536_000),
    shadow: boolSetting(env, 'TOKENWATCH_SHADOW', false),
    latenessSec: intSetting(env, 'TOKENWATCH_LATENESS_SEC', 30, 0, 86_400),
    metricsPort: intSetting(env, 'TOKENWATCH_METRICS_PORT', 9464, 0, 65_535),
    fetchMaxWaitMs: intSetting(env, 'TOKENWATCH_FETCH_MAX_WAIT_MS', 100, 1, 60_000),
    stateFlushMs: intSetting(env, 'TOKENWATCH_STATE_FLUSH_MS', 1000, 10, 600_000),
    rekey: boolSetting(env, 'TOKENWATCH_REKEY', false),
    instanceId: instanceIdSetting(env),
    maxKeysPerDetector: intSetting(env, 'TOKENWATCH_MAX_KEYS_PER_DETECTOR', 200_000, 100, 100_000_000),
    logLevel,
    geoip: { cityDbPath: env.TOKENWATCH_GEOIP_CITY_DB || undefined, asnDbPath: env.TOKENWATCH_GEOIP_ASN_DB || undefined },
    response: file.response,
    network,
    set: setSettings(env),
    bridge: listenSetting(env, 'TOKENWATCH_BRIDGE_LISTEN', '127.0.0.1:8089'),
    detectorConfigs: parseDetectorConfigs(detectors, file.detectors),
  };
}
