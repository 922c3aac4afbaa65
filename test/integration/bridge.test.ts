/**
 * The gateway bridge on the real broker: how fast a published revocation is enforced, expiry, and
 * the `tokenwatch denylist-server` process itself.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { onTeardown, teardown, testEnv, type TestEnv } from '../support/services.js';
import { testKafka } from '../support/kafka.js';
import { bridgeStatus, freePort, spawnTokenwatch, startBridge } from '../support/processes.js';
import { waitFor } from '../support/waiting.js';
import { createLogger } from '../../src/telemetry/log.js';
import { fingerprint } from '../../schemas/fingerprint.js';
import { revocationId } from '../../src/respond/alerts.js';
import type { DenylistRecord } from '../../schemas/denylist.js';
import { createDenylistChecker } from '../../src/bridge/index.js';

const FP_KEY = 'integration-tfp1-key-000000001';

afterEach(teardown);

function revocation(scope: DenylistRecord['scope'], id: string, expiresAtMs: number, nowMs = Date.now()): { key: string; value: string } {
  const alert = `alert-${id}`;
  const value: DenylistRecord = {
    v: 1, revocation_id: revocationId(alert, scope, id), scope, id, tenant: 'acme', subject: 'user-42', reason: 'multi_ip_replay',
    alert_id: alert, severity: 'high', revoked_at: new Date(nowMs).toISOString(), expires_at: new Date(expiresAtMs).toISOString(),
  };
  return { key: `${scope}:${id}`, value: JSON.stringify(value) };
}

async function connectedProducer(t: TestEnv): Promise<Producer> {
  const producer = testKafka(t).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  onTeardown(() => producer.disconnect());
  return producer;
}

describe('denylist bridge on real Kafka', () => {
  it('denies a bearer token within a second of its revocation being published', async () => {
    const env = await testEnv('brg');
    const { url } = await startBridge(env, { fpKey: FP_KEY });
    const token = `opaque-${Date.now()}-access-token`;
    const headers = { authorization: `Bearer ${token}` };
    expect(await bridgeStatus(url, headers)).toBe(204);
    const p = await connectedProducer(env);

    const sentAt = Date.now();
    await p.send({ topic: env.denylist, acks: -1, messages: [revocation('token', fingerprint(token, FP_KEY), Date.now() + 600_000)] });
    let deniedAt = 0;
    while (Date.now() - sentAt < 5_000) {
      if ((await bridgeStatus(url, headers)) === 403) {
        deniedAt = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(deniedAt).toBeGreaterThan(0);
    expect(deniedAt - sentAt).toBeLessThan(1_000);
    // a different credential of the same user is untouched
    expect(await bridgeStatus(url, { authorization: 'Bearer another-token-of-the-user' })).toBe(204);
  });

  it('drops expired entries: at their expiry while running, and never loads them after a restart', async () => {
    const env = await testEnv('exp');
    const { url, metrics, checker } = await startBridge(env, { fpKey: FP_KEY });
    const p = await connectedProducer(env);
    const now = Date.now();
    await p.send({
      topic: env.denylist,
      acks: -1,
      messages: [revocation('family', 'sess-expired', now - 1_000, now - 60_000), revocation('family', 'sess-short', now + 2_000, now)],
    });
    await waitFor(async () => (await bridgeStatus(url, { 'x-tokenwatch-sid': 'sess-short' })) === 403, 5_000, 'the short-lived revocation to apply');
    await waitFor(() => metrics.value('tokenwatch_bridge_records_total', { outcome: 'expired' }) === 1, 5_000, 'the expired record to be seen');
    expect(await bridgeStatus(url, { 'x-tokenwatch-sid': 'sess-expired' })).toBe(204);
    expect(checker.size).toBe(1);

    await waitFor(async () => (await bridgeStatus(url, { 'x-tokenwatch-sid': 'sess-short' })) === 204, 5_000, 'the revocation to expire');
    expect(Date.now()).toBeGreaterThanOrEqual(now + 2_000);
    await waitFor(() => checker.size === 0 && metrics.value('tokenwatch_bridge_expired_total') === 1, 3_000, 'the entry to be swept');
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/tokenwatch_bridge_entries\{scope="family"\} 0/);

    // a fresh bridge reads both records from the topic and keeps neither
    const fresh = createDenylistChecker({ brokers: env.config.kafka.brokers, topic: env.denylist, log: createLogger({ level: 'silent' }) });
    onTeardown(() => fresh.close());
    await fresh.ready;
    expect(fresh.size).toBe(0);
    expect(fresh.check({ sid: 'sess-short' }).allow).toBe(true);
  });

  it('`tokenwatch denylist-server` serves /readyz, /v1/check and /metrics, never logs the credential, and stops on SIGTERM', async () => {
    const env = await testEnv('srv');
    const port = await freePort();
    const apiKey = `sk_live_${'x'.repeat(8)}${Date.now()}`;
    const child = spawnTokenwatch(env, 'srv', ['denylist-server'], { TOKENWATCH_FP_KEY: FP_KEY, TOKENWATCH_BRIDGE_LISTEN: `127.0.0.1:${port}`, LOG_LEVEL: 'debug' });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 20_000, 'denylist-server to be ready');

    expect(await bridgeStatus(url, { 'x-api-key': apiKey })).toBe(204);
    const p = await connectedProducer(env);
    await p.send({ topic: env.denylist, acks: -1, messages: [revocation('token', fingerprint(apiKey, FP_KEY), Date.now() + 600_000)] });
    await waitFor(async () => (await bridgeStatus(url, { 'x-api-key': apiKey })) === 403, 5_000, 'the revoked API key to be denied');
    const envoy = await fetch(`${url}/v1/ext_authz/v1/orders`, { headers: { 'x-api-key': 'some-other-key-000000' } });
    expect(envoy.status).toBe(200);
    const m = await (await fetch(`${url}/metrics`)).text();
    expect(m).toMatch(/tokenwatch_bridge_ready 1/);
    expect(m).toMatch(/tokenwatch_bridge_checks_total\{result="deny"\} 1/);

    expect((await child.term()).code).toBe(0);
    expect(child.output).toMatch(/denylist bridge ready/);
    expect(child.output).toMatch(/denied a revoked credential/);
    expect(child.output).not.toContain(apiKey);
  });
});
