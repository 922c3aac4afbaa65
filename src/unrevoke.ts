/**
 * `tokenwatch unrevoke <scope:id> --reason TEXT`: lifts a revocation by writing a tombstone (same
 * key, null value) to the denylist topic, and records the lift as an alert row so the audit trail
 * in ClickHouse shows who lifted what and why.
 */
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { detectors } from '../detectors/index.js';
import { loadConfig } from './config.js';
import { createLogger } from './log.js';
import { TokenwatchError } from './errors.js';
import { kafkaBus } from './kafka.js';
import { AlertStore, chDateTime, KEEP_FIRST_BASE, type AlertRow } from './clickhouse.js';
import { excerpt } from './guard.js';

export const REVOCATION_SCOPES = ['token', 'family', 'api_key', 'subject'] as const;

/** Parses `<scope>:<id>`; throws USAGE naming what was expected. */
export function parseRevocationKey(s: string | undefined): { scope: (typeof REVOCATION_SCOPES)[number]; id: string } {
  const m = s?.match(/^([a-z_]+):(.+)$/);
  const scope = m?.[1] as (typeof REVOCATION_SCOPES)[number] | undefined;
  if (!m || !scope || !REVOCATION_SCOPES.includes(scope) || !m[2]!.trim()) {
    throw new TokenwatchError('USAGE', `expected <scope>:<id> with scope one of ${REVOCATION_SCOPES.join(', ')} (e.g. token:tfp1:AbC…), got "${excerpt(s ?? '', 80)}"`);
  }
  return { scope, id: m[2]! };
}

/** The alert row that records a lift. */
export function unrevokeRow(key: string, reason: string, actor: string, nowMs: number, tenant = ''): AlertRow {
  const { scope, id } = parseRevocationKey(key);
  return {
    alert_id: createHash('sha256').update(`unrevoke/v1\u0000${key}\u0000${nowMs}`).digest('hex').slice(0, 32),
    detector: 'unrevoke',
    severity: 'low',
    action: 'alert',
    event_time: chDateTime(nowMs),
    event_time_ms: nowMs,
    detected_at: chDateTime(nowMs),
    tenant,
    subject: scope === 'subject' ? id : '',
    credential_type: '',
    credential_fp: scope === 'token' ? id : '',
    key_id: scope === 'api_key' ? id : '',
    session_id: scope === 'family' ? id : '',
    ips: [],
    countries: [],
    asns: [],
    summary: `Revocation ${key} lifted by ${actor}: ${reason}`,
    evidence: JSON.stringify({ key, reason, actor }),
    revocation_ids: [],
    source: '',
    keep_first: KEEP_FIRST_BASE - nowMs,
  };
}

export async function unrevoke(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { reason: { type: 'string' }, tenant: { type: 'string' }, actor: { type: 'string' } },
  });
  const key = positionals[0];
  parseRevocationKey(key);
  if (!values.reason?.trim()) throw new TokenwatchError('USAGE', 'unrevoke needs --reason "why the revocation is lifted" (it is recorded in ClickHouse)');
  const config = loadConfig(detectors);
  const log = createLogger({ level: config.logLevel });
  const bus = kafkaBus(config.kafka.brokers, config.kafka.clientId, log);
  const store = new AlertStore(config.clickhouse, log);
  try {
    await bus.ping();
    await store.ping();
    await store.migrate(365);
    // created compacted here too: a tombstone written before the processor ever ran must not
    // make Kafka auto-create the denylist as a plain (deleting) topic
    await bus.ensureTopics([{ topic: config.topics.denylist, partitions: 3, compacted: true }]);
    const producer = await bus.producer();
    await producer.send([{ topic: config.topics.denylist, key: key!, value: null }]);
    await producer.close();
    const actor = values.actor ?? process.env.USER ?? 'cli';
    await store.insertAlerts([unrevokeRow(key!, values.reason, actor, Date.now(), values.tenant ?? '')]);
    process.stdout.write(`lifted ${key}: tombstone written to ${config.topics.denylist}, recorded in ${config.clickhouse.database}.alerts\n`);
  } finally {
    await bus.close();
    await store.close();
  }
}
