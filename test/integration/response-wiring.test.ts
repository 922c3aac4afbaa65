/**
 * The processor side of SETs and of the shared circuit-breaker state: needs the pipeline wiring
 * described in docs/response.md ("Wiring") — `setBusRecord` per published revocation,
 * `breakerOpenRecord` on a trip, and a `BreakerControl` followed before consuming.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { teardown, testEnv, type TestEnv } from '../support/services.js';
import { readTopic } from '../support/kafka.js';
import { alertRows } from '../support/clickhouse.js';
import { runCli, startProcessor } from '../support/processes.js';
import { waitCommittedToEnd, waitFor } from '../support/waiting.js';
import { attacks, fp } from './attacks.js';
import { RISC_CREDENTIAL_COMPROMISE, decodeSet, setJti, verifySet } from '../../src/respond/set.js';
import { BREAKER_CONTROL_KEY, parseBreakerRecord } from '../../src/respond/breaker-control.js';

const SET_KEY = 'set-signing-secret-for-tests-0000000001';

afterEach(teardown);

async function setEnv(name: string, extra: NodeJS.ProcessEnv = {}): Promise<TestEnv> {
  const base = await testEnv(name);
  return testEnv(name, {
    TOKENWATCH_SET_TOPIC: `set.${base.input.slice(3)}`,
    TOKENWATCH_SET_ISSUER: 'https://tokenwatch.example.com/',
    TOKENWATCH_SET_AUDIENCE: 'https://idp.example.com/',
    TOKENWATCH_SET_SIGNING_KEY: SET_KEY,
    TOKENWATCH_CONTROL_TOPIC: `ctl.${base.input.slice(3)}`,
    ...extra,
  });
}

describe('processor wiring: SETs and the shared breaker state', () => {
  it('publishes one signed SET per published revocation, none in shadow mode', async () => {
    const env = await setEnv('set');
    const running = await startProcessor(env);
    const fps = await attacks(env, 'set', 0, 2);
    await waitFor(async () => (await readTopic(env, env.config.set.topic)).length === 2, 30_000, 'two SETs');
    const deny = await readTopic(env, env.denylist);
    const sets = await readTopic(env, env.config.set.topic);
    expect(sets.map((s) => s.key).sort()).toEqual(fps.map((f) => `token:${f}`).sort());
    for (const s of sets) {
      expect(s.headers['content-type']).toBe('application/secevent+jwt');
      const claims = verifySet(s.value!, SET_KEY);
      const rec = JSON.parse(deny.find((d) => d.key === s.key)!.value!);
      expect(claims).toMatchObject({ iss: 'https://tokenwatch.example.com/', aud: 'https://idp.example.com/', jti: setJti(rec.revocation_id), txn: rec.alert_id, sub_id: { format: 'opaque', id: rec.id } });
      expect(claims.events[RISC_CREDENTIAL_COMPROMISE]).toMatchObject({ credential_type: 'bearer-token' });
      expect(decodeSet(s.value!).header.alg).toBe('HS256');
    }
    await running.stop();

    const shadowEnv = await setEnv('setshd', { TOKENWATCH_SHADOW: 'true' });
    await startProcessor(shadowEnv);
    await attacks(shadowEnv, 'shd', 0, 1);
    await waitFor(async () => (await alertRows(shadowEnv, `action = 'shadow_revoke'`)).length === 1, 30_000, 'the shadow_revoke row');
    await waitCommittedToEnd(shadowEnv, 30_000);
    expect(await readTopic(shadowEnv, shadowEnv.config.set.topic)).toEqual([]);
    expect(await readTopic(shadowEnv, shadowEnv.denylist)).toEqual([]);
  });

  it('a trip is shared through the control topic and survives a restart; `tokenwatch breaker-reset` resumes revocations', async () => {
    const env = await setEnv('ctl', { TOKENWATCH_SET_TOPIC: '' });
    const response = { ...env.config.response, breaker: { maxRevocationsPerMin: 2, maxRevocationsPerTenantPerMin: 100, coolDownSec: 600 } };
    let running = await startProcessor(env, { response });
    await attacks(env, 'ctl', 0, 3);
    await waitFor(async () => (await alertRows(env, `detector = 'revocation_breaker'`)).length === 1, 30_000, 'the breaker alert');
    await waitCommittedToEnd(env, 30_000);
    const control = await readTopic(env, env.config.topics.control);
    expect(control.map((c) => c.key)).toEqual([BREAKER_CONTROL_KEY]);
    expect(parseBreakerRecord(control[0]!.value)).toMatchObject({ state: 'open', trip: { scope: 'global', limit: 2 } });

    // a restarted instance comes back alert-only
    await running.stop();
    running = await startProcessor(env, { response });
    expect(running.processor.core.policy.breaker.status.open).toBe(true);
    await attacks(env, 'ctl', 3, 1);
    await waitFor(async () => (await alertRows(env, `credential_fp = '${fp('ctl', 3)}'`)).length === 1, 30_000, 'the alert after the restart');
    const afterRestart = (await alertRows(env, `credential_fp = '${fp('ctl', 3)}'`))[0]!;
    expect(afterRestart.action).toBe('alert');
    expect(JSON.parse(String(afterRestart.evidence)).policy.join(' ')).toMatch(/circuit breaker open/);

    const out = await runCli(env, ['breaker-reset', '--reason', 'burst was a test', '--actor', 'it-test']);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/breaker reset \(it was open since/);
    await waitFor(() => !running.processor.core.policy.breaker.status.open, 5_000, 'the breaker to close');
    expect(running.metrics.value('tokenwatch_breaker_open')).toBe(0);
    const reset = await alertRows(env, `detector = 'breaker_reset'`);
    expect(reset).toHaveLength(1);
    expect(reset[0]!.summary).toMatch(/reset by it-test: burst was a test/);

    await attacks(env, 'ctl', 4, 1);
    await waitFor(async () => (await readTopic(env, env.denylist)).some((d) => d.key === `token:${fp('ctl', 4)}`), 30_000, 'a revocation after the reset');
    expect((await readTopic(env, env.denylist)).map((d) => d.key).sort()).toEqual([0, 1, 4].map((i) => `token:${fp('ctl', i)}`).sort());
  });
});
