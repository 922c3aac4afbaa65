/**
 * Re-keying (DESIGN §3): input produced without the keying contract (random partitions), two
 * instances in one group; with TOKENWATCH_REKEY the events of one credential still meet at one
 * owner, so the attack is detected exactly once and the source offsets point at the input.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { T0, teardown, testEnv } from '../support/services.js';
import { produce, readTopic } from '../support/kafka.js';
import { alertRows } from '../support/clickhouse.js';
import { startProcessor } from '../support/processes.js';
import { waitFor } from '../support/waiting.js';
import { replayAttack } from '../fixtures/events.js';
import { repartitionTopic, routingKey } from '../../src/pipeline/index.js';

afterAll(teardown);

describe('re-keying through tokenwatch.<group>.repartition', () => {
  it('routes by tenant and the first of sub, sid, key_id, fp', () => {
    const v = (o: object) => Buffer.from(JSON.stringify(o));
    expect(routingKey(v({ tenant: 'acme', cred: { sub: 'u1', sid: 's1', fp: 'tfp1:x' } }))).toBe('acme|u1');
    expect(routingKey(v({ cred: { key_id: 'k1', fp: 'tfp1:x' } }))).toBe('|k1');
    expect(routingKey(v({ cred: {} }))).toBeNull();
    expect(routingKey(Buffer.from('not json'))).toBeNull();
  });

  it('two instances, randomly partitioned input: the replay attack is found once, with input offsets as its source', async () => {
    const env = await testEnv('rekey', { TOKENWATCH_REKEY: 'true', TOKENWATCH_INPUT_PARTITIONS: '4' });
    await startProcessor(env);
    await startProcessor(env);
    const fp = 'tfp1:rekeyAttacked000000001';
    const events = replayAttack(fp, T0 + 3_600_000, 'rk');
    // no key: the producer spreads the attack's events over the partitions
    for (const e of events) await produce(env, env.input, [{ key: `noise-${Math.random()}`, value: JSON.stringify(e) }]);
    const rows = await waitFor(async () => {
      const r = await alertRows(env, `detector = 'multi_ip_replay'`);
      return r.length ? r : undefined;
    }, 45_000, 'the alert through the repartition topic');
    expect(rows).toHaveLength(1);
    expect(String(rows[0]!.source).startsWith(`${env.input}/`)).toBe(true);
    const deny = await waitFor(async () => {
      const d = await readTopic(env, env.denylist);
      return d.length ? d : undefined;
    }, 20_000, 'the denylist record');
    expect(deny.map((d) => d.key)).toEqual([`token:${fp}`]);
    const partitions = new Set((await readTopic(env, env.input)).map((m) => m.partition));
    expect(partitions.size).toBeGreaterThan(1);
    const forwarded = await readTopic(env, repartitionTopic(env.group));
    expect(new Set(forwarded.map((m) => m.partition)).size).toBe(1);
  });
});
