/**
 * Benign traffic: users with devices and OAuth sessions, and API keys. It deliberately includes
 * the look-alikes detectors must stay quiet on:
 *
 * - Wi-Fi ↔ cellular hand-offs (two ASNs, a few switches at least 6 min apart, occasionally a
 *   "flap" out and back within ~2 min) and carrier-grade NAT churn (one ASN, a new /24 per request);
 * - dual-stack homes alternating IPv4/IPv6 request by request (one ASN, two networks);
 * - office NAT (a tenant's users, tokens and keys behind one address) and enterprise egress pools
 *   (Zscaler: one ASN, dozens of /24s, a new one per request);
 * - VPN / relay users (whole sessions via iCloud Private Relay on Akamai AS36183 or Starlink AS14593,
 *   located in the user's own region);
 * - travellers (London→New York flights, Paris→Lyon trains...: first request at the destination
 *   later than the trip takes, phone Wi-Fi only abroad);
 * - refresh double-submits and retries within seconds from the same device and network;
 * - long healthy rotation chains, sessions already running when the simulation starts, logouts,
 *   sessions whose refresh log lines lack `sid`, and browser apps on session cookies (no OAuth);
 * - API keys with steady rates and daily cycles, gradual business ramps, busy keys and bursty keys,
 *   internal clients on private addresses.
 */
import { CLIENTS, OAuthSession, at, type ClientSpec, type Cred, type Step, type Stream } from './emit.js';
import { Rng } from './rng.js';
import {
  ANDROID_UAS,
  BROWSER_UAS,
  CLI_UAS,
  COUNTRIES,
  HOME_CITIES,
  IOS_UAS,
  KEY_ROUTES,
  RouteTable,
  SERVER_UAS,
  TRAVEL_ROUTES,
  USER_ROUTE_TABLE,
  broadbandEndpoint,
  cityById,
  gatewayFor,
  hostingEndpoint,
  statusFor,
  type City,
  type Endpoint,
  type Tenant,
  type World,
} from './world.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Relative activity by local hour, consumers (evening peak) and office work (weekdays). */
const CONSUMER_PROFILE = [
  0.12, 0.06, 0.03, 0.02, 0.02, 0.04, 0.12, 0.3, 0.45, 0.5, 0.55, 0.6, 0.7, 0.6, 0.55, 0.55, 0.6, 0.7, 0.85, 0.95, 1, 0.9, 0.6, 0.3,
];
const OFFICE_PROFILE = [
  0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.2, 0.6, 1, 1, 0.95, 0.6, 0.9, 1, 0.95, 0.85, 0.5, 0.25, 0.2, 0.2, 0.15, 0.08, 0.04,
];
/** Relative API-key traffic by local hour of the tenant (business systems). */
const BUSINESS_PROFILE = [
  0.15, 0.12, 0.1, 0.1, 0.1, 0.15, 0.3, 0.55, 0.8, 0.95, 1, 1, 0.95, 0.95, 1, 1, 0.95, 0.8, 0.6, 0.45, 0.35, 0.3, 0.25, 0.2,
];

/** Linear interpolation of an hourly profile at a fractional local hour. */
function profileAt(p: readonly number[], hour: number): number {
  const h0 = Math.floor(hour) % 24;
  const f = hour - Math.floor(hour);
  return p[h0]! * (1 - f) + p[(h0 + 1) % 24]! * f;
}

function localHour(t: number, tz: number): number {
  const h = (t / HOUR + tz) % 24;
  return h < 0 ? h + 24 : h;
}

function isWeekend(t: number, tz: number): boolean {
  const day = Math.floor((t + tz * HOUR) / DAY);
  const dow = (day + 4) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
  return dow === 0 || dow === 6;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

// ---------------------------------------------------------------------------------------------
// Users

export interface TripLeg {
  depMs: number;
  arrMs: number;
  to: City;
  /** Wi-Fi at the destination (hotel, or home again on the way back) */
  wifi: Endpoint;
}

export interface UserPlan {
  sub: string;
  tenant: Tenant;
  home: City;
  homeWifi: Endpoint;
  cell: Endpoint;
  /** the tenant office this user works at on weekdays, when an office worker */
  office?: Endpoint;
  workStartH: number;
  workEndH: number;
  vpn: 'none' | 'akamai' | 'starlink';
  /** share of sessions that go through the relay */
  vpnShare: number;
  legs: TripLeg[];
  /**
   * Moments a traveller's phone is surely used on Wi-Fi: at the airport / station shortly before
   * leaving and at the destination soon after arriving, so the trip is visible on both sides.
   */
  checkIns: Array<{ at: number; ep: Endpoint }>;
  relays: Map<string, Endpoint>;
  relayRng: Rng;
}

export type Context =
  | { kind: 'transit'; until: number }
  | { kind: 'home' | 'office' | 'away'; city: City; wifi: Endpoint };

/** Forced personas for the first users, so every hard case shows up even in small runs. */
const FORCED = ['flight', 'train', 'vpn', 'office', 'dual', 'flight2'] as const;

export function makeUser(world: World, seed: number, index: number, startMs: number, endMs: number): UserPlan {
  const rng = new Rng(seed, 'user', index);
  const forced = index < FORCED.length ? FORCED[index] : undefined;
  const tenant = world.tenants[index % world.tenants.length]!;
  let route = forced === 'flight' ? TRAVEL_ROUTES[0] : forced === 'train' ? TRAVEL_ROUTES[1] : forced === 'flight2' ? TRAVEL_ROUTES[3] : undefined;
  if (!forced && rng.chance(0.04)) route = rng.pick(TRAVEL_ROUTES);
  const home = route ? cityById(route.from) : rng.pick(tenant.cities);
  const officeWorker = forced === 'office' || (forced === undefined && rng.chance(0.55) && tenant.offices.has(home.id));
  const dual = forced === 'dual' || rng.chance(0.3);
  const vpn = forced === 'vpn' ? 'akamai' : rng.chance(0.1) ? (rng.chance(0.7) ? 'akamai' : 'starlink') : 'none';
  const plan: UserPlan = {
    sub: `usr_${rng.hex(14)}`,
    tenant,
    home,
    homeWifi: broadbandEndpoint(home, rng, { dualStack: dual }),
    cell: world.cellular(home.country),
    workStartH: rng.between(8, 9.5),
    workEndH: rng.between(16.5, 18.5),
    vpn,
    vpnShare: vpn === 'none' ? 0 : rng.between(0.2, 0.5),
    legs: [],
    checkIns: [],
    relays: new Map(),
    relayRng: new Rng(seed, 'user', index, 'relay'),
  };
  if (officeWorker) plan.office = tenant.offices.get(home.id) ?? [...tenant.offices.values()][0];
  if (route) {
    const dest = cityById(route.to);
    const leg = (from: City, to: City, dep: number, wifi: Endpoint) => {
      const arr = dep + rng.between(route.minHours, route.maxHours) * HOUR;
      plan.legs.push({ depMs: dep, arrMs: arr, to, wifi });
      plan.checkIns.push({ at: dep - rng.between(20, 45) * MIN, ep: broadbandEndpoint(from, rng) });
      plan.checkIns.push({ at: arr + rng.between(10, 40) * MIN, ep: wifi });
      return arr;
    };
    const arr = leg(home, dest, daytime(startMs + (endMs - startMs) * rng.between(0.05, 0.45), home.tz, rng), broadbandEndpoint(dest, rng));
    const back = daytime(arr + rng.between(2, 5) * DAY, dest.tz, rng);
    if (back < endMs) leg(dest, home, back, plan.homeWifi);
  }
  return plan;
}

/** Moves a departure time to the next 07:00–20:00 local (nobody's first flight leaves at 3 am). */
function daytime(t: number, tz: number, rng: Rng): number {
  const h = localHour(t, tz);
  if (h < 7) return t + (7 - h + rng.between(0, 3)) * HOUR;
  if (h > 20) return t + (31 - h + rng.between(0, 3)) * HOUR;
  return t;
}

export function contextAt(u: UserPlan, t: number, phone: boolean): Context {
  let city = u.home;
  let wifi = u.homeWifi;
  for (const leg of u.legs) {
    if (t < leg.depMs) break;
    if (t < leg.arrMs) return { kind: 'transit', until: leg.arrMs };
    city = leg.to;
    wifi = leg.wifi;
  }
  if (city !== u.home) return { kind: 'away', city, wifi };
  if (u.office && !isWeekend(t, city.tz)) {
    const h = localHour(t, city.tz);
    if (h >= u.workStartH && h < u.workEndH) return { kind: 'office', city, wifi: u.office };
    // a phone's commute is on cellular; the laptop just is not used then
    if (phone && (Math.abs(h - u.workStartH) < 0.6 || Math.abs(h - u.workEndH) < 0.6)) return { kind: 'home', city, wifi: u.cell };
  }
  return { kind: 'home', city, wifi };
}

function nextDeparture(u: UserPlan, t: number): number {
  for (const leg of u.legs) if (leg.depMs > t) return leg.depMs;
  return Infinity;
}

function relayFor(u: UserPlan, world: World, c: City): Endpoint {
  let r = u.relays.get(c.id);
  if (!r) {
    r = world.relay(c, u.vpn === 'starlink' ? 'starlink' : 'akamai', u.relayRng);
    u.relays.set(c.id, r);
  }
  return r;
}

export interface DevicePlan {
  kind: 'phone' | 'laptop';
  client: ClientSpec;
  ua: string;
  /** mean gap between activity periods at peak hours, ms */
  meanGapMs: number;
  /** mean length of an interactive period, min */
  meanPeriodMin: number;
}

export function devicesFor(u: UserPlan, rng: Rng): DevicePlan[] {
  const out: DevicePlan[] = [];
  const hasPhone = rng.chance(0.85);
  if (hasPhone) {
    const ios = rng.chance(0.5);
    out.push({
      kind: 'phone',
      client: ios ? CLIENTS.ios : CLIENTS.android,
      ua: ios ? rng.pick(IOS_UAS) : rng.pick(ANDROID_UAS),
      meanGapMs: rng.between(25, 60) * MIN,
      meanPeriodMin: rng.between(4, 12),
    });
  }
  if (!hasPhone || u.office || rng.chance(0.6)) {
    const x = rng.next();
    const cli = x < 0.05;
    out.push({
      kind: 'laptop',
      client: cli ? CLIENTS.cli : x < 0.2 ? CLIENTS.portal : CLIENTS.web,
      ua: cli ? rng.pick(CLI_UAS) : rng.pick(BROWSER_UAS),
      meanGapMs: rng.between(30, 90) * MIN,
      meanPeriodMin: rng.between(8, 30),
    });
  }
  return out;
}

function intensity(u: UserPlan, d: DevicePlan, t: number, c: City, atOffice: boolean): number {
  const h = localHour(t, c.tz);
  if (d.kind === 'laptop' && u.office && !isWeekend(t, c.tz)) return profileAt(OFFICE_PROFILE, h);
  const p = profileAt(CONSUMER_PROFILE, h);
  return atOffice ? Math.max(p, 0.4) : p;
}

interface Segment {
  until: number;
  ep: Endpoint;
}

/**
 * Which network each part of an activity period uses. Phones hand off between Wi-Fi and cellular
 * (switches ≥ 6 min apart; sometimes one quick flap out and back); relay sessions stay on the relay.
 */
function planSegments(u: UserPlan, d: DevicePlan, c: Context & { kind: 'home' | 'office' | 'away' }, t: number, end: number, world: World, rng: Rng): Segment[] {
  if (u.vpn !== 'none' && rng.next() < u.vpnShare) return [{ until: Infinity, ep: relayFor(u, world, c.city) }];
  if (d.kind === 'laptop' || c.kind === 'away') return [{ until: Infinity, ep: c.wifi }];
  const onTheGo = c.wifi === u.cell || rng.chance(0.25);
  const base = onTheGo ? u.cell : c.wifi;
  const wifi = c.wifi === u.cell ? u.homeWifi : c.wifi;
  const alt = base === u.cell ? wifi : u.cell;
  const segs: Segment[] = [];
  const x = rng.next();
  if (x < 0.06) {
    // a flap (walking out of Wi-Fi range and back): two switches within ~2 min, at least 5 min
    // after the period started, so no 5-min window also holds the period's first switch
    const s1 = t + rng.between(5.5, 9) * MIN;
    const s2 = s1 + rng.between(40_000, 150_000);
    if (s2 < end) segs.push({ until: s1, ep: base }, { until: s2, ep: alt });
  } else if (x < 0.36) {
    let s = t + rng.between(1, 10) * MIN;
    let cur = base;
    for (let i = 0; i < 3 && s < end; i++) {
      segs.push({ until: s, ep: cur });
      cur = cur === base ? alt : base;
      s += Math.max(6 * MIN, rng.exp(12 * MIN));
    }
    segs.push({ until: Infinity, ep: cur });
    return segs;
  }
  segs.push({ until: Infinity, ep: base });
  return segs;
}

/** A refresh exchange as real clients do it: mostly once, sometimes twice within seconds. */
function* refreshFlow(st: Stream, s: OAuthSession, t: number, ep: Endpoint): Generator<Step, number> {
  const rng = st.rng;
  const x = rng.next();
  if (x < 0.04) {
    // double submit (two tabs / a race) or a client-side timeout and retry: the same refresh token
    // again within seconds, same device and network; the server's grace window answers 200, either
    // from its cache (same issued pair) or with a fresh pair that the client then keeps
    const prev = s.rt;
    yield at(t);
    yield s.exchange(st, t, ep);
    const t2 = t + (x < 0.025 ? rng.between(40, 2500) : rng.between(2000, 12_000));
    yield at(t2);
    if (rng.chance(0.5)) yield s.exchange(st, t2, ep, { presented: prev, issue: { rt: s.rt, at: s.at } });
    else yield s.exchange(st, t2, ep, { presented: prev });
    return t2;
  }
  if (x < 0.05) {
    // the upstream failed (nothing issued); the client retries
    yield at(t);
    yield s.exchange(st, t, ep, { status: rng.pick([502, 503, 504]) });
    const t2 = t + rng.between(500, 5000);
    yield at(t2);
    yield s.exchange(st, t2, ep);
    return t2;
  }
  yield at(t);
  yield s.exchange(st, t, ep);
  return t;
}

const BACKGROUND_ROUTES = [USER_ROUTE_TABLE.routes.find((r) => r.route === '/v1/notifications')!, USER_ROUTE_TABLE.routes.find((r) => r.route === '/v1/events')!];

/** One device of one user: activity periods over the day, each on the right networks. */
export function* deviceStream(st: Stream, world: World, u: UserPlan, d: DevicePlan): Generator<Step> {
  const rng = st.rng;
  const { startMs, endMs } = st.ctx;
  const newSession = (t: number, remaining?: number) => new OAuthSession(u.sub, u.tenant.name, d.client, d.ua, st.ctx.mint, rng, t, remaining);
  let sess: OAuthSession | undefined = rng.chance(0.85) ? newSession(startMs, rng.next() * d.client.atTtlSec * 1000) : undefined;
  let t = startMs - rng.next() * d.meanGapMs;
  const checkIns = d.kind === 'phone' ? u.checkIns : [];
  let ci = 0;
  for (;;) {
    // next activity period: thinning of a Poisson process by the daily profile
    let c: Context | undefined;
    let checkIn: Endpoint | undefined;
    const earliest = t;
    for (let guard = 0; guard < 100_000; guard++) {
      t += rng.exp(d.meanGapMs);
      while (ci < checkIns.length && checkIns[ci]!.at < earliest) ci++;
      const due = checkIns[ci];
      if (due && due.at <= t && due.at >= startMs) {
        ci++;
        t = due.at;
        checkIn = due.ep;
        c = contextAt(u, t, true);
        break;
      }
      if (t >= endMs) return;
      c = contextAt(u, t, d.kind === 'phone');
      if (c.kind === 'transit') {
        t = c.until;
        c = undefined;
        continue;
      }
      if (t >= startMs && rng.next() < intensity(u, d, t, c.city, c.kind === 'office')) break;
      c = undefined;
    }
    if (!c || c.kind === 'transit') return;
    const background = !checkIn && d.kind === 'phone' && rng.chance(0.45);
    const len = checkIn ? rng.between(3, 10) * MIN : background ? 0 : clamp(rng.exp(d.meanPeriodMin) * MIN, MIN, 90 * MIN);
    const periodEnd = Math.min(endMs, t + len, nextDeparture(u, t) - 5 * MIN);
    const segs = checkIn ? [{ until: Infinity, ep: checkIn }] : planSegments(u, d, c, t, periodEnd, world, rng);
    let si = 0;
    const epAt = (x: number): Endpoint => {
      while (segs[si]!.until <= x) si++;
      return segs[si]!.ep;
    };
    let rt = t;
    let calls = background ? rng.intBetween(1, 2) : Infinity;
    while (rt < endMs && (background ? calls > 0 : rt < periodEnd)) {
      const ep = epAt(rt);
      if (d.client.cookie && (!sess || sess.atExpMs < rt)) {
        // cookie apps sign in on a page outside the API; the first call carries the new cookie
        sess = newSession(rt);
      }
      if (!sess) {
        sess = newSession(rt);
        yield at(rt);
        yield sess.login(st, rt, ep);
        rt += rng.between(200, 1500);
        continue;
      }
      if (d.client.cookie) sess.atExpMs = rt + d.client.atTtlSec * 1000; // idle timeout slides
      else if (sess.atExpMs - rt < MIN) {
        rt = (yield* refreshFlow(st, sess, rt, ep)) + rng.between(80, 600);
        continue;
      }
      if (background) {
        const r = BACKGROUND_ROUTES[calls % 2]!;
        yield at(rt);
        yield sess.call(st, rt, ep, r, statusFor(r, rng, 0.01));
        calls--;
        rt += rng.between(100, 900);
        continue;
      }
      // a screen / page: a burst of calls, then think time
      const burst = rng.intBetween(1, 4);
      for (let i = 0; i < burst && rt < endMs; i++) {
        const r = USER_ROUTE_TABLE.pick(rng);
        yield at(rt);
        yield sess.call(st, rt, ep, r, statusFor(r, rng));
        rt += rng.between(15, 350);
      }
      rt += clamp(rng.exp(20_000), 1000, 5 * MIN);
    }
    if (sess && !background && d.kind === 'laptop' && !d.client.cookie && rng.chance(0.02) && rt < endMs) {
      yield at(rt);
      yield sess.revoke(st, rt, epAt(rt));
      sess = undefined;
    }
    // at least 6 min between periods: a 5-min window never sees two periods' networks
    t = rt + 6 * MIN;
  }
}

// ---------------------------------------------------------------------------------------------
// API keys

export type KeyProfile = 'steady' | 'cycle' | 'ramp' | 'busy' | 'noisy' | 'internal';
const KEY_PROFILES: readonly KeyProfile[] = ['steady', 'cycle', 'ramp', 'busy', 'noisy', 'internal'];
const KEY_PROFILE_WEIGHTS = [0.35, 0.2, 0.12, 0.08, 0.2, 0.05];

export interface KeyPlan {
  keyId: string;
  fp: string;
  tenant: Tenant;
  profile: KeyProfile;
  ep: Endpoint;
  /** a second way in (the internal clients' public egress), used for `altShare` of requests */
  alt?: Endpoint;
  altShare: number;
  ua: string;
  routes: RouteTable;
  /** rate at the daily peak, requests/min */
  peakPerMin: number;
  /** 0 = flat, 1 = full business-hours cycle */
  amp: number;
  /** relative growth per day (business ramp) */
  rampPerDay: number;
  /** mean requests per burst (noisy keys); 1 = Poisson */
  burstMean: number;
  tz: number;
  startMs: number;
  cred: Cred;
}

/** Routes a key uses, Zipf-weighted. */
export function keyRoutes(rng: Rng, n: number): RouteTable {
  const routes = rng.shuffled(KEY_ROUTES).slice(0, n);
  return new RouteTable(
    routes,
    routes.map((_, i) => 1 / (i + 1)),
  );
}

/** Private-address clients: no public location; their GeoIP answer is "Null Island". */
export function internalEndpoint(rng: Rng, t: Tenant): Endpoint {
  const subnet = `10.42.${rng.int(256)}`;
  return {
    kind: 'internal',
    asn: undefined,
    gateway: gatewayFor(t.region),
    geo: Object.freeze({ lat: 0, lon: 0, accuracy_km: 0 }),
    ip: (r) => `${subnet}.${2 + r.int(60)}`,
  };
}

export function keyRateAt(k: KeyPlan, t: number): number {
  const cycle = 1 - k.amp + k.amp * profileAt(BUSINESS_PROFILE, localHour(t, k.tz));
  const ramp = 1 + k.rampPerDay * Math.max(0, (t - k.startMs) / DAY);
  return k.peakPerMin * cycle * ramp;
}

export function makeKey(world: World, seed: number, index: number, mint: { apiKey(rng: Rng): string }, startMs: number, endMs: number): KeyPlan {
  const rng = new Rng(seed, 'key', index);
  const tenant = world.tenants[(index * 7 + 3) % world.tenants.length]!;
  const profile = index < KEY_PROFILES.length ? KEY_PROFILES[index]! : rng.weighted(KEY_PROFILES, KEY_PROFILE_WEIGHTS);
  const prior = tenant.keyRatePerMin;
  const where = rng.next();
  let ep: Endpoint;
  let alt: Endpoint | undefined;
  if (profile === 'internal') {
    ep = internalEndpoint(rng, tenant);
    alt = hostingEndpoint(tenant.cloud.provider, tenant.cloud.site, rng, rng.intBetween(1, 3));
  } else if (where < 0.15 && tenant.offices.size > 0) {
    ep = rng.pick([...tenant.offices.values()]);
  } else {
    ep = hostingEndpoint(tenant.cloud.provider, tenant.cloud.site, rng, rng.intBetween(2, 6));
  }
  const keyId = `key_${rng.b62(16)}`;
  const fp = mint.apiKey(rng);
  const k: KeyPlan = {
    keyId,
    fp,
    tenant,
    profile,
    ep,
    altShare: alt ? 0.1 : 0,
    ua: rng.pick(SERVER_UAS),
    routes: keyRoutes(rng, rng.intBetween(1, 6)),
    peakPerMin: prior * rng.logBetween(0.3, 3),
    amp: rng.between(0.1, 0.5),
    rampPerDay: 0,
    burstMean: 1,
    tz: tenant.cities[0]!.tz,
    startMs,
    cred: apiKeyCred(fp, keyId),
  };
  if (alt) k.alt = alt;
  switch (profile) {
    case 'cycle':
      k.amp = rng.between(0.7, 0.9);
      break;
    case 'ramp':
      // gradual growth: +20..100 %/day, or the same growth squeezed into a short run
      k.rampPerDay = rng.between(0.2, 1) * Math.max(1, DAY / Math.max(HOUR, endMs - startMs));
      break;
    case 'busy':
      k.peakPerMin = rng.between(200, 800);
      k.amp = rng.between(0.1, 0.4);
      break;
    case 'noisy':
      // bursts of a few requests, on a rate high enough that most minutes see some: minute counts
      // swing to 2–4× the median, not more
      k.burstMean = rng.between(3, 6);
      k.peakPerMin = Math.max(k.peakPerMin, 5 * k.burstMean);
      break;
    default:
      break;
  }
  return k;
}

/** The frozen API-key credential shared by all of a key's events. */
export function apiKeyCred(fp: string, keyId: string): Cred {
  return Object.freeze({ type: 'api_key', fp, key_id: keyId }) as Cred;
}

/**
 * A key's traffic: a non-homogeneous Poisson process (thinning) at `keyRateAt`, in bursts for
 * noisy keys. Yields until `until` (default: the end of the simulation).
 */
export function* keyStream(st: Stream, k: KeyPlan, from = st.ctx.startMs, until = st.ctx.endMs): Generator<Step> {
  const rng = st.rng;
  const end = Math.min(until, st.ctx.endMs);
  // the rate never exceeds the peak times the ramp reached at the end
  const ceiling = (k.peakPerMin * (1 + k.rampPerDay * Math.max(0, (end - k.startMs) / DAY))) / MIN / k.burstMean;
  let t = from;
  for (;;) {
    t += rng.exp(1 / ceiling);
    if (t >= end) return;
    if (rng.next() * ceiling > keyRateAt(k, t) / MIN / k.burstMean) continue;
    const n = k.burstMean > 1 ? Math.min(rng.geometric(k.burstMean), Math.ceil(2.5 * k.burstMean)) : 1;
    const spread = n > 1 ? rng.between(1000, 15_000) / n : 0;
    for (let i = 0; i < n && t < end; i++) {
      const ep = k.alt && rng.next() < k.altShare ? k.alt : k.ep;
      const r = k.routes.pick(rng);
      yield at(t);
      yield st.event(t, ep, r, statusFor(r, rng, 0.015), k.cred, k.ua, k.tenant.name);
      if (i < n - 1) t += rng.exp(spread);
    }
  }
}

/** Home cities whose country has at least two broadband ISPs (a "different network in the same city" exists). */
export function citiesWithTwoIsps(): City[] {
  return HOME_CITIES.filter((c) => (COUNTRIES[c.country]?.broadband.length ?? 0) >= 2);
}
