/**
 * Re-keying (DESIGN §3): input produced without the keying contract (random partitions), two
 * instances in one group; with TOKENWATCH_REKEY=true (a re-keying stage for every message) and
 * with the default auto (the detect stage forwards the messages not keyed by the contract; here
 * produced by kcat without keys, lz4) the events of one credential still meet at one task, so the
 * attack is detected exactly once and the source offsets point at the input.
 */
import { execFileSync } from 'node:child_process';
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
  it('keys the repartition topic by a hash of tenant and the first of sub, sid, key_id, fp: equal rules, equal keys; no raw id', () => {
    const k = (tenant: string | undefined, cred: Record<string, string>) => routingKey({ tenant, cred: { type: 'access_token', fp: 'tfp1:AAAAAAAAAAAAAAAAAAAAAA', ...cred } } as never);
    const a = k('acme', { sub: 'u1', sid: 's1' });
    expect(a).toMatch(/^rk1:[A-Za-z0-9_-]{43}$/);
    expect(a).toBe(k('acme', { sub: 'u1', sid: 'other' }));
    expect(a).not.toBe(k('globex', { sub: 'u1' }));
    expect(k(undefined, { key_id: 'k1' })).toBe(k(undefined, { key_id: 'k1', fp: 'tfp1:BBBBBBBBBBBBBBBBBBBBBB' }));
    expect(a).not.toContain('u1');
  });

  it.each(['true', 'auto'])('TOKENWATCH_REKEY=%s, two instances, randomly partitioned input: the replay attack is found once, with input offsets as its source', async (mode) => {
    const env = await testEnv(`rekey-${mode}`, { ...(mode === 'auto' ? {} : { TOKENWATCH_REKEY: mode }), TOKENWATCH_INPUT_PARTITIONS: '4' });
    await startProcessor(env);
    await startProcessor(env);
    const fp = `tfp1:rekeyAttacked${mode === 'auto' ? 'Auto' : '0000'}00001`;
    const events = replayAttack(fp, T0 + 3_600_000, `rk${mode}`);
    if (mode === 'auto') {
      // kcat without -K: no key, librdkafka's partitioner spreads the messages over the partitions
      execFileSync('kcat', ['-P', '-b', env.ep.brokers, '-t', env.input, '-z', 'lz4', '-X', 'topic.partitioner=random'], { input: events.map((e) => JSON.stringify(e)).join('\n') + '\n', timeout: 30_000 });
    } else {
      // keys that are not the contract's: the producer spreads the attack's events over the partitions
      for (const e of events) await produce(env, env.input, [{ key: `noise-${Math.random()}`, value: JSON.stringify(e) }]);
    }
    // stage one decodes: a bad line and a raw JWT in an identifying field are dead-lettered there, a
    // JWT in the user agent is redacted and the event forwarded; none of them reaches the repartition topic raw
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJyZWtleS10aGllZiJ9.c2lnbmF0dXJlLXJla2V5LTAwMDAwMDAwMQ';
    const base = events[0]!;
    await produce(env, env.input, [
      { key: 'bad', value: '{"v":1,' },
      { key: 'sub', value: JSON.stringify({ ...base, id: 'rk-secret-sub', cred: { ...base.cred, sub: jwt } }) },
      { key: 'ua', value: JSON.stringify({ ...base, id: 'rk-secret-ua', ts: Number(base.ts) + 1, ua: `curl Bearer ${jwt}` }) },
    ]);
    const rows = await waitFor(async () => {
      const r = await alertRows(env, `detector = 'multi_ip_replay'`);
      return r.length ? r : undefined;
    }, 45_000, 'the alert through the repartition topic');
    await new Promise((r) => setTimeout(r, 1_000)); // a second alert would show by now
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
    const attack = forwarded.filter((m) => m.value?.includes(fp));
    expect(attack.length).toBe(events.length + 1); // the redacted-UA event is forwarded too
    expect(new Set(attack.map((m) => m.partition)).size).toBe(1);
    for (const m of forwarded) {
      expect(m.key).toMatch(/^rk1:/);
      expect(m.value).not.toContain('eyJ');
      expect(m.key).not.toContain('user-42');
    }
    expect(forwarded.some((m) => m.value?.includes('[REDACTED'))).toBe(true);
    const dlq = await waitFor(async () => {
      const d = await readTopic(env, env.dlq);
      return d.length >= 3 ? d : undefined;
    }, 20_000, 'three DLQ records from the stage that forwards');
    const reasons = dlq.map((d) => JSON.parse(d.value!) as { reason: string; source: { topic: string } });
    expect(reasons.map((r) => r.reason).sort()).toEqual(['not_json', 'secret_jwt', 'secret_jwt']);
    expect(reasons.every((r) => r.source.topic === env.input)).toBe(true);
    for (const d of dlq) expect(d.value).not.toContain(jwt.split('.')[1]);
  });
});
