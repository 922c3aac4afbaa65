/**
 * Response and revocation on the real broker and server: the circuit breaker, shadow mode,
 * unrevoke through the CLI, and the gateway bridge following what the processor publishes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { AddressInfo, Server } from 'node:net';
import { alertRows, dropDatabase, produce, readTopic, startProcessor, testEnv, uid, waitFor, type Running, type TestEnv } from './harness.js';
import { keyOf, replayAttack } from '../fixtures/events.js';
import { createLogger } from '../../src/telemetry/log.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { createDenylistChecker, serveBridge, type DenylistChecker } from '../../src/bridge/index.js';

let running: Running | undefined;
let env: TestEnv | undefined;
let checker: DenylistChecker | undefined;
let server: Server | undefined;

afterEach(async () => {
  server?.close();
  server = undefined;
  await checker?.close();
  checker = undefined;
  await running?.stop();
  running = undefined;
  if (env) await dropDatabase(env);
  env = undefined;
});

const t0 = Date.UTC(2026, 10, 30, 10, 0, 0);
/** distinct, valid fingerprints (16–128 chars, no white space) */
const fp = (tag: string, i: number) => `tfp1:${tag}${String(i).padStart(22 - tag.length, '0')}`;

/** n attacks on n tokens, one after the other in event time (one partition key: processed in order). */
async function attacks(t: TestEnv, tag: string, n: number): Promise<string[]> {
  const fps = Array.from({ length: n }, (_, i) => fp(tag, i));
  const events = fps.flatMap((f, i) => replayAttack(f, t0 + i * 40_000, `${tag}${i}`));
  await produce(t, t.input, events.map((e) => ({ key: keyOf(e), value: JSON.stringify(e) })));
  return fps;
}

/** Waits until the processor committed its input to the end: every sink of every batch is durable. */
async function drained(t: TestEnv, r: Running): Promise<void> {
  await waitFor(async () => {
    const ends = await r.bus.endOffsets(t.input);
    const committed = await r.bus.committedOffsets(t.group, t.input);
    return Object.entries(ends).every(([p, high]) => high === '0' || committed[Number(p)] === high);
  }, 30_000, 'the processor to commit its input to the end');
}

async function startBridge(t: TestEnv, fpKey?: string): Promise<string> {
  const log = createLogger({ level: t.env.LOG_LEVEL });
  const metrics = new Metrics();
  checker = createDenylistChecker({ brokers: t.config.kafka.brokers, topic: t.denylist, fpKey, log, metrics });
  server = await serveBridge({ checker, host: '127.0.0.1', port: 0, metrics, log });
  await checker.ready;
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const check = async (url: string, headers: Record<string, string>) => (await fetch(`${url}/v1/check`, { headers })).status;

function cli(t: TestEnv, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['bin/tokenwatch.js', ...args], { env: { ...process.env, ...t.env }, cwd: process.cwd() });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('response policy on real Kafka and ClickHouse', () => {
  it('a burst over the cap trips the breaker: a critical revocation_breaker row, alert-only past the cap, nothing past the cap published', async () => {
    env = await testEnv('brk');
    running = await startProcessor(env, {
      response: { ...env.config.response, breaker: { maxRevocationsPerMin: 3, maxRevocationsPerTenantPerMin: 100, coolDownSec: 600 } },
    });
    const fps = await attacks(env, 'brk', 6);
    await waitFor(async () => (await alertRows(env!, `detector = 'multi_ip_replay'`)).length === 6, 30_000, 'six replay alerts');
    await drained(env, running);

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
    env = await testEnv('shd');
    running = await startProcessor(env, { shadow: true });
    const fps = await attacks(env, 'shd', 2);
    await waitFor(async () => (await alertRows(env!, `detector = 'multi_ip_replay'`)).length === 2, 30_000, 'two replay alerts');
    await drained(env, running);

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
    env = await testEnv('unr');
    running = await startProcessor(env);
    const url = await startBridge(env);
    const f = fp('unr', 0);
    const headers = { 'x-tokenwatch-fp': f, 'x-tokenwatch-sid': 'not-revoked-session' };
    expect(await check(url, headers)).toBe(204);
    await attacks(env, 'unr', 1);

    const deniedAt = await waitFor(async () => ((await check(url, headers)) === 403 ? Date.now() : undefined), 30_000, 'the bridge to deny the revoked token');
    const [published] = await readTopic(env, env.denylist);
    expect(published!.key).toBe(`token:${f}`);
    const publishedAt = await kafkaTimestamp(env, published!.partition, published!.offset);
    expect(deniedAt - publishedAt).toBeLessThan(1_000);
    const res = await fetch(`${url}/v1/check`, { headers });
    expect(await res.json()).toEqual({ revocation_id: JSON.parse(published!.value!).revocation_id, scope: 'token', reason: 'multi_ip_replay' });

    const out = await cli(env, ['unrevoke', `token:${f}`, '--reason', 'customer confirmed the second network is theirs', '--actor', 'it-test']);
    expect(out.stderr).not.toMatch(/tokenwatch unrevoke:/);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/lifted token:/);
    await waitFor(async () => (await check(url, headers)) === 204, 5_000, 'the bridge to allow the lifted token');

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

/** The broker timestamp (CreateTime set by the producer at send) of one record. */
async function kafkaTimestamp(t: TestEnv, partition: number, offset: string): Promise<number> {
  const { testKafka } = await import('./harness.js');
  const c = testKafka(t).consumer({ groupId: uid('ts') });
  await c.connect();
  await c.subscribe({ topics: [t.denylist], fromBeginning: true });
  const ts = await new Promise<number>((resolve) => {
    void c.run({
      eachMessage: async ({ partition: p, message }) => {
        if (p === partition && message.offset === offset) resolve(Number(message.timestamp));
      },
    });
  });
  await c.disconnect();
  return ts;
}
