import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EnrichedEvent } from '../../src/detect/contract.js';
import { CASE_EPOCH_MS, caseEvent, runCase } from '../../src/testing/cases.js';
import { caseEvents, drive } from '../../test/support/drive.js';
import { CaseEvents, cases, fpOf } from './cases.js';
import { configSchema } from './config.js';
import detector, {
  DETECTOR_ID,
  MINUTE_MS,
  SAMPLE_VALUES,
  STATE_LAYOUT,
  TENANT_SHARDS,
  normaliseRoute,
  threshold,
  upgradeState,
  type KeySpikeState,
  type KeyState,
  type Series,
  type TenantState,
} from './index.js';

const defaults = configSchema.parse({});

/** A state in the layout written before STATE_LAYOUT 2 (open minutes as records keyed by minute start). */
function toLayout1(state: KeySpikeState): unknown {
  const s = JSON.parse(JSON.stringify(state)) as KeySpikeState;
  const { v: _v, ...rest } = s;
  const series = ({ open, ...r }: Series) => ({
    ...r,
    open: { bucketMs: MINUTE_MS, counts: Object.fromEntries(open.map((o) => [String(o.m), o.n])) },
    samples: Object.fromEntries(open.map((o) => [String(o.m), o.s])),
  });
  if (rest.kind === 'key') {
    return { ...rest, total: series(rest.total), routes: Object.fromEntries(Object.entries(rest.routes).map(([r, x]) => [r, series(x)])) };
  }
  const shards = rest.shards.map((shard) =>
    Object.fromEntries(
      Object.entries(shard).map(([keyId, { open, ...k }]) => {
        const samples = open.filter((o) => o.s !== undefined);
        return [
          keyId,
          {
            ...k,
            open: Object.fromEntries(open.map((o) => [String(o.m), o.n])),
            ...(samples.length > 0 ? { samples: Object.fromEntries(samples.map((o) => [String(o.m), o.s])) } : {}),
          },
        ];
      }),
    ),
  );
  return { ...rest, shards };
}

interface StateOptions {
  /** pass every state through JSON (as a changelog restore would) before the next step */
  jsonRoundTrip?: boolean;
  /** hand every step its state in the earlier layout (as a changelog written before would) */
  layout1?: boolean;
  /** record each finding as JSON when it is made, to prove later steps do not change it */
  snapshots?: string[];
}

/** keys()/step() straight (no engine), keeping the states; each step's watermark is its own event's time. */
function run(events: EnrichedEvent[], overrides: Record<string, unknown> = {}, opts: StateOptions = {}) {
  const { jsonRoundTrip, layout1, snapshots } = opts;
  const restore = (s: KeySpikeState): KeySpikeState => {
    let next = s;
    if (jsonRoundTrip) next = JSON.parse(JSON.stringify(next)) as KeySpikeState;
    if (layout1) next = toLayout1(next) as KeySpikeState;
    return next;
  };
  return drive(detector, events, {
    config: overrides,
    watermark: 'event',
    restore,
    onFinding: snapshots && ((f) => snapshots.push(JSON.stringify(f))),
  });
}

describe('key_spike case table', () => {
  it.each(cases.map((c) => [`${c.kind}: ${c.name}`, c] as const))('%s', (_name, c) => {
    expect(runCase(detector, c).problems).toEqual([]);
  });

  it('has fires, quiet and boundary cases', () => {
    for (const kind of ['fires', 'quiet', 'boundary'] as const) expect(cases.some((c) => c.kind === kind)).toBe(true);
  });

  it('catches every attack within 2 minutes of its start', () => {
    for (const c of cases.filter((x) => x.kind === 'fires')) {
      expect(c.attackStartSec, c.name).toBeDefined();
      const { findings } = runCase(detector, c);
      const delayMs = findings[0]!.trigger.ts - (CASE_EPOCH_MS + c.attackStartSec! * 1000);
      expect(delayMs, c.name).toBeGreaterThanOrEqual(0);
      expect(delayMs, c.name).toBeLessThanOrEqual(120_000);
    }
  });
});

describe('key_spike state', () => {
  const sample = cases.filter((c) => /new key of a tenant with|one route|late events|two floods|noisy key \(|just at the spread|from 30 s into/.test(c.name));

  it('updates its state in place without reaching into findings already made', () => {
    for (const c of sample) {
      const events = caseEvents(c.events);
      const snapshots: string[] = [];
      const { findings } = run(events, c.config, { snapshots });
      expect(findings.map((f) => f.trigger.id), c.name).toEqual(runCase(detector, c).findings.map((f) => f.trigger.id));
      // Later steps changed the states the findings were drawn from; the findings stayed as made.
      expect(findings.map(({ key: _key, ...f }) => JSON.stringify(f)), c.name).toEqual(snapshots);
    }
  });

  it('is plain JSON: a changelog round trip after every step changes nothing', () => {
    for (const c of sample) {
      const events = caseEvents(c.events);
      const plain = run(events, c.config);
      const restored = run(events, c.config, { jsonRoundTrip: true });
      expect(restored.findings, c.name).toEqual(plain.findings);
      for (const [k, s] of plain.states) expect(JSON.parse(JSON.stringify(s)), `${c.name} ${k}`).toEqual(s);
    }
  });

  it('upgrades states of the earlier layout (restored from an older changelog) without losing history', () => {
    for (const c of sample) {
      const events = caseEvents(c.events);
      const plain = run(events, c.config);
      const viaLayout1 = run(events, c.config, { layout1: true });
      expect(viaLayout1.findings, c.name).toEqual(plain.findings);
      for (const [k, s] of viaLayout1.states) {
        expect(upgradeState(s), `${c.name} ${k}`).toEqual(plain.states.get(k));
        expect(upgradeState(s).v).toBe(STATE_LAYOUT);
      }
    }
  });

  it('is deterministic: replaying the same events gives the same findings', () => {
    const c = cases[0]!;
    expect(runCase(detector, c).findings).toEqual(runCase(detector, c).findings);
  });

  it('keeps at most maxRoutesPerKey routes per key', () => {
    const b = new CaseEvents();
    for (let r = 0; r < 40; r++) b.steady({ keyId: 'k1', route: `/v1/r${r}`, tag: `r${r}` }, 2, 3);
    const { states } = run(caseEvents(b.build()), { maxRoutesPerKey: 8 });
    const st = states.get('key:acme:k1') as KeyState;
    expect(Object.keys(st.routes).length).toBeLessThanOrEqual(8);
  });

  it('keeps at most maxKeysPerTenant keys in the tenant state and counts evictions', () => {
    const b = new CaseEvents();
    for (let k = 0; k < 30; k++) b.steady({ keyId: `key${k}` }, 2, 2);
    const { states } = run(caseEvents(b.build()), { maxKeysPerTenant: 10 });
    const st = states.get('tenant:acme') as TenantState;
    const tracked = st.shards.reduce((n, s) => n + Object.keys(s).length, 0);
    expect(st.shards.length).toBe(TENANT_SHARDS);
    expect(tracked).toBe(st.size);
    expect(st.size).toBeLessThanOrEqual(10);
    expect(st.evictedKeys).toBeGreaterThanOrEqual(20);
  });

  it('keeps evidence samples bounded and only for open minutes', () => {
    const c = cases.find((x) => x.name.startsWith('busy key'))!;
    const { states } = run(caseEvents(c.events));
    const st = states.get('key:acme:k1') as KeyState;
    expect(st.total.open.length).toBeLessThanOrEqual(2);
    for (const o of st.total.open) expect(o.s.ids.length).toBeLessThanOrEqual(5);
    expect(st.total.open.map((o) => o.m)).toEqual([...st.total.open.map((o) => o.m)].sort((a, b) => a - b));
  });

  it('keeps the distinct networks of a new key\'s minute bounded, and none once the key is established', () => {
    const b = new CaseEvents().steady({ keyId: 'k1' }, 20, 7);
    const ips = Array.from({ length: 40 }, (_, i) => `81.${10 + i}.1.1`);
    b.steady({ keyId: 'k9', ips }, 80, 1, 6);
    const mid = run(caseEvents(b.build())).states.get('tenant:acme') as TenantState;
    const nets = mid.shards.flatMap((sh) => Object.values(sh)).flatMap((k) => k.open.map((o) => o.s?.nets?.length ?? 0));
    expect(Math.max(...nets)).toBe(SAMPLE_VALUES);
    const later = run(caseEvents(b.steady({ keyId: 'k9' }, 5, 6, 7).build())).states.get('tenant:acme') as TenantState;
    for (const k of later.shards.flatMap((sh) => Object.values(sh))) for (const o of k.open) expect(o.s).toBeUndefined();
  });

  it('counts networks from where it is in a state restored from before they were counted (no nets)', () => {
    const c = cases.find((x) => x.name.startsWith('just at the spread'))!;
    let stripped = 0;
    const strip = (st: KeySpikeState): KeySpikeState => {
      // once, 10 s into the new key's first minute: as if restored from a state written before
      if (st.kind !== 'tenant' || stripped > 0 || st.maxTs < CASE_EPOCH_MS + 370_000) return st;
      for (const k of st.shards.flatMap((sh) => Object.values(sh))) for (const o of k.open) if (o.s) delete o.s.nets;
      stripped += 1;
      return st;
    };
    const { findings } = drive(detector, caseEvents(c.events), { restore: strip });
    expect(stripped).toBe(1);
    expect(findings.map((f) => f.trigger.id)).toEqual(['k9c.m6.0']);
  });

  it('ignores events later than the allowed lateness, and counts them', () => {
    const events = caseEvents(
      new CaseEvents()
        .steady({ keyId: 'k1' }, 20, 10)
        .steady({ keyId: 'k1' }, 20, 1, 10)
        .lateAfter({ keyId: 'k1', tag: 'late' }, Array.from({ length: 200 }, (_, i) => 540 + i * 0.2), 700)
        .build(),
    );
    const { findings, states } = run(events);
    expect(findings).toEqual([]);
    expect((states.get('key:acme:k1') as KeyState).lateEvents).toBe(200);
    expect((states.get('tenant:acme') as TenantState).lateEvents).toBe(200);
  });
});

describe('key_spike findings', () => {
  it('carries the evidence a triager needs', () => {
    const c = cases[0]!;
    const f = runCase(detector, c).findings[0]!;
    expect(f.key).toBe('key:acme:k1');
    expect(f.discriminator).toBe('key');
    expect(f.evidence).toMatchObject({
      scope: 'key',
      tenant: 'acme',
      keyId: 'k1',
      keyIdSource: 'key_id',
      count: 101,
      baselinePerMin: 20,
      spreadPerMin: 4.47,
      spreadSource: 'poisson',
      thresholds: { minRatePerMin: 60, baselinePlusKSpread: 46.83, ratioTimesBaseline: 100, thresholdPerMin: 100, winner: 'ratioTimesBaseline' },
      historyMinutes: 10,
      priorUsed: false,
      minuteStart: '2026-11-30T10:10:00.000Z',
    });
    expect(f.eventIds).toEqual(['k1.m10.0', 'k1.m10.1', 'k1.m10.2', 'k1.m10.3', 'k1.m10.4', 'k1.m10.100']);
    expect(f.sources).toHaveLength(6);
    expect(f.ips).toEqual(['185.220.101.4', '185.220.101.9', '45.155.205.17']);
    expect(f.revocations).toEqual([{ scope: 'api_key', id: 'k1' }]);
  });

  it('says when the tenant prior was used', () => {
    const c = cases.find((x) => x.name.startsWith('new key of a tenant with established'))!;
    const f = runCase(detector, c).findings[0]!;
    expect(f.key).toBe('tenant:acme');
    expect(f.evidence).toMatchObject({ scope: 'new_key', priorUsed: true, keyId: 'k9', baselinePerMin: 20 });
    expect((f.evidence.prior as { keyMinutes: number }).keyMinutes).toBeGreaterThanOrEqual(10);
    expect(f.evidence.networkSpread).toEqual({
      networks: 5,
      newKeyMinNetworks: 3,
      countedUpTo: SAMPLE_VALUES,
      unit: 'ASN when known, else IPv4 /24 or IPv6 /48',
      sample: ['AS60729', 'AS49505', 'AS206728', 'AS202425', 'AS49453'],
    });
    expect(f.summary).toContain('5 networks, min 3');
  });

  it('states the networks of a new key judged from fewer than newKeyMinNetworks, only when the rule is relaxed', () => {
    const c = cases.find((x) => x.name.startsWith('new deployment: a brand-new key'))!;
    expect(runCase(detector, c).findings).toEqual([]);
    const relaxed = runCase(detector, { ...c, config: { newKeyMinNetworks: 1 } }).findings;
    expect(relaxed.map((f) => f.trigger.id)).toEqual(['k9.m6.100']);
    expect(relaxed[0]!.evidence.networkSpread).toMatchObject({ networks: 1, newKeyMinNetworks: 1, sample: ['81.2.69.0/24'] });
    expect(relaxed[0]!.summary).toContain('1 network, min 1');
  });

  it('does not apply the network spread to keys judged by their own history', () => {
    const f = runCase(detector, cases[0]!).findings[0]!;
    expect(f.evidence.networkSpread).toBeUndefined();
    expect(runCase(detector, { ...cases[0]!, config: { newKeyMinNetworks: 10 } }).findings.map((x) => x.trigger.id)).toEqual(['k1.m10.100']);
  });

  it('names the route of a key × route finding', () => {
    const c = cases.find((x) => x.name.startsWith('one route'))!;
    const f = runCase(detector, c).findings[0]!;
    expect(f.discriminator).toBe('route:/v1/export');
    expect(f.evidence).toMatchObject({ scope: 'key_route', route: '/v1/export', count: 61 });
    expect(f.evidence.keyCountInMinute).toBeLessThan(510);
  });
});

describe('key_spike keys()', () => {
  const base = (over: Record<string, unknown> = {}) =>
    caseEvent({ at: 0, tenant: 'acme', cred: { type: 'api_key', fp: fpOf('k1'), key_id: 'k1' }, ...over }, 0);

  it('routes an API-key request to its key and its tenant', () => {
    expect(detector.keys(base(), defaults, () => undefined)).toEqual(['key:acme:k1', 'tenant:acme']);
    expect(detector.keys(base(), configSchema.parse({ tenantPriorEnabled: false }), () => undefined)).toEqual(['key:acme:k1']);
  });

  it('falls back to the fingerprint and encodes the components', () => {
    const e = base({ tenant: 'a:b', cred: { type: 'api_key', fp: fpOf('k1') } });
    expect(detector.keys(e, defaults, () => undefined)).toEqual([`key:a%3Ab:${encodeURIComponent(fpOf('k1'))}`, 'tenant:a%3Ab']);
  });

  it('ignores other credential types, ignored keys and rejected requests', () => {
    expect(detector.keys(base({ cred: { type: 'access_token', fp: fpOf('k1') } }), defaults, () => undefined)).toEqual([]);
    expect(detector.keys(base(), configSchema.parse({ ignoreKeyIds: ['k1'] }), () => undefined)).toEqual([]);
    expect(detector.keys(base({ status: 401 }), defaults, () => undefined)).toEqual([]);
  });
});

describe('key_spike rule helpers', () => {
  it('threshold = max of the three terms, spread at least √baseline', () => {
    expect(threshold(20, 0, defaults)).toMatchObject({ thresholdPerMin: 100, winner: 'ratioTimesBaseline', spreadSource: 'poisson' });
    expect(threshold(4, 0, defaults)).toMatchObject({ thresholdPerMin: 60, winner: 'minRatePerMin' });
    expect(threshold(50, 40, defaults)).toMatchObject({ thresholdPerMin: 290, winner: 'baselinePlusKSpread', spreadSource: 'ewma' });
  });

  it('normalises id-like route segments', () => {
    expect(normaliseRoute('/v1/orders/12345?expand=1', true)).toBe('/v1/orders/{id}');
    expect(normaliseRoute('/v1/users/3f1c2a9e-1b2c-4d5e-8f90-123456789abc/keys', true)).toBe('/v1/users/{id}/keys');
    expect(normaliseRoute('/v1/blobs/deadbeefdeadbeef00', true)).toBe('/v1/blobs/{id}');
    expect(normaliseRoute('/v1/orders/{id}', true)).toBe('/v1/orders/{id}');
    expect(normaliseRoute('/v1/orders/12345', false)).toBe('/v1/orders/12345');
  });
});

describe('key_spike config and docs', () => {
  it('is strict, documented and defaulted', () => {
    expect(() => configSchema.parse({ minRate: 5 })).toThrow();
    expect(() => configSchema.parse({ stateIdleTtlMin: 5, minHistoryMin: 5 })).toThrow(/stateIdleTtlMin.*minHistoryMin/);
    expect(() => configSchema.parse({ newKeyMinNetworks: SAMPLE_VALUES + 1 })).toThrow();
    expect(() => configSchema.parse({ newKeyMinNetworks: 0 })).toThrow();
    const shape = configSchema.shape as Record<string, { description?: string }>;
    for (const [name, field] of Object.entries(shape)) {
      expect(field.description, name).toBeTruthy();
      expect((defaults as Record<string, unknown>)[name], name).toBeDefined();
    }
  });

  it('has metadata matching the folder', () => {
    expect(detector.meta).toMatchObject({ id: DETECTOR_ID, severity: 'high', defaultAction: 'alert' });
    expect(detector.stateTtlMs(defaults)).toBe(60 * MINUTE_MS);
  });

  it('has a README with exactly the required sections and a valid tuning snippet', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    const sections = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(sections).toEqual(['What it detects', 'Triage', 'False positives', 'Tuning', 'Response', 'References']);
    const tuning = readme.slice(readme.indexOf('## Tuning'), readme.indexOf('## Response'));
    const json = /```json\n([\s\S]*?)```/.exec(tuning)![1]!;
    const snippet = JSON.parse(json) as { detectors: Record<string, unknown> };
    expect(() => configSchema.parse(snippet.detectors[DETECTOR_ID])).not.toThrow();
  });
});
