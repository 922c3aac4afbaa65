/**
 * The environment, as one zod schema (DESIGN §7): each variable's parser, default and description
 * are written once here; the README table, `tokenwatch --help` and the types of the parsed values
 * all come from it. An empty variable counts as unset. A bad value fails with the variable's name,
 * what was expected and (except for secrets) what was given.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { SetSigner } from '../respond/set.js';
import { INPUT_FORMATS, isInputFormat, type InputFormat } from '../ingest/adapters/index.js';

/** One environment setting: its variable, default and description (the README table is built from these). */
export interface EnvSetting {
  name: string;
  default?: string;
  description: string;
}

/** Thrown by a parser: the value is not what the setting expects. */
class Expected {
  constructor(readonly expected: string) {}
}

/** Rejects the value: "<NAME> must be <expected> (got "…")". */
export function expected(what: string): never {
  throw new Expected(what);
}

interface VarOptions {
  /** the default as documented, when it is not a literal value (e.g. "the host name") */
  shownDefault?: string;
  /** never echo the value in an error */
  secret?: boolean;
}

function shown(raw: string): string {
  return ` (got "${raw.length > 80 ? `${raw.slice(0, 80)}…` : raw}")`;
}

function parser<T>(parse: (raw: string) => T, opts: VarOptions) {
  return z.string().transform((raw, ctx): T => {
    try {
      return parse(raw);
    } catch (e) {
      if (!(e instanceof Expected)) throw e;
      ctx.addIssue({ code: 'custom', message: `must be ${e.expected}${opts.secret ? ' (value not shown)' : shown(raw)}` });
      return z.NEVER;
    }
  });
}

const unsetIfEmpty = (v: unknown) => (v === '' ? undefined : v);

/** A variable with a default: `parse` turns its text (or the default's) into the value, or calls `expected(...)`. */
function envVar<T>(description: string, def: string, parse: (raw: string) => T, opts: VarOptions = {}) {
  return z.preprocess(unsetIfEmpty, parser(parse, opts).prefault(def)).meta({ description, default: opts.shownDefault ?? def });
}

/** A variable without a default: undefined when unset. */
function optionalVar<T>(description: string, parse: (raw: string) => T, opts: VarOptions = {}) {
  return z.preprocess(unsetIfEmpty, parser(parse, opts).optional()).meta({ description });
}

export const csv = (s: string | undefined): string[] =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

const HOST_PORT = /^[A-Za-z0-9._-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const TOPIC_EXPECTED = 'a Kafka topic name (letters, digits, ".", "_", "-"; at most 249)';

const text = (raw: string) => raw;
const topic = (raw: string) => (TOPIC.test(raw) ? raw : expected(TOPIC_EXPECTED));
/** `TOKENWATCH_INPUT_TOPIC`: one topic, or several comma-separated (each read with its own format). */
const topics = (raw: string) => {
  const list = csv(raw);
  if (list.length === 0 || !list.every((t) => TOPIC.test(t))) expected(`${TOPIC_EXPECTED}, or several comma-separated`);
  const dup = list.find((t, i) => list.indexOf(t) !== i);
  if (dup) expected(`distinct topics (${dup} is listed twice)`);
  return list;
};

/**
 * `TOKENWATCH_INPUT_FORMAT`: one format for every input topic (`nginx`), or `topic=format` pairs,
 * optionally with a bare format for the topics not named (`canonical,gateway.nginx=nginx`).
 */
export interface InputFormats {
  /** the format of an input topic no pair names */
  fallback: InputFormat;
  byTopic: Record<string, InputFormat>;
}
const FORMAT_EXPECTED = `one of ${INPUT_FORMATS.join(', ')}, or topic=format pairs (comma-separated), e.g. gateway.nginx=nginx,gateway.kong=kong`;
const inputFormats = (raw: string): InputFormats => {
  const out: InputFormats = { fallback: 'canonical', byTopic: Object.create(null) as Record<string, InputFormat> };
  let bare = 0;
  for (const item of csv(raw)) {
    const eq = item.indexOf('=');
    const [t, f] = eq < 0 ? [undefined, item] : [item.slice(0, eq).trim(), item.slice(eq + 1).trim()];
    if (!isInputFormat(f)) expected(`${FORMAT_EXPECTED} ("${f}" is not a format)`);
    if (t === undefined) {
      if (++bare > 1) expected(`${FORMAT_EXPECTED} (at most one format without a topic)`);
      out.fallback = f;
    } else {
      if (!TOPIC.test(t)) expected(`${FORMAT_EXPECTED} ("${t}" is not a topic name)`);
      if (t in out.byTopic) expected(`${FORMAT_EXPECTED} (${t} is given twice)`);
      out.byTopic[t] = f;
    }
  }
  return out;
};

const int = (min: number, max: number) => (raw: string) => {
  const n = Number(raw);
  return Number.isInteger(n) && n >= min && n <= max ? n : expected(`a whole number from ${min} to ${max}`);
};
const bool = (raw: string) => (/^(1|true|yes|on)$/i.test(raw) ? true : /^(0|false|no|off)$/i.test(raw) ? false : expected('true or false'));
/** What TOKENWATCH_REKEY sends through the repartition topic. */
export type RekeyMode = 'auto' | 'all' | 'off';

/** A JWT StringOrURI: any string, but one containing ":" must be a URI (RFC 7519 §2). */
const stringOrUri = (raw: string) => {
  if (raw.includes(':')) {
    try {
      new URL(raw);
    } catch {
      expected('a string or URI (a value containing ":" must be a URI such as https://idp.example.com/ or urn:tokenwatch)');
    }
  }
  return raw;
};

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
const codec = (raw: string) => {
  const c = raw.toLowerCase() as (typeof CODECS)[number];
  return CODECS.includes(c) ? c : expected(`one of ${CODECS.join(', ')}`);
};

/** `host:port`, `[v6]:port`; port 0 picks a free one. */
const listen = (raw: string) => {
  const m = raw.match(/^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/) ?? raw.match(/^([A-Za-z0-9._-]+):(\d{1,5})$/);
  const port = Number(m?.[2]);
  if (!m || port > 65_535) expected('host:port to listen on, e.g. 127.0.0.1:8089 or [::1]:8089');
  return { host: m[1]!, port };
};

export const EnvSchema = z.object({
  KAFKA_BROKERS: envVar('Kafka bootstrap brokers, host:port[,host:port]', 'localhost:9092', (raw) => {
    const brokers = csv(raw);
    return brokers.length > 0 && brokers.every((b) => HOST_PORT.test(b)) ? brokers : expected('host:port[,host:port] (e.g. localhost:9092)');
  }),
  TOKENWATCH_INPUT_TOPIC: envVar('input topic(s) of gateway access events, comma-separated; each is read in its TOKENWATCH_INPUT_FORMAT', 'gateway.access-logs', topics),
  TOKENWATCH_INPUT_FORMAT: envVar(
    `format of the input topics: canonical (v1 events) or a gateway adapter (${INPUT_FORMATS.slice(1).join(', ')}); one for all, or topic=format pairs`,
    'canonical',
    inputFormats,
  ),
  TOKENWATCH_DENYLIST_TOPIC: envVar('compacted revocation topic gateways load', 'auth.denylist', topic),
  TOKENWATCH_DLQ_TOPIC: envVar('dead-letter topic for bad input, with reason codes', 'tokenwatch.dlq', topic),
  TOKENWATCH_GROUP_ID: envVar('consumer group of the processor', 'tokenwatch', text),
  CLICKHOUSE_URL: envVar('ClickHouse HTTP endpoint', 'http://localhost:8123', (raw) => {
    try {
      const u = new URL(raw);
      if (u.protocol === 'http:' || u.protocol === 'https:') return raw;
    } catch {
      // falls through to the expectation
    }
    return expected('an http(s) URL such as http://localhost:8123');
  }),
  CLICKHOUSE_DATABASE: envVar('database holding the alerts table', 'tokenwatch', (raw) =>
    /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(raw) ? raw : expected('an identifier ([A-Za-z_][A-Za-z0-9_]*)'),
  ),
  CLICKHOUSE_USER: envVar('ClickHouse user', 'default', text),
  CLICKHOUSE_PASSWORD: envVar('ClickHouse password (never logged)', '', text, { secret: true }),
  TOKENWATCH_FP_KEY: optionalVar('the tfp1 HMAC key (≥ 16 bytes); needed to fingerprint raw credentials; never logged', (raw) => (Buffer.byteLength(raw) >= 16 ? raw : expected('at least 16 bytes long')),
    { secret: true },
  ),
  TOKENWATCH_CONFIG: optionalVar('path of an optional JSON config file (detectors, response policy, networks)', text),
  TOKENWATCH_INPUT_PARTITIONS: envVar('partitions for the input topic when tokenwatch creates it', '6', int(1, 10_000)),
  TOKENWATCH_REVOCATION_TTL_SEC: envVar('lifetime of a revocation when the credential expiry is unknown', '86400', int(60, 31_536_000)),
  TOKENWATCH_SHADOW: envVar('shadow mode: record would-be revocations as shadow_revoke, publish none', 'false', bool),
  TOKENWATCH_LATENESS_SEC: envVar('allowed event-time lateness; later events are counted as late', '30', int(0, 86_400)),
  TOKENWATCH_TRUSTED_CIDRS: envVar('trusted proxy / egress CIDRs (comma-separated): one network, never a location', '', csv),
  TOKENWATCH_GEOIP_CITY_DB: optionalVar('path of a licensed MaxMind City .mmdb (default: the bundled free database)', text),
  TOKENWATCH_GEOIP_ASN_DB: optionalVar('path of a licensed MaxMind ASN .mmdb (default: the bundled free database)', text),
  TOKENWATCH_METRICS_PORT: envVar('port of /metrics, /healthz and /readyz (0 disables)', '9464', int(0, 65_535)),
  TOKENWATCH_FETCH_MAX_WAIT_MS: envVar('longest the broker holds a fetch open waiting for input (latency vs. requests)', '100', int(1, 60_000)),
  TOKENWATCH_FETCH_MAX_BYTES: envVar('most bytes one fetch returns per partition (one batch); output does not depend on it', '262144', int(1_024, 64 * 1024 * 1024)),
  TOKENWATCH_INSTANCE_ID: envVar(
    'id of this instance: its Kafka client id (tokenwatch-<id>), so the group shows which instance owns which partitions; unique per instance',
    hostname(),
    (raw) => (/^[A-Za-z0-9._-]{1,128}$/.test(raw) ? raw : expected('letters, digits, ".", "_" or "-" (at most 128)')),
    { shownDefault: 'the host name' },
  ),
  TOKENWATCH_SESSION_TIMEOUT_MS: envVar(
    'consumer group session timeout: how long a killed instance keeps its partitions before they move to another (the broker accepts group.min/max.session.timeout.ms, 6 s – 30 min by default)',
    '8000',
    int(1_000, 3_600_000),
  ),
  TOKENWATCH_HEARTBEAT_MS: envVar('consumer heartbeat interval (at most a third of the session timeout)', '2000', int(100, 1_200_000)),
  TOKENWATCH_REKEY: envVar(
    're-key through tokenwatch.<group>.repartition: auto = the messages not keyed by the producer contract (cred.sid ?? cred.sub ?? cred.key_id ?? cred.fp), true = every message, false = none (trust the keying)',
    'auto',
    (raw): RekeyMode =>
      /^auto$/i.test(raw) ? 'auto' : /^(1|true|yes|on)$/i.test(raw) ? 'all' : /^(0|false|no|off)$/i.test(raw) ? 'off' : expected('auto, true or false'),
  ),
  TOKENWATCH_STATE_FLUSH_MS: envVar('how often detector state goes to the changelog with the input offsets (one transaction)', '1000', int(10, 600_000)),
  TOKENWATCH_MAX_KEYS_PER_DETECTOR: envVar('cap on tracked keys per detector over the whole input: each task (source partition) holds at most its share, cap / partitions, least recently used evicted first', '200000', int(100, 100_000_000)),
  TOKENWATCH_CONTROL_TOPIC: envVar('compacted control topic (circuit-breaker state shared by all instances, `tokenwatch breaker-reset`)', 'tokenwatch.control', topic),
  TOKENWATCH_SET_TOPIC: envVar('also publish each revocation as a Security Event Token (RFC 8417) to this topic; empty = off', '', (raw) =>
    raw === '' || TOPIC.test(raw) ? raw : expected(`empty (off) or ${TOPIC_EXPECTED}`),
  ),
  TOKENWATCH_SET_ISSUER: envVar('`iss` of the SETs (a string or URI)', 'urn:tokenwatch', stringOrUri),
  TOKENWATCH_SET_AUDIENCE: envVar('`aud` of the SETs, comma-separated; empty = no aud claim', '', (raw) => csv(raw).map(stringOrUri)),
  TOKENWATCH_SET_SUBJECT_ISSUER: envVar('issuer of the subjects (your IdP); when set, subjects are iss_sub identifiers in SETs, else opaque', '', (raw) =>
    raw === '' ? undefined : stringOrUri(raw),
  ),
  TOKENWATCH_SET_SIGNING_KEY: optionalVar('signs SETs: PEM private key (EC P-256 → ES256, RSA → RS256), HMAC secret ≥ 32 bytes (HS256), or a path to either; unsigned (alg none) when unset; never logged', (raw) => SetSigner.fromSetting(raw, 'TOKENWATCH_SET_SIGNING_KEY'),
    { secret: true },
  ),
  TOKENWATCH_BRIDGE_LISTEN: envVar('host:port of `tokenwatch denylist-server` (GET /v1/check, /healthz, /readyz, /metrics)', '127.0.0.1:8089', listen),
  TOKENWATCH_COMPRESSION: envVar(
    'record-batch compression of our internal topics (state changelog, repartition): none, gzip, snappy, lz4 or zstd',
    'zstd',
    codec,
  ),
  TOKENWATCH_OUTPUT_COMPRESSION: envVar(
    'record-batch compression of what gateways and other tools read (denylist, DLQ, SETs, control): none, gzip, snappy, lz4 or zstd',
    'none',
    codec,
  ),
  LOG_LEVEL: envVar('pino log level', 'info', (raw) =>
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(raw) ? raw : expected('one of fatal, error, warn, info, debug, trace, silent'),
  ),
});

export type Env = z.output<typeof EnvSchema>;

/** Every environment setting, in the schema's order (the README and `--help` list these). */
export const ENV_SETTINGS: readonly EnvSetting[] = Object.entries(EnvSchema.shape).map(([name, schema]) => {
  const meta = (schema.meta() ?? {}) as { description?: string; default?: string };
  return { name, description: meta.description ?? '', ...(meta.default !== undefined ? { default: meta.default } : {}) };
});
