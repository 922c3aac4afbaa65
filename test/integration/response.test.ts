/**
 * Response and revocation on the real broker and server: the circuit breaker, shadow mode,
 * unrevoke through the CLI, and the gateway bridge following what the processor publishes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { teardown, testEnv } from '../support/services.js';
import { readTopic } from '../support/kafka.js';
import { alertRows } from '../support/clickhouse.js';
import { bridgeStatus, runCli, startBridge, startProcessor } from '../support/processes.js';
import { waitCommittedToEnd, waitFor } from '../support/waiting.js';
import { attacks, fp } from './attacks.js';

afterEach(teardown);

describe('response policy on real Kafka and ClickHouse', () => {
  it('a burst over the cap trips the breaker: a critical revocation_breaker row, alert-only past the cap, nothing past the cap published', async () => {
    const env = await testEnv('brk');
    const running = await startProcessor(env, {
      response: { ...env.config.response, breaker: { maxRevocationsPerMin: 3, maxRevocationsPerTenantPerMin: 100, coolDownSec: 600 } },
    });
    const fps = await attacks(env, 'brk', 0, 6);
    await waitFor(async () => (await alertRows(env, `detector = 'multi_ip_replay'`)).length === 6, 30_000, 'six replay alerts');
    await waitCommittedToEnd(env, 30_000);

    const breaker = await alertRows(env, `detector = 'revocation_breaker'`);
    expect(breaker).toHaveLength(1);
    expect(breaker[0]).toMatchObject({ severity: 'critical', action: 'alert' });
    expect(String(breaker[0]!.summary)).toMatch(/4 revocations in a minute, limit 3/);

    const rows = await alertRows(env, `detector = 'multi_ip_replay'`);
    const byFp = new Map(rows.map((r) => [String(r.credential_fp), r]));
    expect(fps.slice(0, 3).map((f) => byFp.get(f)?.action)).toEqual(['revoke', 'revoke', 'revoke']);
    expect(fps.slice(3).map((f) => byFp.get(f)?.action)).toEqual(['alert', 'alert', 'alert']);
    for (const f of fps.slice(3)) {
      const ev = JSON.parse(String(byFp.get(f)!.evidence));
      expect(ev.policy.join(' ')).toMatch(/circuit breaker (tripped|open)/);
      expect(ev.would_revoke).toEqual([`token:${f}`]);
      expect(byFp.get(f)!.revocation_ids).toEqual([]);
    }

    const deny = await readTopic(env, env.denylist);
    expect(deny.map((d) => d.key).sort()).toEqual(fps.slice(0, 3).map((f) => `token:${f}`).sort());
    expect(deny.map((d) => JSON.parse(d.value!).revocation_id).sort()).toEqual(fps.slice(0, 3).flatMap((f) => byFp.get(f)!.revocation_ids as string[]).sort());
    expect(running.metrics.value('tokenwatch_breaker_open')).toBe(1);
    expect(running.metrics.value('tokenwatch_breaker_trips_total', { scope: 'global' })).toBe(1);
  });

  it('shadow mode writes shadow_revoke rows with the would-be revocations and publishes nothing', async () => {
    const env = await testEnv('shd');
    const running = await startProcessor(env, { shadow: true });
    const fps = await attacks(env, 'shd', 0, 2);
    await waitFor(async () => (await alertRows(env, `detector = 'multi_ip_replay'`)).length === 2, 30_000, 'two replay alerts');
    await waitCommittedToEnd(env, 30_000);

    const rows = await alertRows(env, `detector = 'multi_ip_replay'`);
    expect(rows.map((r) => r.action)).toEqual(['shadow_revoke', 'shadow_revoke']);
    for (const r of rows) {
      expect((r.revocation_ids as string[]).length).toBe(1);
      const ev = JSON.parse(String(r.evidence));
      expect(ev.would_revoke).toEqual([`token:${r.credential_fp}`]);
      expect(ev.policy.join(' ')).toMatch(/shadow mode/);
    }
    expect(rows.map((r) => r.credential_fp).sort()).toEqual([...fps].sort());
    expect(await readTopic(env, env.denylist)).toEqual([]);
    expect(running.metrics.value('tokenwatch_findings_total', { detector: 'multi_ip_replay', action: 'shadow_revoke' })).toBe(2);
  });

  it('the bridge denies a token within a second of the processor publishing it; `tokenwatch unrevoke` lifts it (tombstone + alert row) and the bridge allows it again', async () => {
    const env = await testEnv('unr');
    await startProcessor(env);
    const { url } = await startBridge(env);
    const f = fp('unr', 0);
    const headers = { 'x-tokenwatch-fp': f, 'x-tokenwatch-sid': 'not-revoked-session' };
    expect(await bridgeStatus(url, headers)).toBe(204);
    await attacks(env, 'unr', 0, 1);

    const deniedAt = await waitFor(async () => ((await bridgeStatus(url, headers)) === 403 ? Date.now() : undefined), 30_000, 'the bridge to deny the revoked token');
    const [published] = await readTopic(env, env.denylist);
    expect(published!.key).toBe(`token:${f}`);
    expect(deniedAt - published!.timestamp).toBeLessThan(1_000);
    const res = await fetch(`${url}/v1/check`, { headers });
    expect(await res.json()).toEqual({ revocation_id: JSON.parse(published!.value!).revocation_id, scope: 'token', reason: 'multi_ip_replay' });

    const out = await runCli(env, ['unrevoke', `token:${f}`, '--reason', 'customer confirmed the second network is theirs', '--actor', 'it-test']);
    expect(out.stderr).not.toMatch(/tokenwatch unrevoke:/);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/lifted token:/);
    await waitFor(async () => (await bridgeStatus(url, headers)) === 204, 5_000, 'the bridge to allow the lifted token');

    const records = await readTopic(env, env.denylist);
    expect(records.map((r) => [r.key, r.value === null])).toEqual([
      [`token:${f}`, false],
      [`token:${f}`, true],
    ]);
    const lift = await alertRows(env, `detector = 'unrevoke'`);
    expect(lift).toHaveLength(1);
    expect(lift[0]).toMatchObject({ credential_fp: f, action: 'alert' });
    expect(JSON.parse(String(lift[0]!.evidence))).toEqual({ key: `token:${f}`, reason: 'customer confirmed the second network is theirs', actor: 'it-test' });
  });
});
