/**
 * Case table of `key_spike` (events built with {@link CaseEvents}, see case_events.ts for the id
 * scheme: the 101st request of minute 10 of key k1 is `k1.m10.100`).
 *
 * Defaults (config.ts): minRatePerMin 60, spreadK 6, baselineRatio 5, baselineHalfLifeMin 7,
 * minHistoryMin 5, newKeyMinNetworks 3. A steady key at 20/min has baseline 20 and spread √20 ≈ 4.47,
 * so its threshold is max(60, 20 + 6·4.47 = 46.8, 5·20 = 100) = 100: the 101st request of a minute fires.
 */
import { CaseEvents, type KeySpikeCase, type Sender, fpOf, hammered } from './case_events.js';
import { networkCases } from './network_cases.js';

export { CaseEvents, TENANT, fpOf, hammered, type KeySpikeCase, type Sender } from './case_events.js';

const k1: Sender = { keyId: 'k1' };
const k2: Sender = { keyId: 'k2' };
const k3: Sender = { keyId: 'k3' };
const k9: Sender = { keyId: 'k9' };
/** an attacker using a leaked key from a few hosting addresses */
const leaked = (keyId: string): Sender => ({ keyId, ips: ['185.220.101.4', '185.220.101.9', '45.155.205.17'] });

/** Deterministic pseudo-random minute counts in [lo, hi] (LCG), for noisy keys. */
function noisy(n: number, lo: number, hi: number, seed = 7): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return lo + (x % (hi - lo + 1));
  });
}

/** Business ramp: `start` per minute growing by `growth` per minute. */
const ramp = (start: number, growth: number, minutes: number): number[] =>
  Array.from({ length: minutes }, (_, j) => Math.round(start * Math.pow(1 + growth, j)));

export const cases: KeySpikeCase[] = [
  // ------------------------------------------------------------------------------ fires
  {
    name: '10× flood on an established key (20/min → 200/min) fires once, at the 101st request of the minute',
    kind: 'fires',
    events: new CaseEvents().steady(k1, 20, 10).steady(leaked('k1'), 200, 2, 10).build(),
    expect: [{ severity: 'high', trigger: 'k1.m10.100', revokes: ['api_key:k1'], summaryIncludes: 'API key k1 (tenant acme)' }],
    attackStartSec: 600,
  },
  {
    name: '50× flood on a quiet key (4/min → 200/min): the minRatePerMin floor (60) sets the threshold',
    kind: 'fires',
    events: new CaseEvents().steady(k2, 4, 10).steady(leaked('k2'), 200, 2, 10).build(),
    expect: [{ severity: 'high', trigger: 'k2.m10.60', revokes: ['api_key:k2'], summaryIncludes: 'minRatePerMin' }],
    attackStartSec: 600,
  },
  {
    name: 'flood starting 40 s into a minute is caught in the next minute, within 2 minutes of its start',
    kind: 'fires',
    events: new CaseEvents().steady(k1, 20, 10).rate(k1, 20, 600, 640).rate(leaked('k1'), 200, 640, 780).build(),
    // minute 10 (80 requests, under 100) enters the baseline: 25.64/min, spread 17.5 → threshold 130.7
    expect: [{ severity: 'high', trigger: 'k1.m11.130', revokes: ['api_key:k1'] }],
    attackStartSec: 640,
  },
  {
    name: 'sustained flood on a noisy key (5–90/min → 500/min) fires once',
    kind: 'fires',
    events: new CaseEvents().perMinute(k1, noisy(16, 5, 90)).steady(leaked('k1'), 500, 3, 16).build(),
    expect: [{ severity: 'high', revokes: ['api_key:k1'] }],
    attackStartSec: 960,
  },
  {
    name: 'new key of a tenant with established keys floods (20/min → 200/min) from five ASNs: judged against the tenant prior',
    kind: 'fires',
    events: new CaseEvents()
      .steady(k1, 20, 16)
      .steady(k2, 20, 16)
      .steady(k3, 20, 16)
      .steady(k9, 20, 3, 8)
      .steady(hammered('k9'), 200, 4, 11)
      .build(),
    // prior: median 20/min, MAD 0 → spread √20, threshold 100; five networks in the minute. The key
    // gets its own baseline at minute 13, still flooding: same episode, no second finding.
    expect: [{ severity: 'high', trigger: 'k9.m11.100', revokes: ['api_key:k9'], summaryIncludes: 'new API key k9' }],
    attackStartSec: 660,
  },
  {
    name: 'fresh key whose very first requests are a 50× flood over the tenant prior (4/min → 200/min) from five ASNs',
    kind: 'fires',
    events: new CaseEvents()
      .steady(k1, 4, 8)
      .steady(k2, 4, 8)
      .steady(k3, 4, 8)
      .steady(hammered('k9'), 200, 2, 6)
      .build(),
    expect: [{ severity: 'high', trigger: 'k9.m6.60', revokes: ['api_key:k9'], summaryIncludes: 'tenant prior' }],
    attackStartSec: 360,
  },
  {
    name: 'one route of a key spikes (export 2/min → 80/min) while the key total stays normal: key × route finding',
    kind: 'fires',
    events: new CaseEvents()
      .steady({ keyId: 'k1', route: '/v1/orders' }, 100, 11)
      .steady({ keyId: 'k1', route: '/v1/export', tag: 'k1x' }, 2, 10)
      .steady({ keyId: 'k1', route: '/v1/export', tag: 'k1x', ips: ['45.155.205.17'] }, 80, 1, 10)
      .build(),
    // key total 180 < its threshold 510; the export route: baseline 2, threshold max(60, 10.5, 10) = 60
    expect: [{ severity: 'high', trigger: 'k1x.m10.60', revokes: ['api_key:k1'], summaryIncludes: 'on /v1/export' }],
    attackStartSec: 600,
  },
  {
    name: 'key ids, tenants and routes that name Object.prototype members (__proto__, constructor, toString) are ordinary keys: a flood fires',
    kind: 'fires',
    events: new CaseEvents()
      .steady({ keyId: '__proto__', tenant: 'constructor' }, 20, 10)
      .steady({ keyId: '__proto__', tenant: 'constructor', ips: ['185.220.101.4', '45.155.205.17'] }, 200, 2, 10)
      .steady({ keyId: 'toString', route: 'constructor', tag: 'ts' }, 2, 11)
      .build(),
    expect: [{ severity: 'high', trigger: '__proto__.m10.100', revokes: ['api_key:__proto__'], summaryIncludes: 'API key __proto__ (tenant constructor)' }],
    attackStartSec: 600,
  },
  {
    name: 'a route named like an Object.prototype member (toString) spikes: key × route finding',
    kind: 'fires',
    events: new CaseEvents()
      .steady({ keyId: 'hasOwnProperty', route: '/v1/orders' }, 100, 11)
      .steady({ keyId: 'hasOwnProperty', route: 'toString', tag: 'hx' }, 2, 10)
      .steady({ keyId: 'hasOwnProperty', route: 'toString', tag: 'hx', ips: ['45.155.205.17'] }, 80, 1, 10)
      .build(),
    expect: [{ severity: 'high', trigger: 'hx.m10.60', revokes: ['api_key:hasOwnProperty'], summaryIncludes: 'on toString' }],
    attackStartSec: 600,
  },
  {
    name: 'late events (within the 30 s lateness) land in their own minute and push it over the threshold',
    kind: 'fires',
    events: new CaseEvents()
      .steady(k1, 20, 10)
      .rate(k1, 95 * 6, 600, 610)
      .rate(k1, 20, 660, 720)
      .lateAfter(k1, [650, 651, 652, 653, 654, 655, 656, 657, 658, 659], 668)
      .build(),
    // minute 10 holds 95 requests on time; the 6th late one (event time 10:10:55, delivered after
    // 10:11:07.5) is its 101st. Counted by arrival it would be in minute 11 and nothing would fire.
    expect: [{ severity: 'high', trigger: 'k1.m10.100', revokes: ['api_key:k1'] }],
    attackStartSec: 600,
  },
  {
    name: 'two floods separated by a quiet minute are two episodes and fire twice',
    kind: 'fires',
    events: new CaseEvents()
      .steady(k1, 20, 10)
      .steady(leaked('k1'), 200, 2, 10)
      .steady(k1, 20, 1, 12)
      .steady(leaked('k1'), 200, 1, 13)
      .build(),
    expect: [
      { severity: 'high', trigger: 'k1.m10.100', revokes: ['api_key:k1'] },
      { severity: 'high', revokes: ['api_key:k1'] },
    ],
    attackStartSec: 600,
  },
  {
    name: 'a key without key_id is tracked by its fingerprint and revoked as a token',
    kind: 'fires',
    events: new CaseEvents()
      .steady({ keyId: 'k7', noKeyId: true }, 20, 10)
      .steady({ keyId: 'k7', noKeyId: true }, 200, 1, 10)
      .build(),
    expect: [{ severity: 'high', trigger: 'k7.m10.100', revokes: [`token:${fpOf('k7')}`] }],
    attackStartSec: 600,
  },

  // ------------------------------------------------------------------------------ quiet
  {
    name: 'business ramp of +20 %/min for 20 minutes (10/min → 319/min): the baseline follows',
    kind: 'quiet',
    events: new CaseEvents().perMinute(k1, ramp(10, 0.2, 20)).build(),
    expect: [],
  },
  {
    name: 'busy key at a steady 300/min',
    kind: 'quiet',
    events: new CaseEvents().steady(k1, 300, 8).build(),
    expect: [],
  },
  {
    name: 'noisy key between 5 and 90 requests/min',
    kind: 'quiet',
    events: new CaseEvents().perMinute(k1, noisy(20, 5, 90)).build(),
    expect: [],
  },
  {
    name: 'periodic batch: 100 requests every 5 minutes on a 5/min background',
    kind: 'quiet',
    events: new CaseEvents().perMinute(k1, Array.from({ length: 21 }, (_, j) => (j % 5 === 0 ? 105 : 5))).build(),
    expect: [],
  },
  {
    name: 'new key of a tenant starts at 3× the prior (60/min with keys at 20/min)',
    kind: 'quiet',
    events: new CaseEvents().steady(k1, 20, 14).steady(k2, 20, 14).steady(k3, 20, 14).steady(k9, 60, 6, 8).build(),
    expect: [],
  },
  {
    name: 'cold start: a busy key already in use when the tenant is first seen is not a new key',
    kind: 'quiet',
    events: new CaseEvents().steady(k1, 5, 7).steady(k2, 5, 7).steady({ keyId: 'k8' }, 300, 7).build(),
    expect: [],
  },
  {
    name: 'a flood on an access token (not an API key) is not watched by this detector',
    kind: 'quiet',
    events: new CaseEvents()
      .steady({ keyId: 'k1', credType: 'access_token' }, 20, 10)
      .steady({ keyId: 'k1', credType: 'access_token' }, 200, 1, 10)
      .build(),
    expect: [],
  },

  // --------------------------------------------------------------------------- boundary
  {
    name: 'just under: 100 requests in a minute on a 20/min key (threshold exactly 100)',
    kind: 'boundary',
    events: new CaseEvents().steady(k1, 20, 10).steady(k1, 100, 1, 10).build(),
    expect: [],
  },
  {
    name: 'just over: 101 requests in a minute on a 20/min key',
    kind: 'boundary',
    events: new CaseEvents().steady(k1, 20, 10).steady(k1, 101, 1, 10).build(),
    expect: [{ severity: 'high', trigger: 'k1.m10.100', revokes: ['api_key:k1'], summaryIncludes: 'ratioTimesBaseline' }],
  },
  {
    name: 'just under the tenant prior: a new key makes 100 requests in its first minute (prior threshold 100)',
    kind: 'boundary',
    events: new CaseEvents().steady(k1, 20, 10).steady(k2, 20, 10).steady(k3, 20, 10).steady(k9, 100, 1, 8).build(),
    expect: [],
  },
  ...networkCases,
];
