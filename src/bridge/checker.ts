/**
 * The denylist check shared by `tokenwatch denylist-server` and by Node services that check in
 * process: follows the denylist topic into a {@link DenylistStore} and answers "is this request's
 * credential revoked?". Raw credentials are fingerprinted with the shared tfp1 key and dropped at
 * once: never stored, never logged.
 */
import type { Bus, BusMessage } from '../io/bus.js';
import { crashFix, kafkaBus } from '../io/kafka.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { Metrics } from '../telemetry/metrics.js';
import { fingerprint } from '../../schemas/fingerprint.js';
import { describeError, TokenwatchError } from '../../schemas/errors.js';
import { denylistTopicSpec } from '../../schemas/denylist.js';
import { DenylistStore, type CheckQuery, type CheckResult } from './store.js';
import { TopicFollower } from '../io/follower.js';
import { METRICS } from '../telemetry/catalogue.js';

/**
 * What a request presents. Every field is optional and may repeat (a header sent twice); the
 * request is denied when any identifier is revoked.
 */
export interface CheckInput {
  /** `Authorization` header value(s), e.g. `Bearer eyJ…`; fingerprinted with the fp key */
  authorization?: string | string[];
  /** `X-API-Key` header value(s); fingerprinted with the fp key */
  apiKey?: string | string[];
  /** `X-Tokenwatch-Fp`: tfp1 fingerprint(s) the gateway computed */
  fp?: string | string[];
  /** `X-Tokenwatch-Sid`: session / token-family id */
  sid?: string | string[];
  /** `X-Tokenwatch-Key-Id`: public API-key id */
  keyId?: string | string[];
  /** `X-Tokenwatch-Sub`: subject (evaluated together with `iat`) */
  sub?: string | string[];
  /** `X-Tokenwatch-Iat`: the credential's issued-at, epoch seconds */
  iat?: number | string | string[];
}

export interface DenylistCheckerOptions {
  /** Kafka bootstrap brokers: an array or `host:port[,host:port]` */
  brokers: string[] | string;
  /** the denylist topic (default `auth.denylist`) */
  topic?: string;
  /** the shared tfp1 key (≥ 16 bytes); without it only fingerprints / ids are checked */
  fpKey?: string;
  /** Kafka client id (default `tokenwatch-bridge`) */
  clientId?: string;
  /** logger (default: a tokenwatch pino logger at `warn`) */
  log?: Logger;
  /** metrics registry to record into (default: a private one) */
  metrics?: Metrics;
  /** a Bus instead of brokers (tests, the CLI); closed by its owner */
  bus?: CheckerBus;
  /** clock, for tests */
  now?: () => number;
  /** how often expired entries are swept from memory, ms (default 1000) */
  sweepIntervalMs?: number;
  /** the follower's consumer group session timeout and heartbeat, ms (TOKENWATCH_SESSION_TIMEOUT_MS / TOKENWATCH_HEARTBEAT_MS) */
  group?: { sessionTimeoutMs: number; heartbeatMs: number };
}

export interface DenylistChecker {
  /** resolves once the whole topic was read (checks before that see a partial denylist) */
  readonly ready: Promise<void>;
  isReady(): boolean;
  /** rejects with CONSUMER_CRASHED when the follower stopped for good (the denylist no longer updates) */
  readonly dead: Promise<never>;
  /** synchronous, in-memory: deny when any identifier of the request is revoked */
  check(input: CheckInput): CheckResult;
  /** active entries */
  readonly size: number;
  close(): Promise<void>;
}

/** The part of the Bus the checker uses. */
export type CheckerBus = Pick<Bus, 'ping' | 'ensureTopics' | 'consumer' | 'endOffsets' | 'close'>;

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Header values, plus their comma-separated parts (proxies join repeated headers with ", "). */
function idValues(v: string | string[] | undefined): string[] {
  const out = new Set<string>();
  for (const raw of list(v)) {
    const whole = raw.trim();
    if (whole) out.add(whole);
    if (raw.includes(',')) for (const part of raw.split(',')) if (part.trim()) out.add(part.trim());
  }
  return [...out];
}

/** The smallest valid issued-at of the request (the most conservative one). */
function iatOf(v: number | string | string[] | undefined): number | undefined {
  const vals = typeof v === 'number' ? [v] : idValues(v).map(Number);
  const ok = vals.filter((n) => Number.isInteger(n) && n >= 0);
  return ok.length ? Math.min(...ok) : undefined;
}

/**
 * Reduces a request to identifiers. Raw credentials are fingerprinted when a key is given;
 * `unfingerprinted` counts raw credentials that could not be (no key).
 */
export function toQuery(input: CheckInput, fpKey: string | undefined): CheckQuery & { unfingerprinted: number } {
  const fps = new Set(idValues(input.fp));
  let unfingerprinted = 0;
  for (const raw of [...list(input.authorization), ...list(input.apiKey)]) {
    if (!raw.trim()) continue;
    if (!fpKey) {
      unfingerprinted++;
      continue;
    }
    try {
      fps.add(fingerprint(raw, fpKey));
    } catch {
      // an empty credential after its scheme ("Bearer "): nothing to check
    }
  }
  return {
    fps: [...fps],
    sids: idValues(input.sid),
    keyIds: idValues(input.keyId),
    subs: idValues(input.sub),
    iatSec: iatOf(input.iat),
    unfingerprinted,
  };
}

/**
 * Creates a checker that follows the denylist topic. Start-up errors (Kafka unreachable) reject
 * `ready`.
 *
 * ```ts
 * const checker = createDenylistChecker({ brokers: 'kafka:9092', fpKey: process.env.TOKENWATCH_FP_KEY });
 * await checker.ready;
 * const r = checker.check({ authorization: req.headers.authorization });
 * if (!r.allow) res.status(403).json({ revocation_id: r.revocation_id, scope: r.scope, reason: r.reason });
 * ```
 */
export function createDenylistChecker(opts: DenylistCheckerOptions): DenylistChecker {
  if (opts.fpKey !== undefined && Buffer.byteLength(opts.fpKey) < 16) {
    throw new TokenwatchError('CONFIG_INVALID', 'TOKENWATCH_FP_KEY (fpKey) must be at least 16 bytes long (value not shown)');
  }
  const topic = opts.topic ?? 'auth.denylist';
  const now = opts.now ?? Date.now;
  const log = opts.log ?? createLogger({ level: 'warn', name: 'tokenwatch-bridge' });
  const metrics = opts.metrics ?? new Metrics();
  const brokers = Array.isArray(opts.brokers) ? opts.brokers : opts.brokers.split(',').map((b) => b.trim()).filter(Boolean);
  const ownBus = !opts.bus;
  const bus: CheckerBus = opts.bus ?? kafkaBus(brokers, opts.clientId ?? 'tokenwatch-bridge', log);
  const store = new DenylistStore();
  let expiredSeen = 0;

  const publishGauges = () => {
    for (const [scope, n] of Object.entries(store.countsByScope())) metrics.set(METRICS.bridge_entries, { scope }, n);
    if (store.expiredDropped > expiredSeen) {
      metrics.inc(METRICS.bridge_expired_total, {}, store.expiredDropped - expiredSeen);
      expiredSeen = store.expiredDropped;
    }
    metrics.set(METRICS.bridge_lag, {}, follower.lag());
  };

  const onMessage = (m: BusMessage) => {
    const t = now();
    const outcome = store.apply(m.key, m.value, t);
    metrics.inc(METRICS.bridge_records_total, { outcome });
    if (outcome === 'invalid') log.warn({ topic, offset: m.offset }, 'ignored a denylist record that is not a valid v1 record for its key');
    const published = Number(m.timestamp);
    if (Number.isFinite(published)) metrics.set(METRICS.bridge_apply_delay_ms, {}, Math.max(0, t - published));
  };

  let failDead!: (e: Error) => void;
  const dead = new Promise<never>((_, reject) => {
    failDead = reject;
  });
  dead.catch(() => undefined);
  const onCrash = (err: Error, restart: boolean) => {
    metrics.inc(METRICS.bridge_follower_crashes_total, { restart: String(restart) });
    metrics.set(METRICS.bridge_ready, {}, 0);
    if (!restart) failDead(new TokenwatchError('CONSUMER_CRASHED', `the denylist follower stopped and will not restart: ${describeError(err)} — fix: ${crashFix(err)}`, { cause: err }));
  };
  const follower = new TopicFollower({ bus, topic, groupPrefix: 'tokenwatch-bridge', group: opts.group, log, onMessage, onCrash });
  metrics.set(METRICS.bridge_ready, {}, 0);
  publishGauges();

  const sweeper = setInterval(() => {
    store.sweep(now());
    publishGauges();
  }, opts.sweepIntervalMs ?? 1_000);
  sweeper.unref();

  const ready = (async () => {
    await bus.ping();
    // created compacted when the bridge runs before the processor (same spec as `tokenwatch run`)
    await bus.ensureTopics([denylistTopicSpec(topic)]);
    await follower.start();
    await follower.caughtUp;
    metrics.set(METRICS.bridge_ready, {}, 1);
    publishGauges();
  })();
  ready.catch(() => undefined);

  return {
    ready,
    dead,
    // fail closed: before catch-up, and whenever the follower is not reading (crashed or gone)
    isReady: () => follower.isCaughtUp() && follower.isAlive(),
    get size() {
      return store.size;
    },
    check(input) {
      const q = toQuery(input, opts.fpKey);
      if (q.unfingerprinted) metrics.inc(METRICS.bridge_unfingerprinted_total, {}, q.unfingerprinted);
      const r = store.check(q, now());
      metrics.inc(METRICS.bridge_checks_total, { result: r.allow ? (r.identifiers ? 'allow' : 'no_identifier') : 'deny' });
      return r;
    },
    async close() {
      clearInterval(sweeper);
      await follower.stop();
      if (ownBus) await bus.close();
    },
  };
}
