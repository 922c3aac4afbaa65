import { describe, expect, it } from 'vitest';
import type { AliasLookup, DetectorCaseEvent, EnrichedEvent } from '../../src/detect/contract.js';
import { caseEvent, runCase } from '../../src/testing/cases.js';
import { caseEvents, drive } from '../../test/support/drive.js';
import { cases } from './cases.js';
import { RefreshReuseConfigSchema } from './config.js';
import detector from './index.js';

const fp = (tag: string): string => `tfp1:${tag.padEnd(22, 'x')}`;
const HOME = { ip: '81.2.69.160', geo: { lat: 51.5142, lon: -0.0931, asn: 64496, country: 'GB' } };
const THIEF = { ip: '89.160.20.112', geo: { lat: 59.3294, lon: 18.0686, asn: 64500, country: 'SE' } };

function ex(
  at: number,
  where: typeof HOME,
  presented: string,
  o: { id?: string; sid?: string; status?: number; issued?: string; issuedAccess?: string; exp?: number } = {},
): DetectorCaseEvent {
  return {
    at,
    ...(o.id !== undefined ? { id: o.id } : {}),
    ip: where.ip,
    geo: where.geo,
    method: 'POST',
    route: '/oauth/token',
    status: o.status ?? 200,
    cred: { type: 'refresh_token', fp: presented, ...(o.sid ? { sid: o.sid } : {}), ...(o.exp ? { exp: o.exp } : {}) },
    ...(o.issued || o.issuedAccess
      ? { refresh: { ...(o.issued ? { issued_fp: o.issued } : {}), ...(o.issuedAccess ? { issued_access_fp: o.issuedAccess } : {}) } }
      : {}),
  };
}

/** keys()/step() straight: keys through the steps' alias table, one state per key; each step's watermark is its own event's time. */
const run = (sketches: DetectorCaseEvent[], overrides: Record<string, unknown> = {}) =>
  drive(detector, caseEvents(sketches), { config: overrides, watermark: 'event' });

describe('refresh_reuse case table', () => {
  it('has fires, quiet and boundary cases', () => {
    const kinds = new Set(cases.map((c) => c.kind));
    expect([...kinds].sort()).toEqual(['boundary', 'fires', 'quiet']);
  });
  it.each(cases.map((c) => [`${c.kind}: ${c.name}`, c] as const))('%s', (_n, c) => {
    expect(runCase(detector, c).problems).toEqual([]);
  });
});

describe('refresh_reuse config', () => {
  it('has defaults and rejects unknown keys', () => {
    expect(RefreshReuseConfigSchema.parse({})).toEqual({
      graceSec: 30,
      maxGenerations: 50,
      maxPresentationsPerToken: 10,
      familyTtlSec: 2_592_000,
    });
    expect(RefreshReuseConfigSchema.safeParse({ graceSeconds: 10 }).success).toBe(false);
    expect(RefreshReuseConfigSchema.safeParse({ graceSec: -1 }).success).toBe(false);
  });
  it('describes every field', () => {
    for (const [name, field] of Object.entries(RefreshReuseConfigSchema.shape)) {
      expect(field.description, name).toBeTruthy();
    }
  });
  it('keeps a family for familyTtlSec', () => {
    expect(detector.stateTtlMs(RefreshReuseConfigSchema.parse({ familyTtlSec: 86_400 }))).toBe(86_400_000);
  });
});

describe('refresh_reuse keys', () => {
  const config = RefreshReuseConfigSchema.parse({});
  const none: AliasLookup = () => undefined;
  it('ignores anything that is not a refresh-token presentation', () => {
    const e = caseEvent({ at: 0, cred: { type: 'access_token', fp: fp('acc'), sid: 's1' } }, 0);
    expect(detector.keys(e, config, none)).toEqual([]);
    expect(detector.step(undefined, e, { config, key: 'sid:s1', watermarkMs: 0 })).toEqual({ state: undefined, findings: [] });
  });
  it('uses the family already known through the token, else the sid, else a new family', () => {
    const withSid = caseEvent(ex(0, HOME, fp('rt0'), { sid: 's1' }), 0);
    const noSid = caseEvent(ex(0, HOME, fp('rt0')), 0);
    expect(detector.keys(withSid, config, () => 'fam:other')).toEqual(['fam:other']);
    expect(detector.keys(withSid, config, none)).toEqual(['sid:s1']);
    expect(detector.keys(noSid, config, (a) => (a === `rt:${fp('rt0')}` ? 'sid:s9' : undefined))).toEqual(['sid:s9']);
    expect(detector.keys(noSid, config, none)).toEqual([`fam:${fp('rt0')}`]);
  });
  it('records aliases for the presented and the issued refresh token', () => {
    const { aliases: aliasTable, keysSeen } = run([
      ex(0, HOME, fp('n0'), { issued: fp('n1') }),
      ex(900, HOME, fp('n1'), { issued: fp('n2') }),
    ]);
    expect(keysSeen).toEqual([[`fam:${fp('n0')}`], [`fam:${fp('n0')}`]]);
    expect(Object.fromEntries(aliasTable)).toEqual({
      [`rt:${fp('n0')}`]: `fam:${fp('n0')}`,
      [`rt:${fp('n1')}`]: `fam:${fp('n0')}`,
      [`rt:${fp('n2')}`]: `fam:${fp('n0')}`,
    });
  });
});

describe('refresh_reuse step', () => {
  it('is pure and keeps plain-JSON state', () => {
    const config = RefreshReuseConfigSchema.parse({});
    const a = caseEvent(ex(0, HOME, fp('p0'), { sid: 's', issued: fp('p1'), issuedAccess: fp('pa1') }), 0);
    const b = caseEvent(ex(900, THIEF, fp('p0'), { sid: 's', status: 400 }), 1);
    const s1 = detector.step(undefined, a, { config, key: 'sid:s', watermarkMs: a.ts }).state!;
    const frozen = JSON.stringify(s1);
    const r2 = detector.step(s1, b, { config, key: 'sid:s', watermarkMs: b.ts });
    expect(JSON.stringify(s1)).toBe(frozen);
    expect(r2.findings).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(r2.state))).toEqual(r2.state);
  });

  it('does not treat a redelivered event as reuse', () => {
    const e0 = ex(0, HOME, fp('d0'), { id: 'x1', sid: 's', issued: fp('d1') });
    const { findings } = run([e0, { ...e0 }]);
    expect(findings).toEqual([]);
  });

  it('ignores a non-rotating presentation of a token never seen issued (no state)', () => {
    const { states } = run([ex(0, THIEF, fp('junk0'), { status: 400 }), ex(1, THIEF, fp('junk1'), { sid: 's', status: 401 })]);
    expect(states.size).toBe(0);
  });

  it('carries the evidence the triage needs', () => {
    const exp = 1_800_000_000;
    const { findings } = run([
      ex(0, HOME, fp('v0'), { id: 'own-0', sid: 'sv', issued: fp('v1'), issuedAccess: fp('va1'), exp }),
      ex(900, HOME, fp('v1'), { id: 'own-1', sid: 'sv', issued: fp('v2'), issuedAccess: fp('va2') }),
      ex(1800, THIEF, fp('v1'), { id: 'thief', sid: 'sv', issued: fp('vt2'), issuedAccess: fp('vta2') }),
    ]);
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f.severity).toBe('critical');
    expect(f.eventIds).toEqual(['own-1', 'thief']);
    expect(f.sources).toEqual([
      { topic: 'case', partition: 0, offset: '1' },
      { topic: 'case', partition: 0, offset: '2' },
    ]);
    expect(f.ips).toEqual(['81.2.69.160', '89.160.20.112']);
    expect(f.countries).toEqual(['GB', 'SE']);
    expect(f.asns).toEqual([64496, 64500]);
    expect(f.summary).not.toContain('81.2.69');
    expect(f.evidence).toMatchObject({
      familyKey: 'sid:sv',
      sid: 'sv',
      presentedFp: fp('v1'),
      presentedGeneration: 1,
      currentGeneration: 2,
      rotationsSince: 1,
      deltaSec: 900,
      sameNetwork: false,
      grace: { graceSec: 30, applied: false, reason: 'after the 30 s grace window' },
      forkedChildren: [fp('v2'), fp('vt2')],
      firstExchange: { eventId: 'own-1', asn: 64496, net: '81.2.69.0/24', source: { topic: 'case', partition: 0, offset: '1' } },
      reuse: { eventId: 'thief', asn: 64500, net: '89.160.20.0/24', status: 200 },
      triggeredBy: 'reuse',
    });
    const keys = f.revocations.map((r) => `${r.scope}:${r.id}`);
    expect(keys).toEqual([
      'family:sv',
      `token:${fp('v0')}`,
      `token:${fp('v1')}`,
      `token:${fp('va1')}`,
      `token:${fp('v2')}`,
      `token:${fp('va2')}`,
      `token:${fp('vt2')}`,
      `token:${fp('vta2')}`,
    ]);
    expect(f.revocations.find((r) => r.id === fp('v0'))?.expiresAtMs).toBe(exp * 1000);
    expect(f.revocations.find((r) => r.scope === 'family')?.expiresAtMs).toBeUndefined();
    expect((f.evidence['revokedFingerprints'] as string[]).length).toBe(7);
  });

  it('has no family revocation when no sid is known', () => {
    const { findings } = run([
      ex(0, HOME, fp('w0'), { issued: fp('w1') }),
      ex(100, THIEF, fp('w0'), { status: 400 }),
    ]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.revocations.some((r) => r.scope === 'family')).toBe(false);
  });

  it('fires when a late exchange shows a tolerated retry was two rotations back', () => {
    // rt0 rotated at 0; the owner's rt1 rotation at 5 arrives after the retry of rt0 at 10.
    const { findings } = run([
      ex(0, HOME, fp('L0'), { sid: 'sl', issued: fp('L1') }),
      ex(10, HOME, fp('L0'), { id: 'retry', sid: 'sl', status: 400 }),
      ex(5, HOME, fp('L1'), { id: 'late', sid: 'sl', issued: fp('L2') }),
    ]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.trigger.id).toBe('late');
    expect(findings[0]!.evidence).toMatchObject({ rotationsSince: 2, triggeredBy: 'late event completing the chain' });
    expect(findings[0]!.eventIds).toEqual(['e0', 'retry', 'late']);
  });

  it('links a parent exchange that arrives after its child', () => {
    const { states, findings } = run([
      ex(0, HOME, fp('o1'), { sid: 'so', issued: fp('o2') }),
      ex(-5, HOME, fp('o0'), { sid: 'so', issued: fp('o1') }),
    ]);
    expect(findings).toEqual([]);
    const st = states.get('sid:so')!;
    expect(st.tokens[fp('o0')]!.gen).toBe(-1);
    expect(st.tokens[fp('o1')]).toMatchObject({ gen: 0, parent: fp('o0') });
  });

  it('bounds the chain to maxGenerations and each token to maxPresentationsPerToken', () => {
    const chain: DetectorCaseEvent[] = [];
    for (let n = 0; n < 60; n++) chain.push(ex(n * 900, HOME, fp(`c${n}`), { sid: 'sc', issued: fp(`c${n + 1}`), issuedAccess: fp(`ca${n + 1}`) }));
    for (let i = 0; i < 30; i++) chain.push(ex(60 * 900 + 3600 + i, THIEF, fp('c58'), { sid: 'sc', status: 401 }));
    const { states, findings } = run(chain, { maxGenerations: 20, maxPresentationsPerToken: 5 });
    const st = states.get('sid:sc')!;
    expect(Object.keys(st.tokens)).toHaveLength(20);
    expect(st.tokens[fp('c40')]).toBeUndefined();
    expect(st.tokens[fp('c58')]!.presentations).toHaveLength(5);
    expect(st.tokens[fp('c58')]!.presentations[0]!.issuedFp).toBe(fp('c59'));
    // one fork, reported once, revoking what is kept: family + 20 refresh + the 20 access fingerprints issued with them
    expect(findings).toHaveLength(1);
    expect(findings[0]!.revocations).toHaveLength(1 + 20 + 20);
  });

  it('reports the first exchange by event time when two rotations of one token arrive reversed', () => {
    const e = (s: DetectorCaseEvent, i: number): EnrichedEvent => caseEvent(s, i);
    const config = RefreshReuseConfigSchema.parse({});
    const thief = e(ex(40, THIEF, fp('r1'), { id: 't', sid: 'sr', issued: fp('rt2') }), 1);
    const owner = e(ex(25, HOME, fp('r1'), { id: 'o', sid: 'sr', issued: fp('r2') }), 2);
    const s0 = detector.step(undefined, e(ex(0, HOME, fp('r0'), { sid: 'sr', issued: fp('r1') }), 0), { config, key: 'sid:sr', watermarkMs: 0 }).state;
    const s1 = detector.step(s0, thief, { config, key: 'sid:sr', watermarkMs: thief.ts });
    expect(s1.findings).toEqual([]);
    const s2 = detector.step(s1.state, owner, { config, key: 'sid:sr', watermarkMs: thief.ts });
    expect(s2.findings).toHaveLength(1);
    expect(s2.findings[0]!.evidence).toMatchObject({
      firstExchange: { eventId: 'o' },
      reuse: { eventId: 't' },
      deltaSec: 15,
      grace: { reason: 'from a different network inside the 30 s grace window' },
    });
  });
});
