import { describe, expect, it } from 'vitest';
import type { DetectorCaseEvent, EnrichedEvent } from '../../src/detect/contract.js';
import { CASE_DEFAULT_FP, caseEvent, runCase } from '../../src/testing/cases.js';
import { caseEvents, drive } from '../../test/support/drive.js';
import detector, { horizonMs } from './index.js';
import { ImpossibleTravelConfigSchema } from './config.js';

const config = ImpossibleTravelConfigSchema.parse({});
const london = { ip: '81.2.69.142', geo: { lat: 51.5074, lon: -0.1278, accuracy_km: 5, country: 'GB', city: 'London', asn: 20712 } };
const newYork = { ip: '72.229.28.185', geo: { lat: 40.7128, lon: -74.006, accuracy_km: 20, country: 'US', city: 'New York', asn: 12271 } };
const tokyo = { ip: '126.0.0.10', geo: { lat: 35.6762, lon: 139.6503, accuracy_km: 10, country: 'JP', city: 'Tokyo', asn: 17676 } };

/** keys()/step() straight, one state per key; each step's watermark is its own event's time. */
const run = (sketches: DetectorCaseEvent[], overrides: Record<string, unknown> = {}) =>
  drive(detector, caseEvents(sketches), { config: overrides, watermark: 'event' });

describe('impossible_travel cases', () => {
  it.each(detector.cases.map((c) => [`${c.kind}: ${c.name}`, c] as const))('%s', (_n, c) => {
    expect(runCase(detector, c).problems).toEqual([]);
  });

  it('has a firing, a quiet and a boundary case', () => {
    const kinds = new Set(detector.cases.map((c) => c.kind));
    expect([...kinds].sort()).toEqual(['boundary', 'fires', 'quiet']);
  });
});

describe('impossible_travel evidence and response', () => {
  it('puts both points, distances, Δt, speed, thresholds, ids and sources in the evidence', () => {
    const { findings } = run([
      { at: 0, ...london, cred: { type: 'access_token', fp: CASE_DEFAULT_FP, exp: 1796038200 } },
      { at: 3600, ...newYork, cred: { type: 'access_token', fp: CASE_DEFAULT_FP, exp: 1796038200 } },
    ]);
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f.discriminator).toBe('cred');
    expect(f.revocations).toEqual([{ scope: 'token', id: CASE_DEFAULT_FP, expiresAtMs: 1796038200000 }]);
    expect(f.eventIds).toEqual(['e0', 'e1']);
    expect(f.sources).toEqual([
      { topic: 'case', partition: 0, offset: '0' },
      { topic: 'case', partition: 0, offset: '1' },
    ]);
    expect(f.ips).toEqual(['81.2.69.142', '72.229.28.185']);
    expect(f.countries).toEqual(['GB', 'US']);
    expect(f.asns).toEqual([20712, 12271]);
    const ev = f.evidence as Record<string, any>;
    expect(ev.from).toMatchObject({ eventId: 'e0', city: 'London', country: 'GB', ip: '81.2.69.142', asn: 20712, accuracyKm: 5, net: '81.2.69.0/24' });
    expect(ev.to).toMatchObject({ eventId: 'e1', city: 'New York', accuracyKm: 20 });
    expect(ev.distanceKm).toBeCloseTo(5570.2, 0);
    expect(ev.adjustedDistanceKm).toBeCloseTo(5545.2, 0);
    expect(ev.deltaSec).toBe(3600);
    expect(ev.speedKmh).toBe(5545);
    expect(ev.simultaneous).toBe(false);
    expect(ev.lateArrival).toBe(false);
    expect(ev.downgraded).toBeNull();
    expect(ev.thresholds).toEqual({ maxSpeedKmh: 1000, minDistanceKm: 500, maxAccuracyKm: 200, simultaneousSec: 60 });
    expect(JSON.parse(JSON.stringify(ev))).toEqual(ev);
  });

  it('reports Δt = 0 as simultaneous use without dividing by zero', () => {
    const { findings } = run([
      { at: 0, ...london },
      { at: 0, ...tokyo },
    ]);
    expect(findings).toHaveLength(1);
    const ev = findings[0]!.evidence as Record<string, any>;
    expect(ev.simultaneous).toBe(true);
    expect(ev.speedKmh).toBeNull();
    expect(ev.deltaSec).toBe(0);
    expect(findings[0]!.summary).toContain('Simultaneous use');
  });

  it('labels a firing hop just above simultaneousSec as travel, with its speed', () => {
    const { findings } = run([
      { at: 0, ...london },
      { at: 61, ...tokyo },
    ]);
    const ev = findings[0]!.evidence as Record<string, any>;
    expect(ev.simultaneous).toBe(false);
    expect(ev.speedKmh).toBeGreaterThan(500_000);
  });

  it('subject findings are alert-only, medium, without revocations', () => {
    const { findings } = run([
      { at: 0, ...london, cred: { type: 'session', fp: CASE_DEFAULT_FP, sub: 'u1' } },
      { at: 600, ...tokyo, cred: { type: 'session', fp: CASE_DEFAULT_FP, sub: 'u1' } },
    ]);
    expect(findings.map((f) => [f.key, f.discriminator, f.severity, f.alertOnly ?? false, f.revocations.length])).toEqual([
      [`cred:${CASE_DEFAULT_FP}`, 'cred', 'high', false, 1],
      ['sub::u1', 'sub', 'medium', true, 0],
    ]);
  });

  it('downgrades an anonymous hop: low, alert only, reason in evidence, no revocation', () => {
    const { findings, states } = run([
      { at: 0, ...london },
      { at: 600, ...newYork, network: { anonymous: true, anonymousReason: 'Tor exit' } },
    ]);
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f.severity).toBe('low');
    expect(f.alertOnly).toBe(true);
    expect(f.revocations).toEqual([]);
    expect((f.evidence as any).downgraded).toEqual({ from: 'high', reason: 'Tor exit' });
    expect((f.evidence as any).to.anonymousNetwork).toBe('Tor exit');
    const st = states.get(`cred:${CASE_DEFAULT_FP}`)!;
    expect(st.points.items.map((x) => x.v.id)).toEqual(['e0']);
  });

  it('a late point between two impossible hops reports the worst and lists the other', () => {
    const { findings } = run([
      { at: 0, ...london },
      { at: 20, ...newYork },
      { at: 10, ...tokyo },
    ]);
    // e1 (London → New York) and the late e2 (Tokyo, between them)
    expect(findings.map((f) => f.trigger.id)).toEqual(['e1', 'e2']);
    const ev = findings[1]!.evidence as Record<string, any>;
    expect(ev.lateArrival).toBe(true);
    expect(ev.otherHops).toHaveLength(1);
    expect(new Set([ev.from.eventId, ev.to.eventId, ev.otherHops[0].from.eventId, ev.otherHops[0].to.eventId])).toEqual(
      new Set(['e0', 'e1', 'e2']),
    );
  });

  it('accuracy exactly maxAccuracyKm is used; just above is skipped', () => {
    const coarse = (km: number) => ({ ...newYork, geo: { ...newYork.geo, accuracy_km: km } });
    expect(run([{ at: 0, ...london }, { at: 600, ...coarse(200) }]).findings).toHaveLength(1);
    expect(run([{ at: 0, ...london }, { at: 600, ...coarse(200.5) }]).findings).toHaveLength(0);
  });

  it('a pair reported once may be reported again after the horizon', () => {
    const h = horizonMs(config) / 1000;
    const { findings } = run([
      { at: 0, ...london },
      { at: 3600, ...newYork },
      { at: 3600 + h + 3600, ...london },
      { at: 3600 + h + 7200, ...newYork },
    ]);
    expect(findings.map((f) => f.trigger.id)).toEqual(['e1', 'e3']);
  });
});

describe('impossible_travel state', () => {
  it('is plain JSON, bounded, and runs at one place keep only their endpoints', () => {
    const sketches: DetectorCaseEvent[] = [];
    for (let i = 0; i < 50; i++) sketches.push({ at: i * 60, ...london });
    const { states } = run(sketches);
    const st = states.get(`cred:${CASE_DEFAULT_FP}`)!;
    expect(st.points.items.map((x) => x.v.id)).toEqual(['e0', 'e49']);
    expect(JSON.parse(JSON.stringify(st))).toEqual(st);

    const hopping: DetectorCaseEvent[] = [];
    for (let i = 0; i < 30; i++) hopping.push({ at: i * 86_400, ...(i % 2 ? london : newYork) });
    const st2 = run(hopping).states.get(`cred:${CASE_DEFAULT_FP}`)!;
    expect(st2.points.items.length).toBeLessThanOrEqual(config.maxPoints);
  });

  it('does not mutate the state it is handed', () => {
    const e0 = caseEvent({ at: 0, ...london }, 0);
    const e1 = caseEvent({ at: 3600, ...newYork }, 1);
    const key = `cred:${CASE_DEFAULT_FP}`;
    const s0 = detector.step(undefined, e0, { config, key, watermarkMs: e0.ts }).state!;
    const frozen = JSON.stringify(s0);
    detector.step(s0, e1, { config, key, watermarkMs: e1.ts });
    expect(JSON.stringify(s0)).toBe(frozen);
  });

  it('derives the state TTL from maxSpeedKmh (no two places are more than ~20 015 km apart)', () => {
    expect(detector.stateTtlMs(config) / 3_600_000).toBeCloseTo(20.0, 1);
    expect(detector.stateTtlMs(ImpossibleTravelConfigSchema.parse({ maxSpeedKmh: 900 })) / 3_600_000).toBeCloseTo(22.2, 1);
  });
});

describe('impossible_travel keys and config', () => {
  const ev = (s: DetectorCaseEvent): EnrichedEvent => caseEvent(s, 0);

  it('keys by credential and, when the subject is known, by tenant + subject', () => {
    expect(detector.keys(ev({ at: 0, ...london }), config, () => undefined)).toEqual([`cred:${CASE_DEFAULT_FP}`]);
    expect(
      detector.keys(ev({ at: 0, ...london, tenant: 'acme', cred: { type: 'access_token', fp: CASE_DEFAULT_FP, sub: 'u:1' } }), config, () => undefined),
    ).toEqual([`cred:${CASE_DEFAULT_FP}`, 'sub:acme:u:1']);
    const noSub = ImpossibleTravelConfigSchema.parse({ subjectAlerts: false });
    expect(detector.keys(ev({ at: 0, ...london, cred: { type: 'access_token', fp: CASE_DEFAULT_FP, sub: 'u' } }), noSub, () => undefined)).toEqual([
      `cred:${CASE_DEFAULT_FP}`,
    ]);
  });

  it('ignores events that cannot form a location', () => {
    expect(detector.keys(ev({ at: 0, ip: '192.168.1.10', geo: london.geo }), config, () => undefined)).toEqual([]);
    expect(detector.keys(ev({ at: 0, ip: '81.2.69.142' }), config, () => undefined)).toEqual([]);
    expect(detector.keys(ev({ at: 0, ...london, network: { trusted: true } }), config, () => undefined)).toEqual([]);
  });

  it('config is strict, documented and defaulted', () => {
    expect(() => ImpossibleTravelConfigSchema.parse({ maxSpeedKMH: 900 })).toThrow();
    expect(() => ImpossibleTravelConfigSchema.parse({ maxSpeedKmh: 0 })).toThrow();
    expect(config).toEqual({
      maxSpeedKmh: 1000,
      minDistanceKm: 500,
      maxAccuracyKm: 200,
      simultaneousSec: 60,
      maxPoints: 8,
      anonymousNetworks: 'downgrade',
      subjectAlerts: true,
      credentialTypes: ['access_token', 'refresh_token', 'session'],
    });
    for (const [name, field] of Object.entries(ImpossibleTravelConfigSchema.shape)) {
      expect(field.description, name).toBeTruthy();
    }
  });

  it('meta id matches the folder', () => {
    expect(detector.meta.id).toBe('impossible_travel');
    expect(detector.meta.defaultAction).toBe('revoke');
  });
});
