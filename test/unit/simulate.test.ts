/**
 * The traffic simulator: determinism, schema validity, no raw credential in the output, ground truth
 * coverage, unique ids, event-time order, and the realism invariants the benign look-alikes rely on.
 */
import { describe, expect, it } from 'vitest';
import { AccessEventSchema, type AccessEventInput } from '../../schemas/event.js';
import { TFP1_RE, fingerprint } from '../../schemas/fingerprint.js';
import { isReservedIp } from '../../src/ingest/net.js';
import { IsoFormatter } from '../../src/simulate/emit.js';
import {
  ATTACK_KINDS,
  MIN_DURATION_WITH_ATTACKS_SEC,
  createSimulation,
  groundTruth,
  simulate,
  type SimulateOptions,
} from '../../src/simulate/index.js';
import { COUNTRIES, HOME_CITIES, TRAVEL_ROUTES, cityById, cityDistanceKm, distanceKm } from '../../src/simulate/world.js';

const fpKey = 'sim-test-key-0123456789';
const base: SimulateOptions = {
  seed: 7,
  // a Monday, 15:00 in Europe and 09:00 in New York: offices are busy on both sides
  startMs: Date.UTC(2026, 10, 30, 14, 0, 0),
  durationSec: 3600,
  users: 60,
  apiKeys: 12,
  tenants: 3,
  attacks: true,
  attacksPerKind: 5,
  fpKey,
};

function take(opts: SimulateOptions, n: number): AccessEventInput[] {
  const out: AccessEventInput[] = [];
  for (const e of simulate(opts)) {
    out.push(e);
    if (out.length >= n) break;
  }
  return out;
}

function tsOf(e: AccessEventInput): number {
  return typeof e.ts === 'number' ? e.ts : Date.parse(e.ts);
}

/** One full run of the base options, shared by the tests that only read it. */
const raws = new Map<string, string>();
const sim = createSimulation(base, { onCredential: (raw, fp) => raws.set(raw, fp) });
const events = [...sim.events()];

describe('simulator: determinism', () => {
  it('same seed and options give byte-identical events', () => {
    const a = take(base, 5000);
    const b = take(base, 5000);
    expect(a.length).toBe(5000);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });

  it('a different seed gives different events', () => {
    const a = take(base, 2000);
    const b = take({ ...base, seed: 8 }, 2000);
    expect(JSON.stringify(b)).not.toBe(JSON.stringify(a));
    expect(new Set(b.map((e) => e.id)).size).toBe(2000);
    expect(a.filter((e) => b.some((x) => x.id === e.id))).toEqual([]);
  });

  it('ground truth is deterministic and does not depend on the benign population', () => {
    const t1 = groundTruth(base);
    const t2 = groundTruth({ ...base, users: 5, apiKeys: 1 });
    expect(t2).toEqual(t1);
    expect(sim.truth).toEqual(t1);
  });
});

describe('simulator: output format', () => {
  it('every event validates against the canonical schema and carries geo', () => {
    expect(events.length).toBeGreaterThan(10_000);
    const bad: string[] = [];
    for (const e of events) {
      const r = AccessEventSchema.safeParse(e);
      if (!r.success && bad.length < 5) bad.push(`${e.id}: ${r.error.message}`);
      if (!e.geo && bad.length < 5) bad.push(`${e.id}: no geo`);
    }
    expect(bad).toEqual([]);
  });

  it('timestamps are RFC 3339 by default and epoch ms on request', () => {
    expect(events.every((e) => typeof e.ts === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(e.ts))).toBe(true);
    const ms = take({ ...base, tsFormat: 'epoch_ms' }, 100);
    expect(ms.every((e) => typeof e.ts === 'number')).toBe(true);
    expect(ms.map((e) => e.ts)).toEqual(take(base, 100).map((e) => Date.parse(e.ts as string)));
  });

  it('the fast RFC 3339 formatter matches Date#toISOString', () => {
    const f = new IsoFormatter();
    let t = Date.UTC(2026, 11, 31, 22, 59, 58);
    for (let i = 0; i < 20_000; i++) {
      t += (i * 7919) % 997;
      expect(f.format(t)).toBe(new Date(t).toISOString());
    }
  });

  it('event ids are unique', () => {
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });

  it('events come in event-time order, inside [startMs, startMs + durationSec)', () => {
    const start = base.startMs!;
    const end = start + base.durationSec! * 1000;
    let prev = -Infinity;
    let backwards = 0;
    let outside = 0;
    for (const e of events) {
      const ts = tsOf(e);
      if (ts < prev) backwards++;
      if (ts < start || ts >= end) outside++;
      prev = ts;
    }
    expect({ backwards, outside }).toEqual({ backwards: 0, outside: 0 });
  });

  it('maxDisorderMs delivers events out of order by at most that much', () => {
    const out = take({ ...base, maxDisorderMs: 20_000 }, 20_000);
    let maxSeen = -Infinity;
    let late = 0;
    let tooLate = 0;
    for (const e of out) {
      const ts = tsOf(e);
      if (ts < maxSeen) late++;
      if (ts < maxSeen - 20_000) tooLate++;
      maxSeen = Math.max(maxSeen, ts);
    }
    expect(late).toBeGreaterThan(0);
    expect(tooLate).toBe(0);
  });
});

describe('simulator: secrets', () => {
  it('events carry tfp1 fingerprints and never a raw credential', () => {
    expect(raws.size).toBeGreaterThan(100);
    const rawSet = new Set(raws.keys());
    const problems: string[] = [];
    for (const e of events) {
      for (const fp of [e.cred.fp, e.refresh?.issued_fp, e.refresh?.issued_access_fp]) {
        if (fp !== undefined && !TFP1_RE.test(fp)) problems.push(`${e.id}: fingerprint ${fp}`);
      }
      for (const v of [e.id, e.ip, e.ua, e.route, e.cred.sub, e.cred.sid, e.cred.key_id, e.cred.jti, e.cred.client_id]) {
        if (v !== undefined && rawSet.has(v)) problems.push(`${e.id}: raw credential in a field`);
      }
    }
    expect(problems).toEqual([]);
    const text = events.map((e) => JSON.stringify(e)).join('\n');
    // every raw credential has one of these shapes; none may appear anywhere in the output
    for (const marker of ['eyJhbGci', 'sk_live_', 'rt_', 'at_', 'idp_sess.', 'Bearer']) expect(text.includes(marker)).toBe(false);
    // spot-check exact raws too (the full cross-product would be slow)
    for (const raw of [...rawSet].slice(0, 40)) expect(text.includes(raw)).toBe(false);
  });

  it('fingerprints are fingerprint(raw, fpKey) of the minted credentials', () => {
    const minted = new Set(raws.values());
    for (const [raw, fp] of [...raws].slice(0, 50)) expect(fingerprint(raw, fpKey)).toBe(fp);
    const used = new Set(events.map((e) => e.cred.fp));
    for (const fp of used) expect(minted.has(fp)).toBe(true);
  });
});

describe('simulator: ground truth', () => {
  const truth = sim.truth;
  const byId = new Map(events.map((e) => [e.id, e]));

  it('covers every attack kind with at least attacksPerKind attacks, all variants of each', () => {
    for (const kind of ATTACK_KINDS) {
      const of = truth.filter((a) => a.kind === kind);
      expect(of.length, kind).toBeGreaterThanOrEqual(base.attacksPerKind!);
      expect(new Set(of.map((a) => a.variant)).size, kind).toBe(5);
      for (const a of of) expect(a.detector).toBe(kind);
    }
    expect(new Set(truth.map((a) => a.id)).size).toBe(truth.length);
  });

  it('every attack points at events that are in the output, on its credentials', () => {
    for (const a of truth) {
      expect(a.eventIds.length, a.id).toBeGreaterThan(0);
      expect(a.attackerEventIds.length, a.id).toBeGreaterThan(0);
      expect(a.description.length).toBeGreaterThan(20);
      const ids = new Set(a.eventIds);
      for (const id of a.attackerEventIds) expect(ids.has(id)).toBe(true);
      expect(a.fps.length).toBeGreaterThan(0);
      for (const fp of a.fps) expect(fp).toMatch(TFP1_RE);
      for (const id of a.eventIds) {
        const e = byId.get(id);
        expect(e, `${a.id}: event ${id} missing from the output`).toBeDefined();
        const ts = tsOf(e!);
        expect(ts).toBeGreaterThanOrEqual(a.startMs);
        expect(ts).toBeLessThanOrEqual(a.endMs);
        expect(e!.tenant).toBe(a.tenant);
      }
      const attacker = a.attackerEventIds.map((id) => byId.get(id)!);
      if (a.keyId) expect(attacker.every((e) => e.cred.key_id === a.keyId)).toBe(true);
      // the attacker presents a labelled credential (or, for a new sign-in, one issued to it)
      expect(attacker.some((e) => a.fps.includes(e.cred.fp))).toBe(true);
    }
  });

  it('attacks have the labelled shapes', () => {
    const get = (variant: string) => truth.find((a) => a.variant === variant)!;
    const evs = (ids: string[]) => ids.map((id) => byId.get(id)!);
    // refresh reuse: the stolen token is presented at the token endpoint after it was rotated
    const reuse = get('thief_after_rotation_rejected');
    expect(evs(reuse.attackerEventIds).every((e) => e.cred.type === 'refresh_token' && e.status === 400 && e.cred.fp === reuse.fps[0])).toBe(true);
    const ownerLate = get('owner_after_thief_rotated');
    const ownerEvents = evs(ownerLate.eventIds.filter((id) => !ownerLate.attackerEventIds.includes(id)));
    expect(ownerEvents.length).toBe(2);
    expect(ownerEvents.every((e) => e.status === 400 && e.cred.fp === ownerLate.fps[0])).toBe(true);
    const grace = get('grace_window_other_network');
    const graceFirst = evs(grace.attackerEventIds)[0]!;
    const rotation = events.find((e) => e.refresh && e.cred.fp === graceFirst.cred.fp && e.status === 200 && e.id !== graceFirst.id)!;
    expect(tsOf(graceFirst) - tsOf(rotation)).toBeLessThanOrEqual(30_000);
    expect(graceFirst.geo?.asn).not.toBe(rotation.geo?.asn);
    // multi-IP: a token from ≥ 3 ASNs in a few minutes
    const spray = get('spray_residential_proxies');
    expect(new Set(evs(spray.attackerEventIds).map((e) => e.geo?.asn)).size).toBeGreaterThanOrEqual(3);
    const along = get('alongside_owner_same_city');
    expect(new Set(evs(along.eventIds).map((e) => e.geo?.asn)).size).toBe(2);
    // impossible travel: far apart within minutes
    const hijack = get('hijack_far_minutes');
    const thiefGeo = evs(hijack.attackerEventIds)[0]!.geo!;
    const before = events.filter((e) => e.cred.fp === hijack.fps[0] && tsOf(e) < hijack.startMs).at(-1)!;
    expect(distanceKm(before.geo!.lat, before.geo!.lon, thiefGeo.lat, thiefGeo.lon)).toBeGreaterThan(3000);
    expect(hijack.startMs - tsOf(before)).toBeLessThan(25 * 60_000);
    // key spike: the flood is many times the key's own rate
    for (const variant of ['flood_10x', 'flood_30x', 'flood_100x']) {
      const a = get(variant);
      const ratio = Number(variant.slice(6, -1));
      const keyEvents = events.filter((e) => e.cred.key_id === a.keyId);
      const before = keyEvents.filter((e) => tsOf(e) < a.startMs && tsOf(e) >= a.startMs - 10 * 60_000).length / 10;
      const during = a.attackerEventIds.length / ((a.endMs - a.startMs) / 60_000);
      expect(during / Math.max(before, 1), variant).toBeGreaterThan(ratio * 0.5);
    }
    expect(get('subject_new_session_far').alertOnly).toBe(true);
  });
});

describe('simulator: benign look-alikes are present', () => {
  const benign = new Set(sim.truth.flatMap((a) => a.eventIds));
  const quiet = events.filter((e) => !benign.has(e.id));

  it('covers the hard cases over a day', () => {
    const day = createSimulation({ ...base, startMs: Date.UTC(2026, 10, 30), durationSec: 86_400, users: 80, apiKeys: 0, attacks: false });
    const asns = new Set<number | undefined>();
    const ipSubjects = new Map<string, Set<string>>();
    let v6 = 0;
    let refreshNoSid = 0;
    let logins = 0;
    let exchanges = 0;
    for (const e of day.events()) {
      asns.add(e.geo?.asn);
      if (e.ip.includes(':')) v6++;
      if (e.cred.sub) (ipSubjects.get(e.ip) ?? ipSubjects.set(e.ip, new Set()).get(e.ip)!).add(e.cred.sub);
      if (e.cred.type === 'refresh_token' && e.route === '/oauth/token') {
        exchanges++;
        if (e.cred.sid === undefined) refreshNoSid++;
      }
      if (e.cred.type === 'session' && e.refresh?.issued_fp) logins++;
    }
    expect(asns.has(53813), 'enterprise egress pool').toBe(true);
    expect(asns.has(36183) || asns.has(14593), 'relay / satellite').toBe(true);
    expect(v6, 'dual-stack homes').toBeGreaterThan(0);
    expect(Math.max(...[...ipSubjects.values()].map((x) => x.size)), 'office NAT').toBeGreaterThanOrEqual(3);
    expect(refreshNoSid, 'refresh exchanges without sid').toBeGreaterThan(0);
    expect(logins).toBeGreaterThan(0);
    expect(exchanges).toBeGreaterThan(500);
    expect(quiet.some((e) => e.cred.type === 'api_key' && isReservedIp(e.ip)), 'internal client').toBe(true);
  });

  it('travellers are seen on both sides of a trip, never faster than an airliner', () => {
    const day = createSimulation({ ...base, startMs: Date.UTC(2026, 10, 30), durationSec: 86_400, users: 6, apiKeys: 0, attacks: false });
    const last = new Map<string, { ts: number; city?: string; lat: number; lon: number }>();
    const trips: string[] = [];
    for (const e of day.events()) {
      const g = e.geo;
      if (!e.cred.sub || !g || (g.accuracy_km ?? 0) > 200 || g.asn === 36183 || g.asn === 14593) continue;
      const p = last.get(e.cred.sub);
      const ts = tsOf(e);
      if (p) {
        const km = distanceKm(p.lat, p.lon, g.lat, g.lon);
        if (km > 300) {
          trips.push(`${p.city}→${g.city}`);
          expect(km / ((ts - p.ts) / 3_600_000), `${p.city}→${g.city}`).toBeLessThan(1000);
        }
      }
      last.set(e.cred.sub, { ts, city: g.city, lat: g.lat, lon: g.lon });
    }
    expect(trips).toContain('London→New York');
    expect(trips).toContain('Paris→Lyon');
  });

  it('refresh double-submits reuse only the immediately previous token, within seconds, from the same ASN', () => {
    const long = createSimulation({ ...base, users: 150, apiKeys: 0, durationSec: 6 * 3600, attacks: false });
    const exchanged = new Map<string, { ts: number; asn?: number }>();
    let dups = 0;
    for (const e of long.events()) {
      if (e.cred.type !== 'refresh_token' || e.route !== '/oauth/token') continue;
      const prev = exchanged.get(e.cred.fp);
      if (prev) {
        dups++;
        expect(tsOf(e) - prev.ts).toBeLessThanOrEqual(30_000);
        expect(e.geo?.asn).toBe(prev.asn);
      } else if (e.status < 300) exchanged.set(e.cred.fp, { ts: tsOf(e), asn: e.geo?.asn });
    }
    expect(dups).toBeGreaterThan(0);
  });

  it('private addresses are only the internal clients, which never carry a real location', () => {
    for (const e of events) {
      if (!isReservedIp(e.ip)) continue;
      expect(e.cred.type).toBe('api_key');
      expect(e.geo?.asn).toBeUndefined();
      expect(e.geo?.accuracy_km).toBe(0);
    }
  });
});

describe('simulator: world data', () => {
  it('every trip is slower than an airliner would need to be impossible', () => {
    for (const r of TRAVEL_ROUTES) {
      const km = cityDistanceKm(cityById(r.from), cityById(r.to));
      expect(km / r.minHours, `${r.from}→${r.to}`).toBeLessThan(900);
    }
  });

  it("a carrier's location is near every home city of its country, or too coarse to use", () => {
    for (const c of HOME_CITIES) {
      const m = COUNTRIES[c.country]?.mobile;
      expect(m, c.id).toBeDefined();
      const d = distanceKm(c.lat, c.lon, m!.geo.lat, m!.geo.lon);
      expect(m!.geo.accuracyKm > 200 || d < 450, `${c.id}: ${Math.round(d)} km from its carrier's location`).toBe(true);
    }
  });
});

describe('simulator: options', () => {
  it('rejects runs too short for the attack scenarios, names the fields, and allows them without attacks', () => {
    expect(() => createSimulation({ ...base, durationSec: 600 })).toThrow(/durationSec must be ≥ 3600/);
    expect(MIN_DURATION_WITH_ATTACKS_SEC).toBe(3600);
    const quiet = take({ ...base, durationSec: 600, attacks: false }, 100);
    expect(quiet.length).toBe(100);
    expect(createSimulation({ ...base, durationSec: 600, attacks: false }).truth).toEqual([]);
  });

  it('rejects a short fingerprint key and unknown options', () => {
    expect(() => createSimulation({ ...base, fpKey: 'short' })).toThrow(/at least 16 bytes/);
    expect(() => createSimulation({ ...base, bogus: 1 } as SimulateOptions)).toThrow();
  });

  it('injects only the requested attack kinds', () => {
    const t = groundTruth({ ...base, attacks: ['key_spike'], attacksPerKind: 2 });
    expect(t.map((a) => a.kind)).toEqual(['key_spike', 'key_spike']);
  });
});
