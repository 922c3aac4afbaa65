/**
 * `impossible_travel`: one credential (or one subject) used from two places further apart than
 * anyone can travel in the time between the requests (DESIGN §4).
 *
 * Rule, for a hop between two located requests of one key:
 *   adjusted = max(0, distance − accuracy₁ − accuracy₂)
 *   fires when distance > minDistanceKm and adjusted / Δt > maxSpeedKmh
 * evaluated as `adjusted > maxSpeedKmh · Δt` so Δt = 0 needs no division. A hop with
 * Δt ≤ simultaneousSec is reported as simultaneous use.
 *
 * Each key keeps a short event-time ordered list of recent points, and a new point is compared with
 * its time neighbours (the points just before and just after it in event time), so a late event is
 * judged where it belongs. Because the fastest leg of a path is at least as fast as the whole path,
 * checking neighbours is enough: a non-adjacent impossible pair always has an impossible adjacent leg.
 */
import { defineDetector, type EnrichedEvent, type Finding, type Revocation, type Severity, type SourceRef } from '../../src/detect/contract.js';
import { haversineKm, logCap, logEvictBefore, logInsert, newSeenSet, newTimeLog, type SeenSet, type TimeLog } from '../../src/detect/primitives/index.js';
import { MAX_GREAT_CIRCLE_KM, logCompactRuns, logNeighbours, seenEvictBefore, seenWithin } from '../../src/detect/primitives/index.js';
import { cases } from './cases.js';
import { ImpossibleTravelConfigSchema, type ImpossibleTravelConfig } from './config.js';

export const DETECTOR_ID = 'impossible_travel';

/** Place pairs remembered as already reported, per key. */
const MAX_FIRED_PAIRS = 16;

/** One located request, as kept in state (plain JSON). */
export interface TravelPoint {
  id: string;
  fp: string;
  ip: string;
  net: string;
  asn?: number;
  lat: number;
  lon: number;
  accuracyKm: number;
  country?: string;
  city?: string;
  /** lat,lon rounded to 0.1° (≈ 11 km): points at one place form a run; hops are de-duplicated by place pair */
  place: string;
  source?: SourceRef;
}

export interface ImpossibleTravelState {
  v: 1;
  /** recent points in event-time order, runs at one place compacted to their first and last point */
  points: TimeLog<TravelPoint>;
  /** unordered place pair (`anon:` prefixed for downgraded hops) → event time of the finding that reported it */
  fired: SeenSet;
}

type Scope = 'credential' | 'subject';

interface Hop {
  from: { t: number; p: TravelPoint };
  to: { t: number; p: TravelPoint };
  distanceKm: number;
  adjustedDistanceKm: number;
  deltaMs: number;
  impossible: boolean;
  simultaneous: boolean;
  /** adjusted km per hour with Δt floored at 1 ms: only used to pick the worst hop */
  rank: number;
  pair: string;
}

/**
 * How long a point can still matter, event-time ms: no two places on Earth are more than
 * MAX_GREAT_CIRCLE_KM apart, so after MAX_GREAT_CIRCLE_KM / maxSpeedKmh hours (≈ 20 h at 1000 km/h)
 * no hop from an older point can be faster than maxSpeedKmh.
 */
export function horizonMs(config: ImpossibleTravelConfig): number {
  return Math.ceil((MAX_GREAT_CIRCLE_KM / config.maxSpeedKmh) * 3_600_000);
}

/** A usable location of the event, or undefined (reserved, trusted, unknown or too coarse). */
function locationOf(e: EnrichedEvent, config: ImpossibleTravelConfig): EnrichedEvent['location'] {
  const loc = e.location;
  if (!loc || e.network.reserved || e.network.trusted) return undefined;
  if (!Number.isFinite(loc.lat) || !Number.isFinite(loc.lon)) return undefined;
  if (!(loc.accuracyKm <= config.maxAccuracyKm)) return undefined;
  return loc;
}

function applies(e: EnrichedEvent, config: ImpossibleTravelConfig): boolean {
  if (!config.credentialTypes.includes(e.cred.type)) return false;
  if (e.network.anonymous && config.anonymousNetworks === 'ignore') return false;
  return locationOf(e, config) !== undefined;
}

function pointOf(e: EnrichedEvent, config: ImpossibleTravelConfig): TravelPoint | undefined {
  const loc = locationOf(e, config);
  if (!loc) return undefined;
  const p: TravelPoint = {
    id: e.id,
    fp: e.cred.fp,
    ip: e.ip,
    net: e.network.net,
    lat: loc.lat,
    lon: loc.lon,
    accuracyKm: Math.max(0, loc.accuracyKm),
    place: `${loc.lat.toFixed(1)},${loc.lon.toFixed(1)}`,
  };
  if (e.network.asn !== undefined) p.asn = e.network.asn;
  if (loc.country !== undefined) p.country = loc.country;
  if (loc.city !== undefined) p.city = loc.city;
  if (e.source) p.source = e.source;
  return p;
}

function assess(a: { t: number; v: TravelPoint }, b: { t: number; v: TravelPoint }, config: ImpossibleTravelConfig): Hop {
  const [from, to] = a.t <= b.t ? [a, b] : [b, a];
  const distanceKm = haversineKm(from.v.lat, from.v.lon, to.v.lat, to.v.lon);
  const adjustedDistanceKm = Math.max(0, distanceKm - from.v.accuracyKm - to.v.accuracyKm);
  const deltaMs = to.t - from.t;
  const impossible = distanceKm > config.minDistanceKm && adjustedDistanceKm * 3_600_000 > config.maxSpeedKmh * deltaMs;
  return {
    from: { t: from.t, p: from.v },
    to: { t: to.t, p: to.v },
    distanceKm,
    adjustedDistanceKm,
    deltaMs,
    impossible,
    simultaneous: deltaMs <= config.simultaneousSec * 1000,
    rank: (adjustedDistanceKm * 3_600_000) / Math.max(deltaMs, 1),
    pair: [from.v.place, to.v.place].sort().join('|'),
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function placeLabel(p: TravelPoint): string {
  if (p.city && p.country) return `${p.city}, ${p.country}`;
  return p.city ?? p.country ?? `${p.lat.toFixed(2)},${p.lon.toFixed(2)}`;
}

function durationLabel(ms: number): string {
  const s = ms / 1000;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function pointEvidence(t: number, p: TravelPoint, anonymous: { reason: string } | undefined) {
  return {
    eventId: p.id,
    at: new Date(t).toISOString(),
    credentialFp: p.fp,
    ip: p.ip,
    net: p.net,
    asn: p.asn ?? null,
    lat: p.lat,
    lon: p.lon,
    accuracyKm: p.accuracyKm,
    country: p.country ?? null,
    city: p.city ?? null,
    source: p.source ?? null,
    anonymousNetwork: anonymous ? anonymous.reason : null,
  };
}

function hopEvidence(h: Hop, triggerId: string, anonymous: { reason: string } | undefined) {
  const anonOf = (p: TravelPoint) => (p.id === triggerId ? anonymous : undefined);
  return {
    from: pointEvidence(h.from.t, h.from.p, anonOf(h.from.p)),
    to: pointEvidence(h.to.t, h.to.p, anonOf(h.to.p)),
    distanceKm: round1(h.distanceKm),
    adjustedDistanceKm: round1(h.adjustedDistanceKm),
    deltaSec: h.deltaMs / 1000,
    speedKmh: h.simultaneous ? null : Math.round((h.adjustedDistanceKm * 3_600_000) / h.deltaMs),
    simultaneous: h.simultaneous,
  };
}

function uniq<T>(xs: Array<T | undefined>): T[] {
  return [...new Set(xs.filter((x): x is T => x !== undefined))];
}

function buildFinding(
  scope: Scope,
  hops: Hop[],
  trigger: EnrichedEvent,
  config: ImpossibleTravelConfig,
  lateArrival: boolean,
): Finding {
  const worst = hops[0]!;
  const anonymous = trigger.network.anonymous
    ? { reason: trigger.network.anonymousReason ?? 'anonymiser / relay / satellite network' }
    : undefined;
  const baseSeverity: Severity = scope === 'credential' ? 'high' : 'medium';
  const severity: Severity = anonymous ? 'low' : baseSeverity;
  const who =
    scope === 'credential'
      ? `credential ${trigger.cred.fp}`
      : `subject ${trigger.cred.sub ?? ''}${trigger.tenant ? ` (tenant ${trigger.tenant})` : ''}`;
  const a = placeLabel(worst.from.p);
  const b = placeLabel(worst.to.p);
  const km = Math.round(worst.distanceKm);
  let summary = worst.simultaneous
    ? `Simultaneous use of ${who}: ${a} and ${b}, ${km} km apart, ${durationLabel(worst.deltaMs)} apart`
    : `Impossible travel of ${who}: ${a} → ${b}, ${km} km in ${durationLabel(worst.deltaMs)} ` +
      `(${Math.round((worst.adjustedDistanceKm * 3_600_000) / worst.deltaMs)} km/h > ${config.maxSpeedKmh} km/h)`;
  if (anonymous) summary += ` [downgraded: ${anonymous.reason}]`;

  const points = hops.flatMap((h) => [h.from, h.to]).sort((x, y) => x.t - y.t);
  const revocations: Revocation[] = [];
  if (scope === 'credential' && !anonymous) {
    const r: Revocation = { scope: 'token', id: trigger.cred.fp };
    if (trigger.cred.exp !== undefined) r.expiresAtMs = trigger.cred.exp * 1000;
    revocations.push(r);
  }
  const finding: Finding = {
    severity,
    summary,
    trigger,
    discriminator: scope === 'credential' ? 'cred' : 'sub',
    eventIds: uniq(points.map((x) => x.p.id)),
    sources: uniq(points.map((x) => x.p.source)),
    ips: uniq(points.map((x) => x.p.ip)),
    countries: uniq(points.map((x) => x.p.country)),
    asns: uniq(points.map((x) => x.p.asn)),
    evidence: {
      scope,
      ...hopEvidence(worst, trigger.id, anonymous),
      lateArrival,
      otherHops: hops.slice(1).map((h) => hopEvidence(h, trigger.id, anonymous)),
      thresholds: {
        maxSpeedKmh: config.maxSpeedKmh,
        minDistanceKm: config.minDistanceKm,
        maxAccuracyKm: config.maxAccuracyKm,
        simultaneousSec: config.simultaneousSec,
      },
      downgraded: anonymous ? { from: baseSeverity, reason: anonymous.reason } : null,
      tenant: trigger.tenant ?? null,
      subject: trigger.cred.sub ?? null,
    },
    revocations,
  };
  if (scope === 'subject' || anonymous) finding.alertOnly = true;
  return finding;
}

export const detector = defineDetector<ImpossibleTravelConfig, ImpossibleTravelState>({
  meta: {
    id: DETECTOR_ID,
    title: 'Impossible travel',
    severity: 'high',
    defaultAction: 'revoke',
    falsePositives: [
      'VPN, Tor, iCloud Private Relay or satellite (Starlink, in-flight Wi-Fi) egress not flagged as anonymous by the runtime',
      'Corporate egress or proxies far from the user (backhauled traffic) not listed as trusted CIDRs / allowlisted ASNs',
      'Wrong GeoIP answers for mobile carrier and newly re-assigned ranges',
      'One credential deliberately shared by servers in several regions (api_key is excluded by default for this reason)',
      'Subject level: one user working on two devices, one of them over a remote desktop in another region',
    ],
    references: [
      'https://docs.datadoghq.com/security/cloud_siem/detection_rules/?tab=impossibletravel',
      'https://github.com/panther-labs/panther-analysis/blob/main/rules/standard_rules/impossible_travel_login.py',
      'https://learn.microsoft.com/en-us/entra/id-protection/concept-identity-protection-risks#impossible-travel',
      'https://attack.mitre.org/techniques/T1550/001/',
      'https://dev.maxmind.com/geoip/docs/databases/city-and-country',
    ],
  },
  config: ImpossibleTravelConfigSchema,

  keys(event, config) {
    if (!applies(event, config)) return [];
    const keys = [`cred:${event.cred.fp}`];
    if (config.subjectAlerts && event.cred.sub !== undefined) keys.push(`sub:${event.tenant ?? ''}:${event.cred.sub}`);
    return keys;
  },

  stateTtlMs: horizonMs,

  step(prior, event, ctx) {
    const config = ctx.config;
    if (!applies(event, config)) return { state: prior, findings: [] };
    const p = pointOf(event, config)!;
    const t = event.ts;
    const scope: Scope = ctx.key.startsWith('sub:') ? 'subject' : 'credential';
    const horizon = horizonMs(config);
    const state: ImpossibleTravelState = prior
      ? structuredClone(prior)
      : { v: 1, points: newTimeLog<TravelPoint>(), fired: newSeenSet(MAX_FIRED_PAIRS) };

    const newest = state.points.items[state.points.items.length - 1]?.t;
    const { prev, next } = logNeighbours(state.points, t);
    const self = { t, v: p };
    const anonymous = event.network.anonymous;
    // A place pair is reported once per horizon. Downgraded (anonymous) hops keep their own
    // entries, so a VPN hop reported at low severity never masks a real hop between the same places.
    const reported = (h: Hop): boolean => {
      if (!anonymous) return seenWithin(state.fired, h.pair, t, horizon);
      const full = state.fired.seen[h.pair];
      if (full !== undefined && Math.abs(t - full) <= horizon) return true;
      return seenWithin(state.fired, `anon:${h.pair}`, t, horizon);
    };
    const fresh = [prev, next]
      .filter((n): n is { t: number; v: TravelPoint } => n !== undefined)
      .map((n) => assess(n, self, config))
      .filter((h) => h.impossible && !reported(h))
      .sort((x, y) => y.rank - x.rank);

    const findings = fresh.length ? [buildFinding(scope, fresh, event, config, newest !== undefined && t < newest)] : [];

    // Anonymiser / relay / satellite addresses are judged but never become a remembered location.
    if (!anonymous) {
      logInsert(state.points, t, p);
      logCompactRuns(state.points, (x, y) => x.place === y.place);
    }
    const ref = Math.max(t, newest ?? t);
    logEvictBefore(state.points, ref - horizon);
    logCap(state.points, config.maxPoints);
    seenEvictBefore(state.fired, ref - horizon);

    const empty = state.points.items.length === 0 && Object.keys(state.fired.seen).length === 0;
    return { state: empty ? undefined : state, findings };
  },

  cases,
});

export default detector;
