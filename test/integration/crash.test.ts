/**
 * A consumer that cannot run never looks healthy (issue: "consumer crashed … restart: false" and a
 * live process consuming nothing). A real, non-retriable crash from a real broker: a session
 * timeout the broker refuses (below group.min.session.timeout.ms). `tokenwatch run` must never
 * report ready, and must exit non-zero with a last log line naming the cause and the fix.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { teardown, testEnv } from '../support/services.js';
import { freePort, spawnRun, spawnTokenwatch } from '../support/processes.js';
import { sleep } from '../support/waiting.js';

afterAll(teardown);

describe('a consumer crash the client will not restart', () => {
  it('tokenwatch run exits 1, never ready, with the cause and the fix in its last line', async () => {
    const port = await freePort();
    const env = await testEnv('crash', { TOKENWATCH_METRICS_PORT: String(port), TOKENWATCH_SESSION_TIMEOUT_MS: '3000', TOKENWATCH_HEARTBEAT_MS: '1000' });
    const run = spawnRun(env, 'crash');
    const readiness: number[] = [];
    const exited = run.exited;
    let done = false;
    void exited.then(() => (done = true));
    const deadline = Date.now() + 60_000;
    while (!done && Date.now() < deadline) {
      const status = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status).catch(() => 0);
      if (status) readiness.push(status);
      await sleep(20);
    }
    const { code } = await exited;
    expect(code).toBe(1);
    expect(readiness.length, 'the health endpoint answered while the process lived').toBeGreaterThan(0);
    expect(readiness.filter((s) => s === 200)).toEqual([]);
    const fatal = run.logs.filter((l) => l.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ consumer: 'detect', msg: 'consumer stopped and will not restart; exiting' });
    expect(String(fatal[0]!.err)).toMatch(/session timeout is not within the range allowed by the broker/);
    expect(String(fatal[0]!.fix)).toMatch(/TOKENWATCH_SESSION_TIMEOUT_MS/);
  }, 90_000);

  it('denylist-server fails closed: never 204 to a check, /readyz never 200, exits 1 naming the cause and the fix', async () => {
    const port = await freePort();
    const env = await testEnv('crash_bridge', { TOKENWATCH_BRIDGE_LISTEN: `127.0.0.1:${port}`, TOKENWATCH_SESSION_TIMEOUT_MS: '3000', TOKENWATCH_HEARTBEAT_MS: '1000' });
    const bridge = spawnTokenwatch(env, 'crash-bridge', ['denylist-server'], { LOG_LEVEL: 'info' });
    const seen: number[] = [];
    let done = false;
    void bridge.exited.then(() => (done = true));
    const deadline = Date.now() + 60_000;
    while (!done && Date.now() < deadline) {
      for (const path of ['/v1/check', '/readyz']) {
        const status = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'x-tokenwatch-fp': 'tfp1:crashBridgeAAAAAAAAAAA' } })
          .then((r) => r.status)
          .catch(() => 0);
        if (status) seen.push(status);
      }
      await sleep(20);
    }
    const { code } = await bridge.exited;
    expect(code).toBe(1);
    expect(seen.length, 'the bridge answered while it lived').toBeGreaterThan(0);
    expect(seen.filter((s) => s === 204 || s === 200)).toEqual([]);
    expect(bridge.output).toMatch(/session timeout is not within the range allowed by the broker/);
    expect(bridge.output).toMatch(/TOKENWATCH_SESSION_TIMEOUT_MS/);
  }, 90_000);

  it('a heartbeat longer than a third of the session timeout stops start-up, naming the setting', async () => {
    await expect(testEnv('crash_cfg', { TOKENWATCH_SESSION_TIMEOUT_MS: '6000', TOKENWATCH_HEARTBEAT_MS: '3000' })).rejects.toThrow(/TOKENWATCH_HEARTBEAT_MS must be at most a third of TOKENWATCH_SESSION_TIMEOUT_MS \(6000 ms\) \(got "3000"\)/);
  });
});
