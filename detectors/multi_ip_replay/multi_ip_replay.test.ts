import { describe, expect, it } from 'vitest';
import type { DetectorCaseEvent, EnrichedEvent } from '../../src/detect/contract.js';
import { caseEvent, CASE_DEFAULT_FP, CASE_EPOCH_MS, runCase } from '../../src/testing/cases.js';
import { caseEvents, drive } from '../../test/support/drive.js';
import { configSchema, type MultiIpReplayConfig } from './config.js';
import detector, { measure, networkIdentity, windowMatches, type ReplayState, type Sighting } from './index.js';

const cfg = (over: Record<string, unknown> = {}): MultiIpReplayConfig => configSchema.parse(over);

/** The state key of the cases' default token. */
const KEY = `fp:${CASE_DEFAULT_FP}`;

/**
 * keys()/step() straight, one state per key, the watermark the highest event time so far (as the
 * engine passes it); optionally round-trips every state through JSON. `state` is {@link KEY}'s.
 */
function run(events: EnrichedEvent[], opts: { json?: boolean; config?: Record<string, unknown> } = {}) {
  const restore = opts.json ? (s: ReplayState) => JSON.parse(JSON.stringify(s)) as ReplayState : undefined;
  const driven = drive(detector, events, { config: opts.config, restore });
  return { ...driven, state: driven.states.get(KEY) };
}

const HOME = { lat: 51.5142, lon: -0.0931, asn: 2856, country: 'GB' };
const THIEF = { lat: 43.88, lon: 125.3228, asn: 4837, country: 'CN' };
const ev = (i: number, sketch: DetectorCaseEvent): EnrichedEvent => caseEvent(sketch, i);

describe('multi_ip_replay case table', () => {
  it.each(detector.cases.map((c) => [`${c.kind}: ${c.name}`, c] as const))('%s', (_name, c) => {
    expect(runCase(detector, c).problems).toEqual([]);
  });

  it('has cases that fire, look-alikes that stay quiet and boundary cases on both sides', () => {
    const kinds = new Set(detector.cases.map((c) => c.kind));
    expect([...kinds].sort()).toEqual(['boundary', 'fires', 'quiet']);
    const boundary = detector.cases.filter((c) => c.kind === 'boundary');
    expect(boundary.some((c) => c.expect.length === 0)).toBe(true);
    expect(boundary.some((c) => c.expect.length > 0)).toBe(true);
    expect(new Set(detector.cases.map((c) => c.name)).size).toBe(detector.cases.length);
  });

  it('gives the same findings when the state is round-tripped through JSON between steps', () => {
    for (const c of detector.cases) {
      const events = caseEvents(c.events);
      const plain = run(events, { config: c.config });
      const viaJson = run(events, { config: c.config, json: true });
      expect(viaJson.findings.map((f) => [f.trigger.id, f.severity])).toEqual(
        plain.findings.map((f) => [f.trigger.id, f.severity]),
      );
    }
  });
});

describe('config', () => {
  it('has the documented defaults', () => {
    expect(cfg()).toEqual({
      windowSec: 300,
      minAlternations: 3,
      minSpreadAsns: 3,
      maxEventsPerKey: 200,
      credentialTypes: ['access_token', 'api_key', 'session'],
      ignoreStatusCodes: [401],
      raiseSeverityOnUaChange: true,
    });
  });

  it('documents every field', () => {
    for (const [name, field] of Object.entries(configSchema.shape)) {
      expect(field.description, name).toBeTruthy();
    }
  });

  it('rejects unknown keys and names both fields of the cross-field rule', () => {
    expect(configSchema.safeParse({ windowSecs: 60 }).success).toBe(false);
    const r = configSchema.safeParse({ minAlternations: 10, maxEventsPerKey: 10 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/maxEventsPerKey.*minAlternations/);
  });

  it('keeps state for the window plus a margin', () => {
    expect(detector.stateTtlMs(cfg())).toBe(360_000);
    expect(detector.stateTtlMs(cfg({ windowSec: 60 }))).toBe(120_000);
  });
});

describe('networkIdentity', () => {
  it('counts trusted egress as one network, known ASNs by number, unknown ones by prefix', () => {
    expect(networkIdentity({ net: '165.225.0.0/17', asn: 53813, trusted: true })).toEqual({ id: 'trusted', kind: 'trusted' });
    expect(networkIdentity({ net: '147.161.128.0/17', asn: 62044, trusted: true })).toEqual({ id: 'trusted', kind: 'trusted' });
    expect(networkIdentity({ net: '81.2.69.0/24', asn: 2856, trusted: false })).toEqual({ id: 'AS2856', kind: 'asn' });
    expect(networkIdentity({ net: '81.2.69.0/24', asn: 0, trusted: false })).toEqual({ id: 'net:81.2.69.0/24', kind: 'prefix' });
    expect(networkIdentity({ net: '2a02:c7c:8a4e::/48', trusted: false })).toEqual({ id: 'net:2a02:c7c:8a4e::/48', kind: 'prefix' });
  });
});

describe('keys', () => {
  const config = cfg();
  const none = () => undefined;
  it('keys replayable credentials by fingerprint', () => {
    expect(detector.keys(ev(0, { at: 0 }), config, none)).toEqual(['fp:tfp1:caseToken0000000000001']);
    expect(detector.keys(ev(0, { at: 0, cred: { type: 'session', fp: 'tfp1:session00000000001' } }), config, none)).toEqual([
      'fp:tfp1:session00000000001',
    ]);
  });
  it('ignores refresh tokens, rejected requests and reserved addresses', () => {
    expect(detector.keys(ev(0, { at: 0, cred: { type: 'refresh_token' } }), config, none)).toEqual([]);
    expect(detector.keys(ev(0, { at: 0, status: 401 }), config, none)).toEqual([]);
    expect(detector.keys(ev(0, { at: 0, ip: '10.1.2.3' }), config, none)).toEqual([]);
    expect(detector.keys(ev(0, { at: 0, ip: '10.1.2.3', network: { trusted: true, net: '10.0.0.0/8' } }), config, none)).toHaveLength(1);
  });
});

describe('finding', () => {
  const exp = Math.floor(CASE_EPOCH_MS / 1000) + 900;
  const events = caseEvents([
    { at: 0, id: 'o1', ip: '81.2.69.160', geo: HOME, ua: 'App/1', cred: { exp } },
    { at: 10, id: 't1', ip: '175.16.199.37', geo: THIEF, ua: 'curl/8', cred: { exp } },
    { at: 20, id: 'o2', ip: '81.2.69.161', geo: HOME, ua: 'App/1', cred: { exp } },
    { at: 30, id: 't2', ip: '175.16.199.37', geo: THIEF, ua: 'curl/8', cred: { exp } },
  ]);
  const { findings } = run(events);

  it('carries the evidence, the events and the revocation', () => {
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f.severity).toBe('critical');
    expect(f.trigger.id).toBe('t2');
    expect(f.eventIds).toEqual(['o1', 't1', 'o2', 't2']);
    expect(f.sources).toEqual([0, 1, 2, 3].map((i) => ({ topic: 'case', partition: 0, offset: String(i) })));
    expect(f.ips).toEqual(['81.2.69.160', '175.16.199.37', '81.2.69.161']);
    expect(f.countries).toEqual(['GB', 'CN']);
    expect(f.asns).toEqual([2856, 4837]);
    expect(f.revocations).toEqual([{ scope: 'token', id: 'tfp1:caseToken0000000000001', expiresAtMs: exp * 1000 }]);
    expect(f.summary).toContain('tfp1:caseToken0000000000001');
    expect(f.evidence).toMatchObject({
      rules: ['concurrency'],
      windowSec: 300,
      dtSec: 30,
      requests: 4,
      alternations: 3,
      distinctIdentities: 2,
      distinctAsns: 2,
      distinctNetworks: 2,
      distinctIps: 3,
      identities: ['AS2856', 'AS4837'],
      networks: ['81.2.69.0/24', '175.16.199.0/24'],
      asns: [2856, 4837],
      sequence: ['AS2856×1', 'AS4837×1', 'AS2856×1', 'AS4837×1'],
      uaChanged: true,
      thresholds: { windowSec: 300, minAlternations: 3, minSpreadAsns: 3 },
    });
    expect(f.evidence.severityReasons).toEqual(['raised: the user agent differs between networks']);
  });

  it('records why a finding was downgraded', () => {
    const anon = caseEvents([
      { at: 0, id: 'o1', ip: '81.2.69.160', geo: HOME },
      { at: 10, id: 'v1', ip: '89.238.130.71', geo: { ...THIEF, asn: 9009 }, network: { anonymous: true, anonymousReason: 'VPN exit' } },
      { at: 20, id: 'o2', ip: '81.2.69.160', geo: HOME },
      { at: 30, id: 'v2', ip: '89.238.130.71', geo: { ...THIEF, asn: 9009 }, network: { anonymous: true, anonymousReason: 'VPN exit' } },
    ]);
    const f = run(anon).findings[0]!;
    expect(f.severity).toBe('medium');
    expect(f.evidence.anonymous).toEqual({ requests: 2, reasons: ['VPN exit'] });
    expect(String((f.evidence.severityReasons as string[])[0])).toMatch(/^downgraded: 2 request\(s\) from anonymous networks/);
  });

  it('lists the user agents per network and names at most four networks in the summary', () => {
    const f = findings[0]!;
    expect((f.evidence.byIdentity as Array<{ userAgents: string[] }>).map((b) => b.userAgents)).toEqual([['App/1'], ['curl/8']]);
    const asns = [2856, 4837, 12576, 29518, 14061, 16509, 9009];
    const round = caseEvents(asns.map((asn, i) => ({ at: i * 5, ip: `89.160.${20 + i}.1`, geo: { ...HOME, asn } })));
    const wide = run(round, { config: { minSpreadAsns: 10, minAlternations: 6 } }).findings;
    expect(wide).toHaveLength(1);
    expect(wide[0]!.summary).toBe(
      'access_token tfp1:caseToken0000000000001 used concurrently from 7 networks (AS2856, AS4837, AS12576, AS29518 +3 more), 6 alternations within 300 s',
    );
  });

  it('can leave the severity alone on a user-agent change', () => {
    const f = run(events, { config: { raiseSeverityOnUaChange: false } }).findings[0]!;
    expect(f.severity).toBe('high');
    expect(f.evidence.uaChanged).toBe(true);
  });
});

describe('state', () => {
  it('is plain JSON data', () => {
    const { state } = run(
      caseEvents([
        { at: 0, ip: '81.2.69.160', geo: HOME },
        { at: 10, ip: '175.16.199.37', geo: THIEF },
        { at: 20, ip: '81.2.69.160', geo: HOME },
        { at: 30, ip: '175.16.199.37', geo: THIEF },
      ]),
    );
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
    expect(state?.episode).toEqual({ firedAtMs: CASE_EPOCH_MS + 30_000, lastMatchMs: CASE_EPOCH_MS + 30_000 });
  });

  it('stays bounded by maxEventsPerKey and by the window', () => {
    const many: DetectorCaseEvent[] = Array.from({ length: 1000 }, (_, i) => ({
      at: i * 0.25,
      ip: `89.160.${20 + (i % 8)}.${i % 250}`,
      geo: { lat: 58.4, lon: 15.6, asn: 29518 },
    }));
    const { state, findings } = run(caseEvents(many));
    expect(findings).toEqual([]);
    expect(state?.log.items).toHaveLength(200);
    const later = run(caseEvents([...many, { at: 1000, ip: '81.2.69.160', geo: HOME }]));
    expect(later.state?.log.items).toHaveLength(1);
  });

  it('leaves the state as it was on redeliveries and on requests too late for the window', () => {
    const [b, c] = caseEvents([
      { at: 400, id: 'b', ip: '175.16.199.37', geo: THIEF },
      { at: 50, id: 'c', ip: '175.16.199.37', geo: THIEF },
    ]);
    const config = cfg();
    const ctx = { config, key: 'fp:x', watermarkMs: b!.ts };
    const s1 = detector.step(undefined, b!, ctx).state!;
    const before = JSON.stringify(s1);
    const s2 = detector.step(s1, b!, ctx);
    expect(s2.state).toBe(s1);
    expect(detector.step(s1, c!, ctx).state).toBe(s1); // 350 s before the newest request
    expect(JSON.stringify(s1)).toBe(before);
    // The state is handed to one step only, which may update it in place: keep what it returns.
    const s3 = detector.step(s1, ev(3, { at: 390, id: 'a', ip: '81.2.69.160', geo: HOME }), ctx).state!;
    expect(s3.log.items.map((it) => it.v.id)).toEqual(['a', 'b']);
    expect(detector.step(s3, ev(3, { at: 390, id: 'a', ip: '81.2.69.160', geo: HOME }), ctx).state!.log.items).toHaveLength(2);
  });

  it('recognises a redelivered out-of-order request anywhere in the window', () => {
    const events = caseEvents([
      { at: 0, id: 'o1', ip: '81.2.69.160', geo: HOME },
      { at: 10, id: 't1', ip: '175.16.199.37', geo: THIEF },
      { at: 20, id: 'o2', ip: '81.2.69.160', geo: HOME },
    ]);
    const { state } = run([...events, events[1]!, events[0]!]);
    expect(state?.log.items.map((it) => it.v.id)).toEqual(['o1', 't1', 'o2']);
  });

  it('windowMatches decides as measure() does', () => {
    const idents: Array<Pick<Sighting, 'ident' | 'kind'>> = [
      { ident: 'AS1', kind: 'asn' },
      { ident: 'AS2', kind: 'asn' },
      { ident: 'AS3', kind: 'asn' },
      { ident: 'trusted', kind: 'trusted' },
      { ident: 'net:10.0.0.0/24', kind: 'prefix' },
    ];
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 2000; trial++) {
      const items = Array.from({ length: rnd(12) }, (_, i) => {
        const pick = idents[rnd(1 + rnd(idents.length))]!;
        return { t: i, v: { id: String(i), ip: '192.0.2.1', net: '192.0.2.0/24', ...pick } };
      });
      const rules = { minAlternations: 1 + rnd(5), minSpreadAsns: 2 + rnd(3) };
      const m = measure(items);
      const expected = m.alternations >= rules.minAlternations || m.spreadAsns.length >= rules.minSpreadAsns;
      expect(windowMatches(items, rules), JSON.stringify({ items: items.map((it) => it.v.ident), rules })).toBe(expected);
    }
  });
});
