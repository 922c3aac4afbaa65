/**
 * Case table of `impossible_travel` (STYLE habit 6): event sketches with relative times (seconds) →
 * exactly the findings expected. Events run in array order, so a later `at` listed earlier is an
 * out-of-order arrival. Locations come from `geo` (the runner turns it into `event.location`).
 */
import type { DetectorCase } from '../../src/detect/contract.js';

const FP = 'tfp1:caseToken0000000000001';
const FP_B = 'tfp1:caseToken0000000000002';
const REVOKE = [`token:${FP}`];

interface Place {
  ip: string;
  geo: { lat: number; lon: number; accuracy_km: number; country: string; city?: string; asn: number };
}

/** Realistic public addresses with city-level GeoIP answers (accuracy radii as MaxMind reports them). */
const P = {
  london: { ip: '81.2.69.142', geo: { lat: 51.5074, lon: -0.1278, accuracy_km: 5, country: 'GB', city: 'London', asn: 20712 } },
  newYork: { ip: '72.229.28.185', geo: { lat: 40.7128, lon: -74.006, accuracy_km: 20, country: 'US', city: 'New York', asn: 12271 } },
  berlin: { ip: '91.64.0.10', geo: { lat: 52.52, lon: 13.405, accuracy_km: 10, country: 'DE', city: 'Berlin', asn: 3209 } },
  sydney: { ip: '2001:8004:1100:2a::10', geo: { lat: -33.8688, lon: 151.2093, accuracy_km: 20, country: 'AU', city: 'Sydney', asn: 1221 } },
  paris: { ip: '90.84.12.10', geo: { lat: 48.8566, lon: 2.3522, accuracy_km: 5, country: 'FR', city: 'Paris', asn: 3215 } },
  lyon: { ip: '90.85.1.10', geo: { lat: 45.764, lon: 4.8357, accuracy_km: 5, country: 'FR', city: 'Lyon', asn: 3215 } },
  bordeaux: { ip: '90.86.5.10', geo: { lat: 44.8378, lon: -0.5792, accuracy_km: 5, country: 'FR', city: 'Bordeaux', asn: 3215 } },
  munich: { ip: '91.65.0.10', geo: { lat: 48.1351, lon: 11.582, accuracy_km: 5, country: 'DE', city: 'Munich', asn: 3209 } },
  berlin5: { ip: '91.64.0.11', geo: { lat: 52.52, lon: 13.405, accuracy_km: 5, country: 'DE', city: 'Berlin', asn: 3209 } },
  madrid: { ip: '83.59.0.10', geo: { lat: 40.4168, lon: -3.7038, accuracy_km: 5, country: 'ES', city: 'Madrid', asn: 3352 } },
  moscow: { ip: '95.165.0.10', geo: { lat: 55.7558, lon: 37.6173, accuracy_km: 10, country: 'RU', city: 'Moscow', asn: 25513 } },
  linkoping: { ip: '89.160.20.112', geo: { lat: 58.4108, lon: 15.6214, accuracy_km: 100, country: 'SE', city: 'Linköping', asn: 29518 } },
  stockholm: { ip: '89.160.21.10', geo: { lat: 59.3293, lon: 18.0686, accuracy_km: 100, country: 'SE', city: 'Stockholm', asn: 29518 } },
  berlinCoarse: { ip: '91.64.0.12', geo: { lat: 52.52, lon: 13.405, accuracy_km: 100, country: 'DE', city: 'Berlin', asn: 3209 } },
  warsawCoarse: { ip: '83.0.0.10', geo: { lat: 52.2297, lon: 21.0122, accuracy_km: 100, country: 'PL', city: 'Warsaw', asn: 5617 } },
  /** country-level answer: the centroid of the US with a 500 km radius */
  usCountryOnly: { ip: '12.0.0.10', geo: { lat: 37.751, lon: -97.822, accuracy_km: 500, country: 'US', asn: 7018 } },
} satisfies Record<string, Place>;

/** A commercial VPN exit in New York: located there, flagged anonymous by the runtime. */
const vpnNewYork = {
  ip: '185.159.157.10',
  geo: { lat: 40.7128, lon: -74.006, accuracy_km: 20, country: 'US', city: 'New York', asn: 209103 },
  network: { anonymous: true, anonymousReason: 'commercial VPN (AS209103)' },
};

const user = (sub: string, extra: Record<string, unknown> = {}) => ({ cred: { type: 'access_token', fp: FP, sub, ...extra }, tenant: 'acme' });

export const cases: DetectorCase[] = [
  // ------------------------------------------------------------------ fires
  {
    name: 'London then New York 1 h later: credential (revoke) and subject (alert only)',
    kind: 'fires',
    events: [
      { at: 0, ...P.london, ...user('user-42', { exp: 1796038200 }) },
      { at: 3600, ...P.newYork, ...user('user-42', { exp: 1796038200 }) },
    ],
    expect: [
      { severity: 'high', trigger: 'e1', revokes: REVOKE, summaryIncludes: 'Impossible travel of credential', alertOnly: false },
      { severity: 'medium', trigger: 'e1', summaryIncludes: 'subject user-42 (tenant acme)', alertOnly: true },
    ],
  },
  {
    name: 'Berlin and Sydney interleaved within seconds: simultaneous use, reported once',
    kind: 'fires',
    events: [
      { at: 0, ...P.berlin },
      { at: 5, ...P.sydney },
      { at: 10, ...P.berlin },
      { at: 15, ...P.sydney },
    ],
    expect: [{ severity: 'high', trigger: 'e1', revokes: REVOKE, summaryIncludes: 'Simultaneous use' }],
  },
  {
    name: 'out of order within lateness: Sydney event arrives after a later Berlin one and is judged between them',
    kind: 'fires',
    events: [
      { at: 0, ...P.berlin },
      { at: 20, ...P.berlin },
      { at: 10, ...P.sydney },
    ],
    expect: [{ severity: 'high', trigger: 'e2', revokes: REVOKE, summaryIncludes: 'Simultaneous use' }],
  },
  {
    name: 'out of order (delayed batch): Moscow 30 min after London arrives after a Moscow event 10 h later',
    kind: 'fires',
    events: [
      { at: 0, ...P.london },
      { at: 36_000, ...P.moscow },
      { at: 1800, ...P.moscow },
    ],
    expect: [{ severity: 'high', trigger: 'e2', revokes: REVOKE, summaryIncludes: 'London, GB → Moscow, RU' }],
  },
  {
    name: 'London and New York alternating: one finding per place pair, not one per switch',
    kind: 'fires',
    events: [
      { at: 0, ...P.london },
      { at: 3600, ...P.newYork },
      { at: 3700, ...P.london },
      { at: 3800, ...P.newYork },
      { at: 7200, ...P.london },
    ],
    expect: [{ severity: 'high', trigger: 'e1', revokes: REVOKE }],
  },
  {
    name: 'subject level: two tokens of one user in London and New York 30 min apart (alert only)',
    kind: 'fires',
    events: [
      { at: 0, ...P.london, cred: { type: 'access_token', fp: FP, sub: 'alice' }, tenant: 'acme' },
      { at: 1800, ...P.newYork, cred: { type: 'access_token', fp: FP_B, sub: 'alice' }, tenant: 'acme' },
    ],
    expect: [{ severity: 'medium', trigger: 'e1', summaryIncludes: 'subject alice', alertOnly: true }],
  },
  {
    name: 'VPN exit in New York 10 min after London: judged but downgraded to low, alert only, never cached',
    kind: 'fires',
    events: [
      { at: 0, ...P.london, ...user('user-7') },
      { at: 600, ...vpnNewYork, ...user('user-7') },
      { at: 1200, ...P.london, ...user('user-7') },
      { at: 1800, ...vpnNewYork, ...user('user-7') },
    ],
    expect: [
      { severity: 'low', trigger: 'e1', summaryIncludes: 'downgraded: commercial VPN', alertOnly: true },
      { severity: 'low', trigger: 'e1', summaryIncludes: 'subject user-7', alertOnly: true },
    ],
  },

  {
    name: 'a real New York hop after a downgraded VPN hop on the same places still fires at full severity',
    kind: 'fires',
    events: [
      { at: 0, ...P.london },
      { at: 600, ...vpnNewYork },
      { at: 900, ...P.newYork },
    ],
    expect: [
      { severity: 'low', trigger: 'e1', alertOnly: true },
      { severity: 'high', trigger: 'e2', revokes: REVOKE, alertOnly: false },
    ],
  },

  // ------------------------------------------------------------------ quiet
  {
    name: 'London then New York 8 h later: a real flight (696 km/h)',
    kind: 'quiet',
    events: [
      { at: 0, ...P.london, ...user('user-42') },
      { at: 8 * 3600, ...P.newYork, ...user('user-42') },
    ],
    expect: [],
  },
  {
    name: 'Paris then Lyon 2 h later: a train',
    kind: 'quiet',
    events: [
      { at: 0, ...P.paris },
      { at: 7200, ...P.lyon },
    ],
    expect: [],
  },
  {
    name: 'late London event during a real flight: compared with its neighbours, not the last arrival',
    kind: 'quiet',
    events: [
      { at: 0, ...P.london },
      { at: 8 * 3600, ...P.newYork },
      { at: 600, ...P.london },
    ],
    expect: [],
  },
  {
    name: 'country-level location (accuracy 500 km) is skipped',
    kind: 'quiet',
    events: [
      { at: 0, ...P.london },
      { at: 600, ...P.usCountryOnly },
    ],
    expect: [],
  },
  {
    name: 'private address never forms a location, even with gateway geo',
    kind: 'quiet',
    events: [
      { at: 0, ...P.london },
      { at: 600, ip: '10.20.30.40', geo: P.newYork.geo },
    ],
    expect: [],
  },
  {
    name: 'trusted egress network never forms a location',
    kind: 'quiet',
    events: [
      { at: 0, ...P.london },
      { at: 600, ...P.newYork, network: { trusted: true } },
    ],
    expect: [],
  },
  {
    name: 'VPN first, then the real location: an anonymous point is never cached',
    kind: 'quiet',
    events: [
      { at: 0, ...vpnNewYork },
      { at: 600, ...P.london },
    ],
    expect: [],
  },
  {
    name: 'VPN hop with anonymousNetworks = ignore',
    kind: 'quiet',
    config: { anonymousNetworks: 'ignore' },
    events: [
      { at: 0, ...P.london },
      { at: 600, ...vpnNewYork },
    ],
    expect: [],
  },
  {
    name: 'nearby cities whose accuracy radii overlap (Linköping, Stockholm), seconds apart',
    kind: 'quiet',
    events: [
      { at: 0, ...P.linkoping },
      { at: 5, ...P.stockholm },
    ],
    expect: [],
  },
  {
    name: 'accuracy radii absorb a fast-looking hop: Berlin → Warsaw 517 km in 30 min (raw 1034, adjusted 634 km/h)',
    kind: 'quiet',
    events: [
      { at: 0, ...P.berlinCoarse },
      { at: 1800, ...P.warsawCoarse },
    ],
    expect: [],
  },
  {
    name: 'fast hop shorter than 500 km: Paris → Lyon in 10 min',
    kind: 'quiet',
    events: [
      { at: 0, ...P.paris },
      { at: 600, ...P.lyon },
    ],
    expect: [],
  },
  {
    name: 'api_key is not checked by default (multi-region server fleets)',
    kind: 'quiet',
    events: [
      { at: 0, ...P.london, cred: { type: 'api_key', fp: FP, key_id: 'key-1' } },
      { at: 3600, ...P.newYork, cred: { type: 'api_key', fp: FP, key_id: 'key-1' } },
    ],
    expect: [],
  },

  // ------------------------------------------------------------------ boundary
  {
    name: 'London → Madrid at 998 km/h (just under maxSpeedKmh 1000)',
    kind: 'boundary',
    events: [
      { at: 0, ...P.london },
      { at: 4520, ...P.madrid },
    ],
    expect: [],
  },
  {
    name: 'London → Madrid at 1003 km/h (just over maxSpeedKmh 1000)',
    kind: 'boundary',
    events: [
      { at: 0, ...P.london },
      { at: 4500, ...P.madrid },
    ],
    expect: [{ severity: 'high', trigger: 'e1', revokes: REVOKE, summaryIncludes: '1003 km/h > 1000 km/h' }],
  },
  {
    name: 'Paris → Bordeaux, 499 km in 10 min (just under minDistanceKm 500)',
    kind: 'boundary',
    events: [
      { at: 0, ...P.paris },
      { at: 600, ...P.bordeaux },
    ],
    expect: [],
  },
  {
    name: 'Berlin → Munich, 504 km in 10 min (just over minDistanceKm 500)',
    kind: 'boundary',
    events: [
      { at: 0, ...P.berlin5 },
      { at: 600, ...P.munich },
    ],
    expect: [{ severity: 'high', trigger: 'e1', revokes: REVOKE }],
  },
  {
    name: 'London → Madrid at 998 km/h fires with Panther\'s 900 km/h',
    kind: 'boundary',
    config: { maxSpeedKmh: 900 },
    events: [
      { at: 0, ...P.london },
      { at: 4520, ...P.madrid },
    ],
    expect: [{ severity: 'high', trigger: 'e1', summaryIncludes: '> 900 km/h' }],
  },
];
