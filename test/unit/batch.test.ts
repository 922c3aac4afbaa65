/**
 * The per-event boundary of the hot path (src/pipeline/batch.ts): whatever fails for one event —
 * its detectors or building its response — takes back what that event added, dead-letters it with
 * a reason, and the rest of the batch is processed as if it were not there.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import pino from 'pino';
import { defineDetector, type Detector, type EnrichedEvent } from '../../src/detect/contract.js';
import { Engine } from '../../src/detect/engine.js';
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../../src/config/index.js';
import { BatchProcessor } from '../../src/pipeline/batch.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { event } from '../fixtures/events.js';
import { T0 } from '../support/services.js';

/** Fires on every event; its evidence is unserialisable (a BigInt) when the route says so, and it throws on /crash. */
const flaky = defineDetector({
  meta: { id: 'flaky', title: 'flaky', severity: 'high', defaultAction: 'revoke', falsePositives: [], references: [] },
  config: z.object({}).strict(),
  keys: (e) => [e.cred.fp],
  stateTtlMs: () => 60_000,
  step: (_s, e) => {
    if (e.route === '/crash') throw new Error('detector bug');
    return {
      state: 1,
      findings: [
        {
          severity: 'high',
          summary: `token ${e.cred.fp} seen`,
          trigger: e,
          eventIds: [e.id],
          ips: [e.ip],
          countries: [],
          asns: [],
          evidence: e.route === '/bigint' ? { n: 1n } : { n: 1 },
          revocations: [{ scope: 'token', id: e.cred.fp }],
        },
      ],
    };
  },
  cases: [],
}) as unknown as Detector;

function setup() {
  const config = loadConfig([flaky], { TOKENWATCH_DLQ_TOPIC: 'dlq.t', TOKENWATCH_DENYLIST_TOPIC: 'deny.t' });
  const metrics = new Metrics();
  const core = new BatchProcessor({ config, detectors: [flaky], log: pino({ level: 'silent' }), metrics, now: () => T0 + 3_600_000 });
  return { core, metrics };
}

const msg = (value: string, offset: number) => ({ key: null, value: Buffer.from(value), offset: String(offset), timestamp: String(T0), headers: {} });

describe('one event, whole or not at all', () => {
  it('a response that cannot be built dead-letters its event (processing_failed); the batch goes on', () => {
    const { core, metrics } = setup();
    const fps = ['tfp1:batchAAAAAAAAAAAAAAAAA', 'tfp1:batchBBBBBBBBBBBBBBBBB', 'tfp1:batchCCCCCCCCCCCCCCCCC'];
    const routes = ['/ok', '/bigint', '/crash'];
    const out = core.process('in', 0, [
      ...fps.map((fp, i) => msg(JSON.stringify(event({ ts: T0 + i, fp, route: routes[i]! })), i)),
      msg(JSON.stringify(event({ ts: T0 + 9, fp: 'tfp1:batchDDDDDDDDDDDDDDDDD', route: '/ok' })), 3),
    ]);
    // two good events: each one alert and one revocation
    expect(out.alerts.map((a) => a.summary).sort()).toEqual([`token ${fps[0]} seen`, 'token tfp1:batchDDDDDDDDDDDDDDDDD seen']);
    expect(out.findings).toBe(2);
    expect(out.revocations).toBe(2);
    const deny = out.records.filter((r) => r.topic === 'deny.t').map((r) => r.key);
    expect(deny).toEqual([`token:${fps[0]}`, 'token:tfp1:batchDDDDDDDDDDDDDDDDD']);
    const dlq = out.records.filter((r) => r.topic === 'dlq.t').map((r) => JSON.parse(String(r.value)) as { reason: string; detail: string; source: { offset: string } });
    expect(dlq.map((d) => [d.reason, d.source.offset])).toEqual([
      ['processing_failed', '1'],
      ['detector_failed', '2'],
    ]);
    expect(dlq[0]!.detail).toMatch(/^response: .*BigInt/);
    expect(dlq[1]!.detail).toMatch(/^detectors: .*detector bug/);
    expect(out.dlq).toBe(2);
    expect(metrics.value('tokenwatch_findings_total', { detector: 'flaky', action: 'revoke' })).toBe(2);
    expect(metrics.value('tokenwatch_dlq_total', { reason: 'processing_failed' })).toBe(1);
  });
});

describe('stream time', () => {
  const keeper = defineDetector({
    meta: { id: 'keeper', title: 'keeper', severity: 'low', defaultAction: 'alert', falsePositives: [], references: [] },
    config: z.object({}).strict(),
    keys: (e) => [e.cred.fp],
    stateTtlMs: () => 3_600_000,
    step: () => ({ state: 1, findings: [] }),
    cases: [],
  }) as unknown as Detector;

  it('one event far ahead moves the watermark at most 5 minutes: the next sweep keeps every key', () => {
    const engine = new Engine([{ detector: keeper, config: {} }], { maxKeysPerDetector: 100, maxAliasesPerDetector: 100, allowedLatenessMs: 30_000 });
    const enrich = (ts: number, fp: string) => ({ ...event({ ts, fp }), net: '81.2.69.0/24' }) as unknown as EnrichedEvent;
    engine.process(enrich(T0, 'tfp1:keepAAAAAAAAAAAAAAAAAA'));
    engine.process(enrich(T0 + 6 * 86_400_000, 'tfp1:keepBBBBBBBBBBBBBBBBBB'));
    expect(engine.watermarkMs).toBe(T0 + 5 * 60_000);
    engine.process(enrich(T0 + 1_000, 'tfp1:keepCCCCCCCCCCCCCCCCCC'));
    expect(engine.keyCounts().keeper).toBe(3);
    // a real move forward takes several events, each at most the step
    for (let i = 1; i <= 4; i++) engine.process(enrich(T0 + 2 * 3_600_000, 'tfp1:keepDDDDDDDDDDDDDDDDDD'));
    expect(engine.watermarkMs).toBe(T0 + 25 * 60_000);
  });
});

describe('found by the fuzz suite', () => {
  const ghp = `ghp_${'Q7fLm2Xp9RtV4sNb8KcW1zYd3HgJ6aEu0iOo'}`;
  const core = () => new BatchProcessor({ config: loadConfig(detectors, {}), detectors, log: pino({ level: 'silent' }), metrics: new Metrics(), now: () => T0 + 3_600_000 });
  const dlqOf = (out: ReturnType<BatchProcessor['process']>) => out.records.filter((r) => r.topic === 'tokenwatch.dlq').map((r) => String(r.value));

  it('a secret in the message key, in any encoding, never reaches the DLQ record', () => {
    for (const key of ['sk_%6C%69ve_Q7fLm2Xp9RtV4sNb8KcW1zYd', Buffer.from(ghp).toString('base64'), ghp.replace('h', '\\u0068')]) {
      const out = core().process('in', 0, [{ key, value: Buffer.from('not json'), offset: '0', timestamp: '0', headers: {} }]);
      const [rec] = dlqOf(out);
      expect(rec).toBeDefined();
      expect(rec).not.toContain('Q7fLm2Xp9RtV4sNb8KcW1zYd');
    }
  });

  it('a not-JSON message hiding a secret behind \\u escapes is withheld, not echoed', () => {
    const hidden = ghp.replace(/(.)(.)(.)/g, (_m, a: string, b: string, c: string) => `${a}${b}\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    for (const value of [`\ufeff{"note":"${hidden}"}`, `{"note":"${hidden}"`, `{"note":"${hidden}"} x`]) {
      const [rec] = dlqOf(core().process('in', 0, [{ key: null, value: Buffer.from(value), offset: '0', timestamp: '0', headers: {} }]));
      const r = JSON.parse(rec!) as { reason: string; excerpt: string; payload?: string };
      expect(r.reason).toBe('not_json');
      for (const text of [r.excerpt, r.payload ?? '']) {
        expect(text.replace(/\\u([0-9a-f]{4})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))).not.toContain('Q7fLm2Xp9RtV4sNb8KcW1zYd');
      }
    }
  });

  it('a lone surrogate in a tenant or key id does not push the event out of every detector', () => {
    const e = { ...event({ ts: T0, fp: 'tfp1:loneSurrogateAAAAAAAAA', cred: { type: 'api_key', key_id: 'k\ud800' } as never }), tenant: 'acme\ud800' };
    const out = core().process('in', 0, [{ key: null, value: Buffer.from(JSON.stringify(e)), offset: '0', timestamp: '0', headers: {} }]);
    expect(dlqOf(out).map((r) => (JSON.parse(r) as { detail: string }).detail)).toEqual([]);
  });
});
