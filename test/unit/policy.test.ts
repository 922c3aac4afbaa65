import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ResponseConfigSchema } from '../../src/config/index.js';
import { defineDetector, type EnrichedEvent } from '../../src/detect/contract.js';
import type { DetectorFinding } from '../../src/detect/engine.js';
import { ResponsePolicy } from '../../src/respond/policy.js';
import { alertId, buildAlert, revocationId } from '../../src/respond/alerts.js';

const det = defineDetector({
  meta: { id: 'probe', title: 'probe', severity: 'high', defaultAction: 'revoke', falsePositives: [], references: [] },
  config: z.object({}).strict(),
  keys: () => [],
  stateTtlMs: () => 0,
  step: () => ({ state: undefined, findings: [] }),
  cases: [],
});

function finding(over: Partial<DetectorFinding> = {}, tenant = 'acme', sub = 'user-1'): DetectorFinding {
  const trigger = {
    v: 1, id: 'e1', ts: 1_000, ip: '81.2.69.160', method: 'GET', route: '/x', status: 200, tenant,
    cred: { type: 'access_token', fp: 'tfp1:AAAAAAAAAAAAAAAAAAAAAA', sub, exp: 2_000 },
    network: { net: '81.2.69.0/24', reserved: false, trusted: false, anonymous: false },
  } as EnrichedEvent;
  return {
    detector: det, key: 'fp:x', severity: 'high', summary: 's', trigger, eventIds: ['e1'], ips: ['81.2.69.160'],
    countries: [], asns: [], evidence: {}, revocations: [{ scope: 'token', id: 'tfp1:AAAAAAAAAAAAAAAAAAAAAA', expiresAtMs: 2_000_000 }],
    ...over,
  };
}

const cfg = (over: object = {}) => ResponseConfigSchema.parse(over);

describe('response policy', () => {
  it('revokes by default when the detector says revoke', () => {
    const p = new ResponsePolicy({ response: cfg(), shadow: false });
    expect(p.decide(finding(), 0).action).toBe('revoke');
  });

  it('honours per-detector action, minimum severity, alert-only findings', () => {
    expect(new ResponsePolicy({ response: cfg({ actions: { probe: 'alert' } }), shadow: false }).decide(finding(), 0).action).toBe('alert');
    expect(new ResponsePolicy({ response: cfg(), shadow: false }).decide(finding({ severity: 'medium' }), 0).action).toBe('alert');
    expect(new ResponsePolicy({ response: cfg(), shadow: false }).decide(finding({ alertOnly: true }), 0).action).toBe('alert');
  });

  it('shadow mode records shadow_revoke', () => {
    expect(new ResponsePolicy({ response: cfg(), shadow: true }).decide(finding(), 0).action).toBe('shadow_revoke');
  });

  it('allowlist suppresses and says why', () => {
    const p = new ResponsePolicy({ response: cfg({ allowlist: { subjects: ['user-1'] } }), shadow: false });
    const d = p.decide(finding(), 0);
    expect(d.action).toBe('suppressed');
    expect(d.reasons.join()).toMatch(/subject user-1/);
    const q = new ResponsePolicy({ response: cfg({ allowlist: { cidrs: ['81.2.69.0/24'] } }), shadow: false });
    expect(q.decide(finding(), 0).action).toBe('suppressed');
  });

  it('circuit breaker caps revocations per minute, trips once, cools down', () => {
    const p = new ResponsePolicy({ response: cfg({ breaker: { maxRevocationsPerMin: 3, maxRevocationsPerTenantPerMin: 100, coolDownSec: 60 } }), shadow: false });
    const actions = [0, 1, 2, 3, 4].map((i) => p.decide(finding(), 1000 + i));
    expect(actions.map((a) => a.action)).toEqual(['revoke', 'revoke', 'revoke', 'alert', 'alert']);
    expect(actions[3]!.trip).toMatchObject({ scope: 'global', limit: 3 });
    expect(actions[4]!.trip).toBeUndefined();
    expect(p.breaker.isOpen(30_000)).toBe(true);
    expect(p.decide(finding(), 62_000).action).toBe('revoke');
  });

  it('per-tenant cap trips for the noisy tenant', () => {
    const p = new ResponsePolicy({ response: cfg({ breaker: { maxRevocationsPerMin: 100, maxRevocationsPerTenantPerMin: 2, coolDownSec: 0 } }), shadow: false });
    expect(p.decide(finding({}, 'a'), 0).action).toBe('revoke');
    expect(p.decide(finding({}, 'a'), 1).action).toBe('revoke');
    const d = p.decide(finding({}, 'a'), 2);
    expect(d.trip).toMatchObject({ scope: 'tenant', tenant: 'a' });
    expect(p.decide(finding({}, 'b'), 3).action).toBe('alert');
    expect(p.breaker.isOpen(10_000_000)).toBe(true);
  });
});

describe('alert rows and denylist records', () => {
  it('ids are deterministic and differ by key, trigger and discriminator', () => {
    expect(alertId('d', 'k', 'e1')).toBe(alertId('d', 'k', 'e1'));
    expect(new Set([alertId('d', 'k', 'e1'), alertId('d', 'k2', 'e1'), alertId('d', 'k', 'e2'), alertId('d', 'k', 'e1', 'sub')]).size).toBe(4);
    expect(revocationId('a', 'token', 'x')).not.toBe(revocationId('a', 'family', 'x'));
  });

  it('a revoke decision yields DESIGN §6 records with expires_at from the credential', () => {
    const f = finding();
    const b = buildAlert(f, { action: 'revoke', reasons: [] }, Date.UTC(2026, 10, 30, 10, 0, 6), 900);
    expect(b.records).toHaveLength(1);
    expect(b.records[0]!.key).toBe('token:tfp1:AAAAAAAAAAAAAAAAAAAAAA');
    expect(b.records[0]!.value).toMatchObject({
      v: 1, scope: 'token', id: 'tfp1:AAAAAAAAAAAAAAAAAAAAAA', tenant: 'acme', subject: 'user-1', reason: 'probe',
      alert_id: b.row.alert_id, severity: 'high', revoked_at: '2026-11-30T10:00:06.000Z', expires_at: new Date(2_000_000).toISOString(),
    });
    expect(b.row.revocation_ids).toEqual([b.records[0]!.value.revocation_id]);
    expect(b.row.action).toBe('revoke');
  });

  it('without a known expiry the configured TTL applies; shadow publishes nothing', () => {
    const f = finding({ revocations: [{ scope: 'family', id: 's-1' }] });
    const now = Date.UTC(2026, 10, 30, 10, 0, 0);
    expect(buildAlert(f, { action: 'revoke', reasons: [] }, now, 900).records[0]!.value.expires_at).toBe('2026-11-30T10:15:00.000Z');
    const shadow = buildAlert(f, { action: 'shadow_revoke', reasons: ['shadow'] }, now, 900);
    expect(shadow.records).toEqual([]);
    expect(JSON.parse(shadow.row.evidence).would_revoke).toEqual(['family:s-1']);
  });
});
