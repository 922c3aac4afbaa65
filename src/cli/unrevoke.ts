/**
 * `tokenwatch unrevoke <scope:id> --reason TEXT`: lifts a revocation by writing a tombstone (same
 * key, null value) to the denylist topic, and records the lift as an alert row so the audit trail
 * in ClickHouse shows who lifted what and why.
 */
import { parseArgs } from 'node:util';
import { TokenwatchError } from '../../schemas/errors.js';
import type { AlertRow } from '../../schemas/alert.js';
import { parseDenylistKey, REVOCATION_SCOPES, type RevocationScope } from '../../schemas/denylist.js';
import { operationalAlert } from '../respond/alerts.js';
import { excerpt } from '../ingest/guard.js';
import { denylistTopicSpec } from '../pipeline/index.js';
import { withServices } from './shared.js';

/** Parses `<scope>:<id>`; throws USAGE naming what was expected (the input shown redacted). */
export function parseRevocationKey(s: string | undefined): { scope: RevocationScope; id: string } {
  const parsed = parseDenylistKey(s);
  if (!parsed) {
    throw new TokenwatchError('USAGE', `expected <scope>:<id> with scope one of ${REVOCATION_SCOPES.join(', ')} (e.g. token:tfp1:AbC…), got "${excerpt(s ?? '', 80)}"`);
  }
  return parsed;
}

/** The alert row that records a lift. */
export function unrevokeRow(key: string, reason: string, actor: string, nowMs: number, tenant = ''): AlertRow {
  const { scope, id } = parseRevocationKey(key);
  return operationalAlert({
    idParts: ['unrevoke/v1', key, String(nowMs)],
    detector: 'unrevoke',
    severity: 'low',
    summary: `Revocation ${key} lifted by ${actor}: ${reason}`,
    evidence: { key, reason, actor },
    nowMs,
    tenant,
    subject: scope === 'subject' ? id : undefined,
    credentialFp: scope === 'token' ? id : undefined,
    keyId: scope === 'api_key' ? id : undefined,
    sessionId: scope === 'family' ? id : undefined,
  });
}

export async function unrevoke(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { reason: { type: 'string' }, tenant: { type: 'string' }, actor: { type: 'string' } },
  });
  const key = positionals[0];
  parseRevocationKey(key);
  const reason = values.reason?.trim();
  if (!reason) throw new TokenwatchError('USAGE', 'unrevoke needs --reason "why the revocation is lifted" (it is recorded in ClickHouse)');
  await withServices(async ({ config, bus, store }) => {
    // created compacted here too: a tombstone written before the processor ever ran must not
    // make Kafka auto-create the denylist as a plain (deleting) topic
    await bus.ensureTopics([denylistTopicSpec(config.topics.denylist)]);
    const producer = await bus.producer();
    await producer.send([{ topic: config.topics.denylist, key: key!, value: null }]);
    await producer.close();
    const actor = values.actor ?? process.env.USER ?? 'cli';
    await store.insertAlerts([unrevokeRow(key!, reason, actor, Date.now(), values.tenant ?? '')]);
    process.stdout.write(`lifted ${key}: tombstone written to ${config.topics.denylist}, recorded in ${config.clickhouse.database}.alerts\n`);
  });
}
