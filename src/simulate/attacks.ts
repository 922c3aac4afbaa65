/**
 * Labelled attack scenarios. Each scenario owns its victim (a user, session or key of one of the
 * tenants, not one of the benign population), so it is self-contained: its events depend only on
 * the seed, the attack's index and the simulated span, and ground truth can be computed by running
 * the scenarios alone. Every scenario is one time-ordered generator; owner and attacker sub-streams
 * are planned up front and merged, so neither reads the other's lazily generated state.
 */
import {
  CLIENTS,
  OAuthSession,
  mergeStreams,
  type ClientSpec,
  type Cred,
  type SimEvent,
  type Step,
  type Stream,
} from './emit.js';
import { apiKeyCred, citiesWithTwoIsps, keyRateAt, keyRoutes, keyStream, type KeyPlan } from './benign.js';
import type { Rng } from './rng.js';
import type { AttackKind, TruthRecorder } from './truth.js';
import {
  ATTACKER_CITIES,
  ATTACKER_UAS,
  BROWSER_UAS,
  COUNTRIES,
  HOME_CITIES,
  HOSTING,
  IOS_UAS,
  RouteTable,
  SERVER_UAS,
  TOKEN_ROUTE,
  USER_ROUTE_TABLE,
  broadbandEndpoint,
  cityById,
  cityDistanceKm,
  citiesBetween,
  distanceKm,
  hostingEndpoint,
  hostingSites,
  otherBroadbandEndpoint,
  statusFor,
  type City,
  type Endpoint,
  type Tenant,
  type World,
} from './world.js';

const SEC = 1000;
const MIN = 60_000;

export interface AttackEnv {
  st: Stream;
  world: World;
  truth: TruthRecorder;
  /** the scenario's main moment (theft, rotation race, flood start), epoch ms */
  M: number;
  /** simulation start and end, epoch ms */
  S: number;
  E: number;
  /** scenario-local instance number (several instances of one variant differ in details) */
  instance: number;
}

export interface VariantDef {
  variant: string;
  /** time the scenario needs before and after M, ms */
  preMs: number;
  postMs: number;
  /** M never falls in the first `minFrac` of the run (key spikes need history) */
  minFrac?: number;
  run(env: AttackEnv): Generator<Step>;
}

// ---------------------------------------------------------------------------------------------
// Helpers

interface Victim {
  sub: string;
  tenant: Tenant;
  city: City;
  ep: Endpoint;
  ua: string;
  client: ClientSpec;
}

function victim(env: AttackEnv, opts: { client: ClientSpec; cities?: readonly City[]; cellular?: boolean }): Victim {
  const rng = env.st.rng;
  const tenant = rng.pick(env.world.tenants);
  const allowed = opts.cities ? tenant.cities.filter((c) => opts.cities!.includes(c)) : tenant.cities;
  const city = allowed.length ? rng.pick(allowed) : rng.pick(opts.cities ?? tenant.cities);
  const ep = opts.cellular ? env.world.cellular(city.country) : broadbandEndpoint(city, rng);
  const mobile = opts.client.clientId === CLIENTS.ios.clientId || opts.client.clientId === CLIENTS.android.clientId;
  const v: Victim = { sub: `usr_${rng.hex(14)}`, tenant, city, ep, ua: mobile ? rng.pick(IOS_UAS) : rng.pick(BROWSER_UAS), client: opts.client };
  env.truth.sub = v.sub;
  env.truth.tenant = tenant.name;
  return v;
}

function session(env: AttackEnv, v: Victim, t: number, client: ClientSpec = v.client, ua = v.ua): OAuthSession {
  return new OAuthSession(v.sub, v.tenant.name, client, ua, env.st.ctx.mint, env.st.rng, t);
}

/**
 * The owner using the app: calls every ~meanGap from `from` to `to`, refreshing when the access token
 * is about to expire (unless `refresh` is false). Returns the time of the last event.
 */
function* activity(
  env: AttackEnv,
  s: OAuthSession,
  ep: Endpoint,
  from: number,
  to: number,
  meanGapMs: number,
  refresh: boolean,
  onEvent?: (e: SimEvent) => void,
): Generator<SimEvent, number> {
  const { st } = env;
  const rng = st.rng;
  const end = Math.min(to, env.E);
  let t = from;
  let last = from;
  while (t < end) {
    if (refresh && s.atExpMs - t < MIN) {
      const e = s.exchange(st, t, ep);
      onEvent?.(e);
      yield e;
      t += rng.between(100, 600);
    }
    const r = USER_ROUTE_TABLE.pick(rng);
    const e = s.call(st, t, ep, r, statusFor(r, rng, 0.01));
    onEvent?.(e);
    yield e;
    last = t;
    t += Math.min(5 * meanGapMs, Math.max(500, rng.exp(meanGapMs)));
  }
  return last;
}

/** Sorted request times in [from, to): exponential gaps clamped to [minGap, maxGap]. */
function times(rng: Rng, from: number, to: number, meanGapMs: number, minGapMs: number, maxGapMs: number): number[] {
  const out: number[] = [];
  for (let t = from; t < to; t += Math.min(maxGapMs, Math.max(minGapMs, rng.exp(meanGapMs)))) out.push(t);
  return out;
}

function* fromList(list: readonly SimEvent[]): Generator<SimEvent> {
  yield* list;
}

interface Thief {
  ep: Endpoint;
  ua: string;
  /** human description of the network */
  what: string;
  city: City;
}

const VPS_PROVIDERS = ['digitalocean', 'ovh', 'hetzner', 'vultr', 'm247'] as const;

/** A VPS at a small hosting provider (the attacker's own box). */
function vps(env: AttackEnv, awayFrom?: City, minKm = 0): Thief {
  const rng = env.st.rng;
  const sites = hostingSites().filter(
    (s) => (VPS_PROVIDERS as readonly string[]).includes(s.provider) && (!awayFrom || cityDistanceKm(awayFrom, cityById(s.site)) >= minKm),
  );
  const s = rng.pick(sites.length ? sites : hostingSites());
  return { ep: hostingEndpoint(s.provider, s.site, rng), ua: rng.pick(ATTACKER_UAS), what: `${HOSTING[s.provider]!.org} VPS`, city: cityById(s.site) };
}

/** A residential line (a home, or a residential proxy exit) at least `minKm` from `from`. */
function farResidential(env: AttackEnv, from: City, minKm: number, maxKm = Infinity): Thief {
  const rng = env.st.rng;
  const pool = citiesBetween(from, [...ATTACKER_CITIES, ...HOME_CITIES], minKm, maxKm);
  const c = rng.pick(pool.length ? pool : ATTACKER_CITIES);
  const ep = broadbandEndpoint(c, rng);
  return { ep, ua: rng.pick(ATTACKER_UAS), what: `residential AS${ep.asn} in ${c.name}`, city: c };
}

/** The usual thief: a VPS, or a residential line far away. */
function thiefFor(env: AttackEnv, near: City): Thief {
  return env.st.rng.chance(0.5) ? vps(env, near, 300) : farResidential(env, near, 2000);
}

function thiefCall(env: AttackEnv, t: number, th: Thief, cred: Cred, tenant: string, routes?: RouteTable): SimEvent {
  const rng = env.st.rng;
  const r = (routes ?? USER_ROUTE_TABLE).pick(rng);
  return env.st.event(t, th.ep, r, statusFor(r, rng, 0.03), { ...cred }, th.ua, tenant);
}

function mins(ms: number): string {
  return `${(ms / MIN).toFixed(1)} min`;
}

/** The owner logs in shortly before M and uses the app (with rotations) until just before M. */
function* ownerUntil(env: AttackEnv, v: Victim, preMinMs: number, preMaxMs: number, until: number, client = v.client): Generator<SimEvent, OAuthSession> {
  const rng = env.st.rng;
  const P = Math.max(env.S, until - rng.between(preMinMs, preMaxMs));
  const s = session(env, v, P, client);
  yield s.login(env.st, P, v.ep);
  yield* activity(env, s, v.ep, P + rng.between(300, 1500), until - SEC, 25 * SEC, true);
  env.truth.sid = s.sid;
  return s;
}

/** A new refresh/access pair for the thief, as the token endpoint would issue it. */
function thiefPair(env: AttackEnv): { rt: string; at: string } {
  const rng = env.st.rng;
  const pair = { rt: env.st.ctx.mint.refreshToken(rng), at: env.st.ctx.mint.accessToken(rng, true) };
  env.truth.addFps(pair.rt, pair.at);
  return pair;
}

/**
 * The thief exchanges the stolen refresh token at `at` (the server answers 200 with a new pair)
 * and calls the API with the issued access token from a moment later until some minutes later.
 */
function thiefRotatesAndUses(
  env: AttackEnv,
  s: OAuthSession,
  th: Thief,
  stolen: string,
  at: number,
  tenant: string,
  o: { firstCallMs: [number, number]; lastCallMin: [number, number]; gapMs: number },
): SimEvent[] {
  const { st, truth } = env;
  const rng = st.rng;
  const p = thiefPair(env);
  const out: SimEvent[] = [
    truth.mark(st.event(at, th.ep, TOKEN_ROUTE, 200, s.refreshCred(rng, stolen), th.ua, tenant, { issued_fp: p.rt, issued_access_fp: p.at }), true),
  ];
  const cred = thiefAccessCred(env, s, p.at, at);
  for (const t of times(rng, at + rng.between(...o.firstCallMs), at + rng.between(...o.lastCallMin) * MIN, o.gapMs, 2 * SEC, 90 * SEC)) {
    out.push(truth.mark(thiefCall(env, t, th, cred, tenant), true));
  }
  return out;
}

function thiefAccessCred(env: AttackEnv, s: OAuthSession, at: string, issuedAt: number): Cred {
  return {
    type: 'access_token',
    fp: at,
    sub: s.sub,
    client_id: s.client.clientId,
    sid: s.sid,
    jti: env.st.rng.b62(16),
    exp: Math.floor((issuedAt + s.client.atTtlSec * SEC) / 1000),
  };
}

// ---------------------------------------------------------------------------------------------
// refresh_reuse

const WEB_10MIN: ClientSpec = { ...CLIENTS.web, atTtlSec: 600 };
const WEB_5MIN: ClientSpec = { ...CLIENTS.web, atTtlSec: 300 };

function thiefAfterRotation(server: 'rejects' | 'accepts'): VariantDef {
  return {
    variant: server === 'rejects' ? 'thief_after_rotation_rejected' : 'thief_after_rotation_accepted',
    preMs: 5 * MIN,
    postMs: 3 * MIN,
    *run(env) {
      const { st, truth, M } = env;
      const rng = st.rng;
      const v = victim(env, { client: WEB_10MIN });
      const s = yield* ownerUntil(env, v, 4 * MIN, 20 * MIN, M);
      const stolen = s.rt;
      yield s.exchange(st, M, v.ep);
      truth.addFps(stolen, s.rt, s.at);
      const d = Math.min(rng.between(45 * SEC, 40 * MIN), (env.E - M) * 0.6);
      const T = M + d;
      const th = thiefFor(env, v.city);
      if (th.city.id !== v.city.id && cityDistanceKm(th.city, v.city) > 500) truth.alsoDetectedBy.push('impossible_travel');
      truth.description =
        `refresh token stolen from ${v.city.name} (AS${v.ep.asn}); the owner rotated it, ${mins(d)} later the thief presents it from ` +
        `${th.what} and the server ${server === 'rejects' ? 'answers 400' : 'wrongly issues a new pair, which the thief uses'}`;
      const thief: SimEvent[] = [];
      if (server === 'rejects') {
        let t = T;
        for (let i = rng.intBetween(1, 3); i > 0; i--, t += rng.between(SEC, 8 * SEC)) {
          thief.push(truth.mark(st.event(t, th.ep, TOKEN_ROUTE, 400, s.refreshCred(rng, stolen), th.ua, v.tenant.name), true));
        }
      } else {
        thief.push(...thiefRotatesAndUses(env, s, th, stolen, T, v.tenant.name, { firstCallMs: [500, 3000], lastCallMin: [1, 6], gapMs: 30 * SEC }));
      }
      const owner = activity(env, s, v.ep, M + rng.between(200, 1500), T + rng.between(3, 15) * MIN, 25 * SEC, true);
      yield* mergeStreams([owner, fromList(thief)]);
    },
  };
}

const ownerAfterThiefRotated: VariantDef = {
  variant: 'owner_after_thief_rotated',
  preMs: 9 * MIN,
  postMs: 8 * MIN,
  *run(env) {
    const { st, truth, M } = env;
    const rng = st.rng;
    const v = victim(env, { client: WEB_10MIN });
    const x = rng.between(2, 6) * MIN; // what the owner's access token has left when the thief strikes
    const M0 = M - (WEB_10MIN.atTtlSec * SEC - x);
    const s = yield* ownerUntil(env, v, 2 * MIN, 15 * MIN, M0);
    yield s.exchange(st, M0, v.ep); // the owner's last good rotation: its new refresh token gets stolen
    const stolen = s.rt;
    truth.addFps(stolen);
    const th = thiefFor(env, v.city);
    if (cityDistanceKm(th.city, v.city) > 500) truth.alsoDetectedBy.push('impossible_travel');
    const thief = thiefRotatesAndUses(env, s, th, stolen, M, v.tenant.name, { firstCallMs: [SEC, 5 * SEC], lastCallMin: [2, 10], gapMs: 25 * SEC });
    const T2 = s.atExpMs - 30 * SEC;
    truth.description =
      `the thief exchanges a refresh token stolen from ${v.city.name} first (${th.what}), then uses the new access token; ` +
      `${mins(T2 - M)} later the owner presents the same refresh token and gets 400 — the reuse is the owner's request`;
    const owner = function* (): Generator<SimEvent> {
      yield* activity(env, s, v.ep, M0 + rng.between(200, 1500), T2 - SEC, 25 * SEC, false);
      yield truth.mark(s.exchange(st, T2, v.ep, { status: 400 }), false);
      const T3 = T2 + rng.between(SEC, 4 * SEC);
      yield truth.mark(s.exchange(st, T3, v.ep, { status: 400 }), false);
      // logged out: the owner signs in again, a new token family
      const T4 = T3 + rng.between(10 * SEC, 90 * SEC);
      const s2 = session(env, v, T4);
      yield s2.login(st, T4, v.ep);
      yield* activity(env, s2, v.ep, T4 + rng.between(300, 1500), T4 + rng.between(5, 15) * MIN, 25 * SEC, true);
    };
    yield* mergeStreams([owner(), fromList(thief)]);
  },
};

const graceWindowOtherNetwork: VariantDef = {
  variant: 'grace_window_other_network',
  preMs: 5 * MIN,
  postMs: 2 * MIN,
  *run(env) {
    const { st, truth, M } = env;
    const rng = st.rng;
    const v = victim(env, { client: WEB_10MIN, cities: citiesWithTwoIsps() });
    const s = yield* ownerUntil(env, v, 4 * MIN, 20 * MIN, M);
    const stolen = s.rt;
    yield s.exchange(st, M, v.ep);
    truth.addFps(stolen);
    const T = M + rng.between(2, 25) * SEC;
    const pickSameCity = env.instance % 2 === 0;
    const th: Thief = pickSameCity
      ? (() => {
          const ep = otherBroadbandEndpoint(v.city, v.ep.asn, rng);
          return { ep, ua: rng.chance(0.5) ? v.ua : rng.pick(ATTACKER_UAS), what: `another ISP in ${v.city.name} (AS${ep.asn})`, city: v.city };
        })()
      : thiefFor(env, v.city);
    if (cityDistanceKm(th.city, v.city) > 500) truth.alsoDetectedBy.push('impossible_travel');
    truth.description =
      `${mins(T - M)} after the owner rotated in ${v.city.name} (AS${v.ep.asn}), the same refresh token is exchanged again from ` +
      `${th.what}: inside the 30 s grace window but from another network; the server's grace answers 200`;
    const thief = thiefRotatesAndUses(env, s, th, stolen, T, v.tenant.name, { firstCallMs: [500, 3000], lastCallMin: [1, 5], gapMs: 30 * SEC });
    const owner = activity(env, s, v.ep, M + rng.between(300, 1500), T + rng.between(5, 15) * MIN, 25 * SEC, true);
    yield* mergeStreams([owner, fromList(thief)]);
  },
};

const olderGenerationSameNetwork: VariantDef = {
  variant: 'older_generation_same_network',
  preMs: 14 * MIN,
  postMs: 2 * MIN,
  *run(env) {
    const { st, truth, M } = env;
    const rng = st.rng;
    const v = victim(env, { client: WEB_5MIN });
    const s = yield* ownerUntil(env, v, 14 * MIN, 25 * MIN, M);
    for (let i = 0; s.history.length < 3; i++) yield s.exchange(st, M - 900 + i * 100, v.ep);
    const stolen = s.history[s.history.length - 3]!;
    truth.addFps(stolen, ...s.history.slice(-2));
    const ua = rng.chance(0.3) ? v.ua : rng.pick(ATTACKER_UAS);
    truth.description =
      `a refresh token two generations old (already rotated twice) is presented from the owner's own network in ${v.city.name} ` +
      `(AS${v.ep.asn}, same address: malware on the device or the LAN); the server answers 400`;
    const thief: SimEvent[] = [];
    let t = M;
    for (let i = rng.intBetween(1, 2); i > 0; i--, t += rng.between(2 * SEC, 10 * SEC)) {
      thief.push(truth.mark(st.event(t, v.ep, TOKEN_ROUTE, 400, s.refreshCred(rng, stolen), ua, v.tenant.name), true));
    }
    const owner = activity(env, s, v.ep, M + rng.between(200, 1500), M + rng.between(5, 15) * MIN, 25 * SEC, true);
    yield* mergeStreams([owner, fromList(thief)]);
  },
};

// ---------------------------------------------------------------------------------------------
// multi_ip_replay

function alongsideOwner(where: 'same_city' | 'abroad' | 'on_cellular'): VariantDef {
  return {
    variant: `alongside_owner_${where}`,
    preMs: 3 * MIN,
    postMs: 8 * MIN,
    *run(env) {
      const { st, truth, M } = env;
      const rng = st.rng;
      const v = victim(env, { client: CLIENTS.ios, cities: citiesWithTwoIsps(), cellular: where === 'on_cellular' });
      const P = Math.max(env.S, M - rng.between(2, 8) * MIN);
      const s = session(env, v, P);
      yield s.login(st, P, v.ep);
      truth.sid = s.sid;
      truth.addFps(s.at);
      const thiefEnd = Math.min(env.E, M + rng.between(6, 12) * MIN);
      const ownerEnd = Math.min(env.E, thiefEnd + rng.between(3, 10) * MIN);
      let th: Thief;
      if (where === 'abroad') {
        th = farResidential(env, v.city, 2000);
        truth.alsoDetectedBy.push('impossible_travel');
      } else {
        const ep = where === 'same_city' ? otherBroadbandEndpoint(v.city, v.ep.asn, rng) : broadbandEndpoint(v.city, rng);
        th = { ep, ua: rng.pick(ATTACKER_UAS), what: `another ISP in ${v.city.name} (AS${ep.asn})`, city: v.city };
      }
      if (rng.chance(0.5)) th.ua = v.ua; // headers copied along with the token
      truth.description =
        `an access token is used by its owner in ${v.city.name} (${where === 'on_cellular' ? 'cellular CGNAT, ' : ''}AS${v.ep.asn}) and at the ` +
        `same time by a thief from ${th.what} for ${mins(thiefEnd - M)}: requests interleave between two ASNs`;
      const cred = s.accessCred();
      const thief = times(rng, M, thiefEnd, 25 * SEC, 3 * SEC, 90 * SEC).map((t) => truth.mark(thiefCall(env, t, th, cred, v.tenant.name), true));
      const owner = activity(env, s, v.ep, P + rng.between(300, 1500), ownerEnd, 18 * SEC, false, (e) => {
        if (e.ts >= M && e.ts <= thiefEnd + MIN) truth.mark(e, false);
      });
      yield* mergeStreams([owner, fromList(thief)]);
    },
  };
}

function spray(source: 'residential_proxies' | 'cloud'): VariantDef {
  return {
    variant: `spray_${source}`,
    preMs: 4 * MIN,
    postMs: 5 * MIN,
    *run(env) {
      const { st, truth, M } = env;
      const rng = st.rng;
      const v = victim(env, { client: CLIENTS.ios });
      const P = Math.max(env.S, M - rng.between(3, 10) * MIN);
      const s = session(env, v, P);
      yield s.login(st, P, v.ep);
      truth.sid = s.sid;
      truth.addFps(s.at);
      yield* activity(env, s, v.ep, P + rng.between(300, 1500), M - rng.between(5, 60) * SEC, 20 * SEC, false);
      const cred = s.accessCred();
      const sources: Thief[] = [];
      const asns = new Set<number | undefined>([v.ep.asn]);
      const ua = rng.pick(ATTACKER_UAS);
      const want = source === 'cloud' ? rng.intBetween(3, 5) : rng.intBetween(3, 8);
      for (let guard = 0; sources.length < want && guard < 200; guard++) {
        let th: Thief;
        if (source === 'cloud') {
          const site = rng.pick(hostingSites());
          th = { ep: hostingEndpoint(site.provider, site.site, rng), ua, what: HOSTING[site.provider]!.org, city: cityById(site.site) };
        } else {
          const c = rng.pick([...ATTACKER_CITIES, ...HOME_CITIES].filter((x) => x.id !== v.city.id));
          th = { ep: broadbandEndpoint(c, rng), ua, what: c.name, city: c };
        }
        if (asns.has(th.ep.asn)) continue;
        asns.add(th.ep.asn);
        sources.push(th);
      }
      truth.alsoDetectedBy.push('impossible_travel');
      const W = rng.between(1, 4) * MIN;
      truth.description =
        `an access token of a user in ${v.city.name} is sprayed from ${sources.length} ASNs ` +
        `(${source === 'cloud' ? 'cloud VMs' : 'residential proxy exits'}: ${sources.map((x) => `AS${x.ep.asn}`).join(', ')}) within ${mins(W)}`;
      const planned: Array<{ t: number; th: Thief }> = [];
      for (const th of sources) for (let i = rng.intBetween(1, 4); i > 0; i--) planned.push({ t: M + rng.next() * W, th });
      planned.sort((a, b) => a.t - b.t);
      for (const p of planned) yield truth.mark(thiefCall(env, p.t, p.th, cred, v.tenant.name), true);
      // the owner picks the phone up again later (same token until it is due for refresh)
      const R = (planned[planned.length - 1]?.t ?? M) + rng.between(5, 20) * MIN;
      yield* activity(env, s, v.ep, R, R + rng.between(2, 8) * MIN, 20 * SEC, true);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// impossible_travel

const hijackFarMinutes: VariantDef = {
  variant: 'hijack_far_minutes',
  preMs: 4 * MIN,
  postMs: 5 * MIN,
  *run(env) {
    const { st, truth, M } = env;
    const rng = st.rng;
    const v = victim(env, { client: CLIENTS.ios });
    const P = Math.max(env.S, M - rng.between(3, 12) * MIN);
    const s = session(env, v, P);
    yield s.login(st, P, v.ep);
    truth.sid = s.sid;
    truth.addFps(s.at);
    const cred = s.accessCred();
    const last = yield* activity(env, s, v.ep, P + rng.between(300, 1500), M, 20 * SEC, false);
    const th = farResidential(env, v.city, 3000);
    const gap = Math.min(rng.between(3, 20) * MIN, (env.E - M) * 0.5);
    const T = last + gap;
    const n = rng.intBetween(1, 3);
    const ts = times(rng, T, T + 60 * SEC, 15 * SEC, SEC, 20 * SEC).slice(0, n);
    truth.alsoDetectedBy.push('multi_ip_replay');
    truth.description =
      `an access token last used in ${v.city.name} is used ${mins(gap)} later from ${th.what} ` +
      `(${Math.round(cityDistanceKm(v.city, th.city))} km away)`;
    for (const t of ts) yield truth.mark(thiefCall(env, t, th, cred, v.tenant.name), true);
    const lastThief = ts[ts.length - 1]!;
    const R = lastThief + rng.between(8, 25) * MIN;
    yield* activity(env, s, v.ep, R, R + rng.between(3, 10) * MIN, 20 * SEC, true, (e) => {
      if (e.cred.fp === cred.fp && e.ts <= lastThief + 30 * MIN) truth.mark(e, false);
    });
  },
};

const simultaneousUse: VariantDef = {
  variant: 'simultaneous_use',
  preMs: 3 * MIN,
  postMs: 3 * MIN,
  *run(env) {
    const { st, truth, M } = env;
    const rng = st.rng;
    const v = victim(env, { client: CLIENTS.ios });
    const P = Math.max(env.S, M - rng.between(2, 8) * MIN);
    const s = session(env, v, P);
    yield s.login(st, P, v.ep);
    truth.sid = s.sid;
    truth.addFps(s.at);
    const cred = s.accessCred();
    const th = farResidential(env, v.city, 1000);
    const ts = times(rng, M + rng.next() * 5 * SEC, M + 30 * SEC, 8 * SEC, SEC, 15 * SEC).slice(0, rng.intBetween(2, 4));
    const lastThief = ts[ts.length - 1]!;
    truth.alsoDetectedBy.push('multi_ip_replay');
    truth.description =
      `an access token is used in ${v.city.name} and, within seconds, from ${th.what} (${Math.round(cityDistanceKm(v.city, th.city))} km away)`;
    const thief = ts.map((t) => truth.mark(thiefCall(env, t, th, cred, v.tenant.name), true));
    const owner = activity(env, s, v.ep, P + rng.between(300, 1500), M + rng.between(5, 12) * MIN, 15 * SEC, false, (e) => {
      if (e.ts >= M - MIN && e.ts <= lastThief + MIN) truth.mark(e, false);
    });
    yield* mergeStreams([owner, fromList(thief)]);
  },
};

const mediumDistanceFast: VariantDef = {
  variant: 'medium_distance_fast',
  preMs: 4 * MIN,
  postMs: 8 * MIN,
  *run(env) {
    const { st, truth, M } = env;
    const rng = st.rng;
    const pool = [...HOME_CITIES, ...ATTACKER_CITIES];
    const eligible = HOME_CITIES.filter((c) => c.region === 'eu' && citiesBetween(c, pool, 800, 2000).length > 0);
    const v = victim(env, { client: CLIENTS.ios, cities: eligible });
    const P = Math.max(env.S, M - rng.between(3, 10) * MIN);
    const s = session(env, v, P);
    yield s.login(st, P, v.ep);
    truth.sid = s.sid;
    truth.addFps(s.at);
    const cred = s.accessCred();
    const last = yield* activity(env, s, v.ep, P + rng.between(300, 1500), M, 20 * SEC, false);
    const c = rng.pick(citiesBetween(v.city, pool, 800, 2000));
    const ep = broadbandEndpoint(c, rng);
    const th: Thief = { ep, ua: rng.pick(ATTACKER_UAS), what: `residential AS${ep.asn} in ${c.name}`, city: c };
    const g1 = v.ep.geo!;
    const g2 = ep.geo!;
    const adjusted = distanceKm(g1.lat, g1.lon, g2.lat, g2.lon) - (g1.accuracy_km ?? 0) - (g2.accuracy_km ?? 0);
    // fast enough to be impossible (≥ 2.5× a jet) yet slow enough to look like a plausible trip at a glance
    const budgetH = (env.E - last - 2 * MIN) / 3_600_000;
    const speed = Math.max(rng.between(2500, 6000), adjusted / Math.max(budgetH, 0.01));
    const gap = (adjusted / speed) * 3_600_000;
    const T = last + gap;
    truth.alsoDetectedBy.push('multi_ip_replay');
    truth.description =
      `an access token last used in ${v.city.name} is used from ${c.name} ${mins(gap)} later: ` +
      `${Math.round(adjusted)} km after subtracting accuracy radii, ${Math.round(speed)} km/h`;
    const ts = times(rng, T, T + 60 * SEC, 15 * SEC, SEC, 20 * SEC).slice(0, rng.intBetween(1, 3));
    for (const t of ts) yield truth.mark(thiefCall(env, t, th, cred, v.tenant.name), true);
  },
};

/** A tenant's server-side key with a steady rate, from the tenant's cloud. */
function attackKey(env: AttackEnv, tenant: Tenant, peakPerMin: number, routes: RouteTable, startMs = env.S): KeyPlan {
  const rng = env.st.rng;
  const keyId = `key_${rng.b62(16)}`;
  const fp = env.st.ctx.mint.apiKey(rng);
  const k: KeyPlan = {
    keyId,
    fp,
    tenant,
    profile: 'steady',
    ep: hostingEndpoint(tenant.cloud.provider, tenant.cloud.site, rng, rng.intBetween(2, 4)),
    altShare: 0,
    ua: rng.pick(SERVER_UAS),
    routes,
    peakPerMin,
    amp: 0.2,
    rampPerDay: 0,
    burstMean: 1,
    tz: tenant.cities[0]!.tz,
    startMs,
    cred: apiKeyCred(fp, keyId),
  };
  env.truth.keyId = k.keyId;
  env.truth.tenant = tenant.name;
  env.truth.addFps(k.fp);
  return k;
}

const sessionCookieFar: VariantDef = {
  variant: 'session_cookie_far',
  preMs: 4 * MIN,
  postMs: 5 * MIN,
  *run(env) {
    const { st, truth, M } = env;
    const rng = st.rng;
    const v = victim(env, { client: CLIENTS.portal });
    const P = Math.max(env.S, M - rng.between(5, 20) * MIN);
    const s = session(env, v, P);
    truth.sid = s.sid;
    truth.addFps(s.at);
    const cred = s.accessCred();
    const last = yield* activity(env, s, v.ep, P, M, 30 * SEC, false);
    // an infostealer log sold on: the buyer replays cookie and user agent from far away
    const th = farResidential(env, v.city, 3000);
    if (rng.chance(0.7)) th.ua = v.ua;
    const gap = Math.min(rng.between(2, 15) * MIN, (env.E - M) * 0.5);
    const ts = times(rng, last + gap, last + gap + 90 * SEC, 20 * SEC, 2 * SEC, 40 * SEC).slice(0, rng.intBetween(2, 5));
    const lastThief = ts[ts.length - 1]!;
    truth.alsoDetectedBy.push('multi_ip_replay');
    truth.description =
      `a browser session cookie last used in ${v.city.name} is replayed ${mins(gap)} later from ${th.what} ` +
      `(${Math.round(cityDistanceKm(v.city, th.city))} km away)`;
    for (const t of ts) yield truth.mark(thiefCall(env, t, th, cred, v.tenant.name), true);
    const R = lastThief + rng.between(1, 10) * MIN;
    yield* activity(env, s, v.ep, R, R + rng.between(3, 10) * MIN, 30 * SEC, false, (e) => {
      if (e.ts <= lastThief + 30 * MIN) truth.mark(e, false);
    });
  },
};

const subjectNewSessionFar: VariantDef = {
  variant: 'subject_new_session_far',
  preMs: 4 * MIN,
  postMs: 6 * MIN,
  *run(env) {
    const { st, truth, M } = env;
    const rng = st.rng;
    const v = victim(env, { client: CLIENTS.web });
    const P = Math.max(env.S, M - rng.between(3, 10) * MIN);
    const s = session(env, v, P);
    yield s.login(st, P, v.ep);
    const th = farResidential(env, v.city, 3000);
    const A = M + rng.between(0, 3) * MIN;
    const calls = times(rng, A + rng.between(2, 10) * SEC, A + rng.between(1, 5) * MIN, 25 * SEC, 2 * SEC, 60 * SEC);
    const attackerEnd = calls[calls.length - 1] ?? A;
    truth.alertOnly = true;
    truth.description =
      `while the user is active in ${v.city.name}, someone signs in as them (stolen password) from ${th.what}, ` +
      `${Math.round(cityDistanceKm(v.city, th.city))} km away: two sessions of one subject, an alert-only subject-level finding`;
    const s2 = session(env, v, A, CLIENTS.web, th.ua);
    truth.sid = s2.sid;
    truth.addFps(s2.at, s2.rt);
    const attacker = function* (): Generator<SimEvent> {
      const login = s2.login(st, A, th.ep);
      truth.addFps(login.cred.fp);
      yield truth.mark(login, true);
      for (const t of calls) {
        const r = USER_ROUTE_TABLE.pick(rng);
        yield truth.mark(s2.call(st, t, th.ep, r, statusFor(r, rng, 0.02)), true);
      }
    };
    const owner = activity(env, s, v.ep, P + rng.between(300, 1500), M + rng.between(10, 20) * MIN, 25 * SEC, true, (e) => {
      if (e.ts >= A && e.ts <= attackerEnd + 10 * MIN) truth.mark(e, false);
    });
    yield* mergeStreams([owner, attacker()]);
  },
};

// ---------------------------------------------------------------------------------------------
// key_spike

type FloodSource = 'single_vps' | 'vps_fleet' | 'proxy_pool';

function floodSources(env: AttackEnv, kind: FloodSource): Thief[] {
  const rng = env.st.rng;
  const ua = rng.pick(ATTACKER_UAS);
  if (kind === 'single_vps') return [{ ...vps(env), ua }];
  if (kind === 'vps_fleet') {
    const s = rng.pick(hostingSites().filter((x) => (VPS_PROVIDERS as readonly string[]).includes(x.provider)));
    return [{ ep: hostingEndpoint(s.provider, s.site, rng, rng.intBetween(3, 8)), ua, what: `${HOSTING[s.provider]!.org} fleet`, city: cityById(s.site) }];
  }
  const out: Thief[] = [];
  const cities = [...ATTACKER_CITIES, ...HOME_CITIES];
  for (let i = rng.intBetween(10, 30); i > 0; i--) {
    const c = rng.pick(cities);
    out.push({ ep: broadbandEndpoint(c, rng, { isp: rng.pick(COUNTRIES[c.country]!.broadband) }), ua, what: 'residential proxy pool', city: c });
  }
  return out;
}

function describeSources(s: Thief[]): string {
  return s.length === 1 ? s[0]!.what : `a residential proxy pool (${s.length} exits, ${new Set(s.map((x) => x.ep.asn)).size} ASNs)`;
}

/** Flood events at `perMin` from the sources, [from, to), mostly on one route (generated lazily). */
function* floodEvents(env: AttackEnv, k: KeyPlan, sources: Thief[], from: number, to: number, perMin: number, routes: RouteTable, focus: number): Generator<SimEvent> {
  const { st, truth } = env;
  const rng = st.rng;
  const target = routes.pick(rng);
  const heavy = perMin >= 25 * Math.max(1, keyRateAt(k, from));
  const end = Math.min(to, env.E);
  for (let t = from + rng.exp(MIN / perMin); t < end; t += rng.exp(MIN / perMin)) {
    const r = rng.next() < focus ? target : routes.pick(rng);
    // a gateway rate limit kicks in for part of a heavy flood; the requests are still logged
    const status = heavy && t > from + MIN && rng.chance(0.3) ? 429 : statusFor(r, rng, 0.03);
    yield truth.mark(st.event(t, rng.pick(sources).ep, r, status, k.cred, sources[0]!.ua, k.tenant.name), true);
  }
}

function keyFlood(ratio: 10 | 30 | 100): VariantDef {
  return {
    variant: `flood_${ratio}x`,
    preMs: 20 * MIN,
    postMs: 6 * MIN,
    minFrac: 0.5,
    *run(env) {
      const { st, truth, M } = env;
      const rng = st.rng;
      const tenant = rng.pick(env.world.tenants);
      // the flood clears a 60/min alert floor even at 10×: such keys run at 8–20/min (4–15 for 30×/100×)
      const k = attackKey(env, tenant, ratio === 10 ? rng.between(8, 20) : rng.between(4, 15), keyRoutes(rng, rng.intBetween(3, 6)));
      const kinds: FloodSource[] = ['single_vps', 'vps_fleet', 'proxy_pool'];
      const source = kinds[({ 10: 0, 30: 1, 100: 2 }[ratio] + env.instance) % 3]!;
      const sources = floodSources(env, source);
      const end = Math.min(env.E, M + rng.between(5, 15) * MIN);
      const base = keyRateAt(k, M);
      truth.alsoDetectedBy.push('multi_ip_replay', 'impossible_travel');
      truth.description =
        `a leaked API key (baseline ≈ ${base.toFixed(1)}/min from ${cityById(tenant.cloud.site).name}) is flooded at ${ratio}× ` +
        `(${(ratio * base).toFixed(0)}/min) for ${mins(end - M)} from ${describeSources(sources)}, starting abruptly`;
      const flood = floodEvents(env, k, sources, M, end, ratio * base, k.routes, 0.8);
      yield* mergeStreams([keyStream(st, k), flood]);
    },
  };
}

const freshKeyFlood: VariantDef = {
  variant: 'fresh_key_flood',
  preMs: 20 * MIN,
  postMs: 6 * MIN,
  minFrac: 0.5,
  *run(env) {
    const { st, truth, M } = env;
    const rng = st.rng;
    const tenant = rng.pick(env.world.tenants);
    const C = M - rng.between(1, 8) * MIN;
    const k = attackKey(env, tenant, tenant.keyRatePerMin * rng.between(0.5, 1.5), keyRoutes(rng, rng.intBetween(2, 5)), C);
    k.amp = 0;
    const ratio = rng.between(40, 80);
    const perMin = ratio * tenant.keyRatePerMin;
    const sources = floodSources(env, env.instance % 2 === 0 ? 'single_vps' : 'vps_fleet');
    const end = Math.min(env.E, M + rng.between(5, 15) * MIN);
    truth.alsoDetectedBy.push('multi_ip_replay', 'impossible_travel');
    truth.description =
      `a key created ${mins(M - C)} earlier (no history; tenant prior ≈ ${tenant.keyRatePerMin.toFixed(1)}/min) leaks and is flooded at ` +
      `${perMin.toFixed(0)}/min (${ratio.toFixed(0)}× the tenant prior) from ${describeSources(sources)}`;
    const setup: SimEvent[] = [];
    for (const t of times(rng, C, C + 60 * SEC, 15 * SEC, 2 * SEC, 30 * SEC).slice(0, rng.intBetween(1, 4))) {
      const r = k.routes.pick(rng);
      setup.push(st.event(t, k.ep, r, r.ok, k.cred, k.ua, tenant.name));
    }
    const flood = floodEvents(env, k, sources, M, end, perMin, k.routes, 0.8);
    yield* mergeStreams([fromList(setup), keyStream(st, k, C + 90 * SEC), flood]);
  },
};

const routeFlood: VariantDef = {
  variant: 'route_flood_20x',
  preMs: 20 * MIN,
  postMs: 6 * MIN,
  minFrac: 0.5,
  *run(env) {
    const { st, truth, M } = env;
    const rng = st.rng;
    const tenant = rng.pick(env.world.tenants);
    const routes = keyRoutes(rng, 5);
    // a busy key (60–150/min), so 20× one of its quieter routes is well above a 60/min alert floor
    const k = attackKey(env, tenant, rng.between(60, 150), routes);
    // the least used of the key's routes (Zipf weight 1/5 of 2.28: ~9 % of the key's traffic)
    const target = routes.routes[4]!;
    const share = 1 / 5 / (1 + 1 / 2 + 1 / 3 + 1 / 4 + 1 / 5);
    const perMin = 20 * keyRateAt(k, M) * share;
    const sources = floodSources(env, 'single_vps');
    const end = Math.min(env.E, M + rng.between(5, 15) * MIN);
    truth.alsoDetectedBy.push('multi_ip_replay', 'impossible_travel');
    truth.description =
      `one route of a key (${target.method} ${target.route}, ≈ ${(keyRateAt(k, M) * share).toFixed(2)}/min) is hit at 20× its own baseline ` +
      `(${perMin.toFixed(1)}/min) from ${describeSources(sources)}; the key's total rises only ≈ ${(1 + 19 * share).toFixed(1)}×`;
    const one = new RouteTable([target], [1]);
    const flood = floodEvents(env, k, sources, M, end, perMin, one, 1);
    yield* mergeStreams([keyStream(st, k), flood]);
  },
};

/** Variants of each attack class, in the order instances cycle through them. */
export const VARIANTS: Readonly<Record<AttackKind, readonly VariantDef[]>> = {
  refresh_reuse: [
    thiefAfterRotation('rejects'),
    ownerAfterThiefRotated,
    graceWindowOtherNetwork,
    thiefAfterRotation('accepts'),
    olderGenerationSameNetwork,
  ],
  multi_ip_replay: [alongsideOwner('same_city'), spray('residential_proxies'), alongsideOwner('abroad'), spray('cloud'), alongsideOwner('on_cellular')],
  impossible_travel: [hijackFarMinutes, simultaneousUse, mediumDistanceFast, sessionCookieFar, subjectNewSessionFar],
  key_spike: [keyFlood(10), keyFlood(30), keyFlood(100), freshKeyFlood, routeFlood],
};
