/**
 * `key_spike` — per-API-key request-rate spike (DESIGN §4).
 *
 * Requests presenting an API key (`cred.type = api_key`, identified by `cred.key_id`, else by the
 * key's fingerprint) are counted in 1-minute event-time buckets, per key and per key × route. A
 * minute fires when its running count exceeds
 *
 *     threshold = max(minRatePerMin, baseline + spreadK·spread, baselineRatio·baseline)
 *
 * where baseline and spread come from the key's own closed minutes (EWMA mean and standard
 * deviation, spread at least the Poisson √baseline), or — for a key too young to have
 * `minHistoryMin` minutes of history — from the population prior of its tenant. It is evaluated on
 * every event, so a flood fires within the minute it crosses the threshold, and at most once per
 * episode: an episode is a run of minutes in which the key or one of its routes is over threshold,
 * and the next finding needs a minute in between that stayed under.
 *
 * State keys (a step sees only its own key's state, so the design splits the work):
 *   - `key:<tenant>:<keyId>` — the key's baseline (total and up to `maxRoutesPerKey` routes) and
 *     episode. Judges the key once it has `minHistoryMin` minutes of history.
 *   - `tenant:<tenant>` — the tenant's population prior and a bounded map (`maxKeysPerTenant`) of
 *     the keys it has seen, with their open minutes' counts. Judges keys that are new (first seen
 *     at least `minHistoryMin` after the tenant state started, and younger than `minHistoryMin`).
 * Both use the same first-seen minute, so exactly one of them judges a given minute of a key (short
 * of the tenant map forgetting a key past its cap, see the README).
 */
import type { DetectorCase, EnrichedEvent, Finding, Revocation, SourceRef, StepResult } from '../../src/detector.js';
import { defineDetector } from '../../src/detector.js';
import {
  bucketAdd,
  bucketEvictBefore,
  bucketGet,
  bucketStarts,
  mad,
  median,
  newBucketCounts,
  type BucketCounts,
} from '../../src/primitives.js';
import {
  addDistinctCapped,
  alphaForHalfLife,
  ewmaStd,
  ewmaUpdate,
  ewmaUpdateZeros,
  fnv1a32,
  newEwma,
  type Ewma,
} from '../../src/primitives-extra-spike.js';
import { cases } from './cases.js';
import { configSchema, type KeySpikeConfig } from './config.js';

export const DETECTOR_ID = 'key_spike';

/** Bucket width: counts are per event-time minute. */
export const MINUTE_MS = 60_000;

/** Evidence sample bounds: first event ids (and their sources) of the minute, distinct IPs/countries/ASNs. */
const SAMPLE_IDS = 5;
const SAMPLE_VALUES = 10;

/** Shards of the tenant's key map (copy-on-write per event touches one shard, not the whole map). */
export const TENANT_SHARDS = 32;

/**
 * A minute that was over threshold enters the baseline clipped to baseline + HOT_CLIP_SPREADS·spread
 * (Huber-style winsorising): a flood then moves the baseline by a small step per minute instead of
 * inflating the mean and variance enough to hide the next flood, while a lasting new level is still
 * learned (over one long episode). Minutes under threshold enter as they are.
 */
export const HOT_CLIP_SPREADS = 2;

/** Longest route kept in state (longer ones are truncated). */
const MAX_ROUTE_CHARS = 256;

// ---------------------------------------------------------------------------------------- state

/** A bounded evidence sample of one minute. Plain JSON. */
export interface Sample {
  ids: string[];
  src: SourceRef[];
  ips: string[];
  countries: string[];
  asns: number[];
}

/** One counted series (a key's total or one of its routes). Plain JSON. */
export interface Series {
  /** start of the first minute seen, ms */
  firstMin: number;
  /** newest event time, ms */
  lastTs: number;
  /** start of the last minute folded into `stats` (firstMin − 1 min before any) */
  foldedMin: number;
  /** raw count of that last folded minute */
  foldedCount: number;
  /** EWMA of closed minutes' counts (winsorised at the threshold once the series is established) */
  stats: Ewma;
  /** counts of the open (not yet folded) minutes */
  open: BucketCounts;
  /** evidence sample per open minute */
  samples: Record<string, Sample>;
}

/** State of `key:<tenant>:<keyId>`. */
export interface KeyState {
  kind: 'key';
  tenant: string;
  keyId: string;
  /** the key has no key_id: `keyId` is its fingerprint */
  keyIdFromFp: boolean;
  /** newest event time of the key, ms: the key's own clock */
  maxTs: number;
  total: Series;
  /** normalised route -> series */
  routes: Record<string, Series>;
  /** start of the last minute the key or one of its routes was over threshold (the episode) */
  hotMin?: number;
  /** events that arrived after their minute had closed (ignored) */
  lateEvents: number;
}

/** One key as the tenant state sees it. */
export interface TenantKey {
  firstMin: number;
  lastTs: number;
  /** minute start -> count, open minutes only */
  open: Record<string, number>;
  /** episode of a new key: first and last minute over threshold */
  hotFromMin?: number;
  hotMin?: number;
  /** evidence samples per open minute, kept for new keys only */
  samples?: Record<string, Sample>;
}

/** Population prior of a tenant: decayed median and MAD of per-key counts over active key-minutes. */
export interface TenantPrior {
  /** closed minutes that had at least one active key */
  minutes: number;
  /** active key-minutes folded in */
  keyMinutes: number;
  medianPerMin: number;
  spreadPerMin: number;
}

/** State of `tenant:<tenant>`. */
export interface TenantState {
  kind: 'tenant';
  tenant: string;
  /** start of the first minute the tenant state saw: keys first seen in its first minHistoryMin are not "new" */
  startMin: number;
  maxTs: number;
  /** minutes starting before this have been folded into the prior */
  sweptMin: number;
  prior: TenantPrior;
  /** keyId -> key, sharded by fnv1a32(keyId) % TENANT_SHARDS */
  shards: Array<Record<string, TenantKey>>;
  size: number;
  lateEvents: number;
  evictedKeys: number;
}

export type KeySpikeState = KeyState | TenantState;

// ------------------------------------------------------------------------------------- helpers

const minuteOf = (t: number): number => Math.floor(t / MINUTE_MS) * MINUTE_MS;
const iso = (ms: number): string => new Date(ms).toISOString();
const round2 = (x: number): number => Math.round(x * 100) / 100;
const enc = encodeURIComponent;

/** The key an API-key event is counted under: key_id, else the key's fingerprint. */
export function keyIdentity(e: EnrichedEvent): { keyId: string; fromFp: boolean } {
  return e.cred.key_id !== undefined ? { keyId: e.cred.key_id, fromFp: false } : { keyId: e.cred.fp, fromFp: true };
}

const ID_SEGMENT = /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,})$/i;

/** Drops the query string and replaces id-like segments (digits, UUIDs, hex ≥ 16) with `{id}`. */
export function normaliseRoute(route: string, ids: boolean): string {
  let r = route;
  if (ids) {
    const q = r.indexOf('?');
    if (q >= 0) r = r.slice(0, q);
    r = r
      .split('/')
      .map((seg) => (ID_SEGMENT.test(seg) ? '{id}' : seg))
      .join('/');
  }
  return r.length > MAX_ROUTE_CHARS ? r.slice(0, MAX_ROUTE_CHARS) : r;
}

export type ThresholdTerm = 'minRatePerMin' | 'baselinePlusKSpread' | 'ratioTimesBaseline';

/** The three terms of the rule and which one set the threshold. */
export interface Threshold {
  baselinePerMin: number;
  spreadPerMin: number;
  /** `ewma`: the measured standard deviation; `poisson`: its floor √baseline was larger */
  spreadSource: 'ewma' | 'poisson';
  terms: Record<ThresholdTerm, number>;
  thresholdPerMin: number;
  winner: ThresholdTerm;
}

/** threshold = max(minRatePerMin, baseline + k·spread, ratio·baseline), spread ≥ √baseline. */
export function threshold(baselinePerMin: number, sdPerMin: number, cfg: KeySpikeConfig): Threshold {
  const poisson = Math.sqrt(Math.max(0, baselinePerMin));
  const spread = Math.max(sdPerMin, poisson);
  const terms: Record<ThresholdTerm, number> = {
    minRatePerMin: cfg.minRatePerMin,
    baselinePlusKSpread: baselinePerMin + cfg.spreadK * spread,
    ratioTimesBaseline: cfg.baselineRatio * baselinePerMin,
  };
  let winner: ThresholdTerm = 'minRatePerMin';
  for (const t of ['baselinePlusKSpread', 'ratioTimesBaseline'] as const) if (terms[t] > terms[winner]) winner = t;
  return {
    baselinePerMin,
    spreadPerMin: spread,
    spreadSource: sdPerMin >= poisson ? 'ewma' : 'poisson',
    terms,
    thresholdPerMin: terms[winner],
    winner,
  };
}

/** The sample with the event added: `s` itself when the event changes nothing, else a new sample. */
function sampleWith(s: Sample | undefined, e: EnrichedEvent): Sample {
  const country = e.location?.country ?? e.geo?.country;
  const asnRaw = e.network?.asn ?? e.geo?.asn;
  const asn = asnRaw === 0 ? undefined : asnRaw;
  if (
    s &&
    s.ids.length >= SAMPLE_IDS &&
    (s.ips.length >= SAMPLE_VALUES || s.ips.includes(e.ip)) &&
    (country === undefined || s.countries.length >= SAMPLE_VALUES || s.countries.includes(country)) &&
    (asn === undefined || s.asns.length >= SAMPLE_VALUES || s.asns.includes(asn))
  ) {
    return s;
  }
  const out: Sample = s ? cloneSample(s) : { ids: [], src: [], ips: [], countries: [], asns: [] };
  if (out.ids.length < SAMPLE_IDS) {
    out.ids.push(e.id);
    if (e.source) out.src.push(e.source);
  }
  addDistinctCapped(out.ips, e.ip, SAMPLE_VALUES);
  if (country !== undefined) addDistinctCapped(out.countries, country, SAMPLE_VALUES);
  if (asn !== undefined) addDistinctCapped(out.asns, asn, SAMPLE_VALUES);
  return out;
}

function cloneSample(s: Sample): Sample {
  return { ids: [...s.ids], src: [...s.src], ips: [...s.ips], countries: [...s.countries], asns: [...s.asns] };
}

// ------------------------------------------------------------------------------------ findings

interface Judgement {
  scope: 'key' | 'key_route' | 'new_key';
  route?: string;
  minute: number;
  count: number;
  thr: Threshold;
  historyMinutes: number;
  prior?: TenantPrior;
  sample: Sample;
  /** the key's total in the minute, for a route finding */
  keyCount?: number;
}

function buildFinding(e: EnrichedEvent, tenant: string, j: Judgement, cfg: KeySpikeConfig): Finding {
  const { keyId, fromFp } = keyIdentity(e);
  const s = j.sample;
  const eventIds = s.ids.includes(e.id) ? [...s.ids] : [...s.ids, e.id];
  const sources = [...s.src];
  if (e.source && !s.ids.includes(e.id)) sources.push(e.source);
  const ips = s.ips.includes(e.ip) ? [...s.ips] : [...s.ips, e.ip];
  const t = j.thr;
  const who = `${j.scope === 'new_key' ? 'new API key' : 'API key'} ${keyId}${tenant ? ` (tenant ${tenant})` : ''}`;
  const where = j.scope === 'key_route' ? ` on ${j.route}` : '';
  const basis =
    j.scope === 'new_key'
      ? `tenant prior ${round2(t.baselinePerMin)}/min from ${j.prior?.keyMinutes ?? 0} key-minutes`
      : `baseline ${round2(t.baselinePerMin)}/min over ${j.historyMinutes} min`;
  const summary =
    `${who}${where}: ${j.count} requests in the minute from ${iso(j.minute).slice(11, 16)}Z, ` +
    `above ${round2(t.thresholdPerMin)}/min (${t.winner}; ${basis})`;

  const evidence: Record<string, unknown> = {
    scope: j.scope,
    tenant,
    keyId,
    keyIdSource: fromFp ? 'fingerprint' : 'key_id',
    credentialFp: e.cred.fp,
    minuteStart: iso(j.minute),
    secondsIntoMinute: round2((e.ts - j.minute) / 1000),
    count: j.count,
    baselinePerMin: round2(t.baselinePerMin),
    spreadPerMin: round2(t.spreadPerMin),
    spreadSource: t.spreadSource,
    ratioToBaseline: t.baselinePerMin > 0 ? round2(j.count / t.baselinePerMin) : null,
    thresholds: {
      minRatePerMin: round2(t.terms.minRatePerMin),
      baselinePlusKSpread: round2(t.terms.baselinePlusKSpread),
      ratioTimesBaseline: round2(t.terms.ratioTimesBaseline),
      thresholdPerMin: round2(t.thresholdPerMin),
      winner: t.winner,
    },
    historyMinutes: j.historyMinutes,
    priorUsed: j.scope === 'new_key',
    params: {
      spreadK: cfg.spreadK,
      baselineRatio: cfg.baselineRatio,
      baselineHalfLifeMin: cfg.baselineHalfLifeMin,
      minHistoryMin: cfg.minHistoryMin,
    },
    triggerRoute: e.route,
    sampledEvents: `first ${SAMPLE_IDS} of the minute + trigger`,
  };
  if (j.scope === 'key_route') {
    evidence.route = j.route;
    evidence.keyCountInMinute = j.keyCount;
  }
  if (j.prior) {
    evidence.prior = {
      medianPerMin: round2(j.prior.medianPerMin),
      spreadPerMin: round2(j.prior.spreadPerMin),
      keyMinutes: j.prior.keyMinutes,
      minutes: j.prior.minutes,
    };
  }

  const revocation: Revocation = fromFp ? { scope: 'token', id: e.cred.fp } : { scope: 'api_key', id: keyId };
  if (e.cred.exp !== undefined) revocation.expiresAtMs = e.cred.exp * 1000;

  return {
    severity: 'high',
    summary,
    trigger: e,
    discriminator: j.scope === 'key_route' ? `route:${j.route}` : j.scope,
    eventIds,
    ...(sources.length > 0 ? { sources } : {}),
    ips,
    countries: [...s.countries],
    asns: [...s.asns],
    evidence,
    revocations: [revocation],
  };
}

// ------------------------------------------------------------------------------- key state

function newSeries(minute: number, ts: number): Series {
  return {
    firstMin: minute,
    lastTs: ts,
    foldedMin: minute - MINUTE_MS,
    foldedCount: 0,
    stats: newEwma(),
    open: newBucketCounts(MINUTE_MS),
    samples: {},
  };
}

/** A series judges minute `m` by its own baseline once it has minHistoryMin minutes of history. */
function established(s: Series, m: number, cfg: KeySpikeConfig): boolean {
  return m - s.firstMin >= cfg.minHistoryMin * MINUTE_MS && s.stats.n > 0;
}

/** Folds every minute that starts before `closedBefore` into the EWMA (idle minutes count as 0). */
function foldSeries(s: Series, closedBefore: number, cfg: KeySpikeConfig, alpha: number): void {
  if (s.foldedMin + MINUTE_MS >= closedBefore) return;
  for (const m of bucketStarts(s.open)) {
    if (m >= closedBefore) break;
    if (m <= s.foldedMin) continue;
    ewmaUpdateZeros(s.stats, (m - s.foldedMin) / MINUTE_MS - 1, alpha);
    const x = bucketGet(s.open, m);
    let folded = x;
    if (established(s, m, cfg)) {
      const thr = threshold(s.stats.mean, ewmaStd(s.stats), cfg);
      if (x > thr.thresholdPerMin) folded = thr.baselinePerMin + HOT_CLIP_SPREADS * thr.spreadPerMin;
    }
    ewmaUpdate(s.stats, folded, alpha);
    s.foldedMin = m;
    s.foldedCount = x;
  }
  const idle = (closedBefore - MINUTE_MS - s.foldedMin) / MINUTE_MS;
  if (idle > 0) {
    ewmaUpdateZeros(s.stats, idle, alpha);
    s.foldedMin = closedBefore - MINUTE_MS;
    s.foldedCount = 0;
  }
  bucketEvictBefore(s.open, closedBefore);
  for (const k of Object.keys(s.samples)) if (Number(k) < closedBefore) delete s.samples[k];
}

/** Count of minute `m` of a series: open, or the last folded one, else unknown (0). */
function countAt(s: Series, m: number): number {
  if (m > s.foldedMin) return bucketGet(s.open, m);
  return m === s.foldedMin ? s.foldedCount : 0;
}

/** Copy of a series that can be changed without touching the original (samples are replaced, not edited). */
function cloneSeries(s: Series): Series {
  return {
    ...s,
    stats: { ...s.stats },
    open: { bucketMs: s.open.bucketMs, counts: { ...s.open.counts } },
    samples: { ...s.samples },
  };
}

/** Counts the event in a series (mutates `s`, which must be a copy); returns the minute's new count. */
function addToSeries(s: Series, e: EnrichedEvent, m: number): number {
  if (m < s.firstMin && s.stats.n === 0) {
    // A slightly late event from before the first minute seen, before anything was folded.
    s.firstMin = m;
    s.foldedMin = m - MINUTE_MS;
  }
  s.lastTs = Math.max(s.lastTs, e.ts);
  const k = String(m);
  s.samples[k] = sampleWith(s.samples[k], e);
  return bucketAdd(s.open, e.ts);
}

function stepKey(prev: KeyState | undefined, e: EnrichedEvent, cfg: KeySpikeConfig): StepResult<KeySpikeState> {
  const m = minuteOf(e.ts);
  const maxTs = Math.max(prev?.maxTs ?? e.ts, e.ts);
  const closedBefore = minuteOf(maxTs - cfg.allowedLatenessSec * 1000);
  if (prev && m < closedBefore) return { state: { ...prev, lateEvents: prev.lateEvents + 1 }, findings: [] };

  const { keyId, fromFp } = keyIdentity(e);
  // Copy on write: `prev` is never changed; only the series this event touches are copied.
  const st: KeyState = prev
    ? { ...prev, total: cloneSeries(prev.total), routes: { ...prev.routes } }
    : { kind: 'key', tenant: e.tenant ?? '', keyId, keyIdFromFp: fromFp, maxTs, total: newSeries(m, e.ts), routes: {}, lateEvents: 0 };
  st.maxTs = maxTs;

  const alpha = alphaForHalfLife(cfg.baselineHalfLifeMin);
  foldSeries(st.total, closedBefore, cfg, alpha);
  if (prev && closedBefore > prev.total.foldedMin + MINUTE_MS) {
    // A minute closed: fold every route and forget the idle ones (once a minute, not per event).
    const idleBefore = maxTs - cfg.stateIdleTtlMin * MINUTE_MS;
    for (const [r, s] of Object.entries(st.routes)) {
      if (s.lastTs < idleBefore) {
        delete st.routes[r];
      } else if (s.foldedMin + MINUTE_MS < closedBefore) {
        const c = cloneSeries(s);
        foldSeries(c, closedBefore, cfg, alpha);
        st.routes[r] = c;
      }
    }
  }

  const keyCount = addToSeries(st.total, e, m);
  const route = normaliseRoute(e.route, cfg.normaliseRouteIds);
  let rs: Series | undefined;
  if (cfg.perRouteEnabled) {
    const known = st.routes[route];
    rs = known ? cloneSeries(known) : undefined;
    if (!rs) {
      const names = Object.keys(st.routes);
      if (names.length >= cfg.maxRoutesPerKey) {
        let lru = names[0]!;
        for (const n of names) if (st.routes[n]!.lastTs < st.routes[lru]!.lastTs) lru = n;
        delete st.routes[lru];
      }
      rs = newSeries(m, e.ts);
    }
    st.routes[route] = rs;
    addToSeries(rs, e, m);
  }

  // Judge the key total first, then the event's route: one finding per key per episode.
  const hot: Judgement[] = [];
  const candidates: Array<{ scope: 'key' | 'key_route'; s: Series }> = [{ scope: 'key', s: st.total }];
  if (rs) candidates.push({ scope: 'key_route', s: rs });
  for (const c of candidates) {
    if (!established(c.s, m, cfg)) continue;
    const count = bucketGet(c.s.open, m);
    const thr = threshold(c.s.stats.mean, ewmaStd(c.s.stats), cfg);
    if (count <= thr.thresholdPerMin) continue;
    hot.push({
      scope: c.scope,
      ...(c.scope === 'key_route' ? { route, keyCount } : {}),
      minute: m,
      count,
      thr,
      historyMinutes: c.s.stats.n,
      sample: c.s.samples[String(m)] ?? sampleWith(undefined, e),
    });
  }
  if (hot.length === 0) return { state: st, findings: [] };

  const continuing = st.hotMin !== undefined && st.hotMin >= m - MINUTE_MS;
  st.hotMin = Math.max(st.hotMin ?? m, m);
  if (continuing) return { state: st, findings: [] };
  const j = hot[0]!;
  const series = j.scope === 'key' ? st.total : rs!;
  // The previous minute was already over this threshold but not judged (the key was young and the
  // tenant state judged it, or the key was not established yet): same episode, no new finding.
  if (countAt(series, m - MINUTE_MS) > j.thr.thresholdPerMin) return { state: st, findings: [] };
  return { state: st, findings: [buildFinding(e, st.tenant, { ...j, sample: cloneSample(j.sample) }, cfg)] };
}

// ---------------------------------------------------------------------------- tenant state

function newTenant(e: EnrichedEvent, m: number): TenantState {
  return {
    kind: 'tenant',
    tenant: e.tenant ?? '',
    startMin: m,
    maxTs: e.ts,
    sweptMin: m,
    prior: { minutes: 0, keyMinutes: 0, medianPerMin: 0, spreadPerMin: 0 },
    shards: Array.from({ length: TENANT_SHARDS }, () => ({})),
    size: 0,
    lateEvents: 0,
    evictedKeys: 0,
  };
}

/**
 * Folds every key's minutes that start before `closedBefore` into the prior (one observation per
 * minute: the median and MAD of that minute's per-key counts over the keys active in it; minutes of
 * a new key's episode are left out), and forgets keys idle for stateIdleTtlMin. Rebuilds the shards.
 */
function sweepTenant(st: TenantState, closedBefore: number, cfg: KeySpikeConfig): void {
  const byMinute = new Map<number, number[]>();
  const idleBefore = st.maxTs - cfg.stateIdleTtlMin * MINUTE_MS - cfg.allowedLatenessSec * 1000;
  let size = 0;
  st.shards = st.shards.map((shard) => {
    const out: Record<string, TenantKey> = {};
    for (const [keyId, k] of Object.entries(shard)) {
      if (k.lastTs < idleBefore) continue;
      let copy: TenantKey | undefined;
      for (const [ms, count] of Object.entries(k.open)) {
        const mm = Number(ms);
        if (mm >= closedBefore) continue;
        copy ??= { ...k, open: { ...k.open }, ...(k.samples ? { samples: { ...k.samples } } : {}) };
        delete copy.open[ms];
        if (copy.samples) delete copy.samples[ms];
        const inEpisode = k.hotFromMin !== undefined && k.hotMin !== undefined && mm >= k.hotFromMin && mm <= k.hotMin;
        if (count > 0 && !inEpisode) {
          const xs = byMinute.get(mm) ?? [];
          xs.push(count);
          byMinute.set(mm, xs);
        }
      }
      out[keyId] = copy ?? k;
      size++;
    }
    return out;
  });
  st.size = size;
  const alpha = alphaForHalfLife(cfg.baselineHalfLifeMin);
  const p = { ...st.prior };
  for (const mm of [...byMinute.keys()].sort((a, b) => a - b)) {
    const xs = byMinute.get(mm)!;
    const med = median(xs);
    const spread = mad(xs, med);
    p.minutes += 1;
    p.keyMinutes += xs.length;
    const a = Math.max(alpha, 1 / p.minutes);
    p.medianPerMin += a * (med - p.medianPerMin);
    p.spreadPerMin += a * (spread - p.spreadPerMin);
  }
  st.prior = p;
  st.sweptMin = closedBefore;
}

/** Forgets the least recently seen key (copy-on-write of its shard). */
function evictLeastRecent(st: TenantState): void {
  let best: { shard: number; keyId: string; lastTs: number } | undefined;
  st.shards.forEach((shard, i) => {
    for (const [keyId, k] of Object.entries(shard)) {
      if (!best || k.lastTs < best.lastTs) best = { shard: i, keyId, lastTs: k.lastTs };
    }
  });
  if (!best) return;
  const { shard, keyId } = best;
  const copy = { ...st.shards[shard]! };
  delete copy[keyId];
  st.shards[shard] = copy;
  st.size -= 1;
  st.evictedKeys += 1;
}

function stepTenant(prev: TenantState | undefined, e: EnrichedEvent, cfg: KeySpikeConfig): StepResult<KeySpikeState> {
  const m = minuteOf(e.ts);
  const maxTs = Math.max(prev?.maxTs ?? e.ts, e.ts);
  const closedBefore = minuteOf(maxTs - cfg.allowedLatenessSec * 1000);
  if (prev && m < closedBefore) return { state: { ...prev, lateEvents: prev.lateEvents + 1 }, findings: [] };

  const st: TenantState = prev ? { ...prev, shards: [...prev.shards] } : newTenant(e, m);
  st.maxTs = maxTs;
  if (m < st.startMin) st.startMin = m;
  if (closedBefore > st.sweptMin) sweepTenant(st, closedBefore, cfg);

  const { keyId } = keyIdentity(e);
  const si = fnv1a32(keyId) % TENANT_SHARDS;
  const existing = st.shards[si]![keyId];
  if (!existing && st.size >= cfg.maxKeysPerTenant) evictLeastRecent(st);
  const shard = { ...st.shards[si]! };
  st.shards[si] = shard;
  const k: TenantKey = existing
    ? { ...existing, open: { ...existing.open }, ...(existing.samples ? { samples: { ...existing.samples } } : {}) }
    : { firstMin: m, lastTs: e.ts, open: {} };
  if (!existing) st.size += 1;
  shard[keyId] = k;
  if (m < k.firstMin) k.firstMin = m;
  k.lastTs = Math.max(k.lastTs, e.ts);
  const count = (k.open[String(m)] ?? 0) + 1;
  k.open[String(m)] = count;

  const historyMs = cfg.minHistoryMin * MINUTE_MS;
  const isNew = k.firstMin - st.startMin >= historyMs && m - k.firstMin < historyMs;
  if (!isNew) {
    if (k.samples) delete k.samples;
    return { state: st, findings: [] };
  }
  const sample = sampleWith(k.samples?.[String(m)], e);
  k.samples = { ...k.samples, [String(m)]: sample };

  if (st.prior.keyMinutes < cfg.priorMinKeyMinutes) return { state: st, findings: [] };
  const thr = threshold(st.prior.medianPerMin, st.prior.spreadPerMin, cfg);
  if (count <= thr.thresholdPerMin) return { state: st, findings: [] };

  const continuing = k.hotMin !== undefined && k.hotMin >= m - MINUTE_MS;
  if (!continuing) k.hotFromMin = m;
  k.hotMin = Math.max(k.hotMin ?? m, m);
  if (continuing || (k.open[String(m - MINUTE_MS)] ?? 0) > thr.thresholdPerMin) return { state: st, findings: [] };
  const j: Judgement = {
    scope: 'new_key',
    minute: m,
    count,
    thr,
    historyMinutes: (m - k.firstMin) / MINUTE_MS,
    prior: { ...st.prior },
    sample: cloneSample(sample),
  };
  return { state: st, findings: [buildFinding(e, st.tenant, j, cfg)] };
}

// ---------------------------------------------------------------------------------- detector

export const detector = defineDetector<KeySpikeConfig, KeySpikeState>({
  meta: {
    id: DETECTOR_ID,
    title: 'Per-API-key request spike',
    severity: 'high',
    defaultAction: 'alert',
    falsePositives: [
      'A batch job, backfill or load test run with a production key (ignoreKeyIds, or raise minRatePerMin)',
      'A periodic job whose runs are further apart than the baseline memory (roughly an hour): the first minute of each run is judged against an idle baseline',
      'A client retry storm after an outage of the API or of the client itself (the key really does send 10× its usual traffic)',
      'A new integration that starts at a high rate straight away, judged against the tenant prior',
      'A launch or marketing event that multiplies traffic in one step rather than as a ramp',
    ],
    references: [
      'https://owasp.org/API-Security/editions/2023/en/0xa4-unrestricted-resource-consumption/',
      'https://owasp.org/API-Security/editions/2023/en/0xa2-broken-authentication/',
      'https://attack.mitre.org/techniques/T1078/004/',
      'https://attack.mitre.org/techniques/T1552/001/',
      'https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc324.htm',
      'https://fanf2.user.srcf.net/hermes/doc/antiforgery/stats.pdf',
    ],
  },
  config: configSchema,

  keys(event, config) {
    if (event.cred.type !== 'api_key') return [];
    if (config.ignoreStatusCodes.includes(event.status)) return [];
    const { keyId } = keyIdentity(event);
    if (config.ignoreKeyIds.includes(keyId)) return [];
    const tenant = enc(event.tenant ?? '');
    const keys = [`key:${tenant}:${enc(keyId)}`];
    if (config.tenantPriorEnabled) keys.push(`tenant:${tenant}`);
    return keys;
  },

  stateTtlMs(config) {
    return config.stateIdleTtlMin * MINUTE_MS;
  },

  step(prev, event, ctx) {
    if (ctx.key.startsWith('tenant:')) {
      return stepTenant(prev?.kind === 'tenant' ? prev : undefined, event, ctx.config);
    }
    return stepKey(prev?.kind === 'key' ? prev : undefined, event, ctx.config);
  },

  cases: cases as DetectorCase[],
});

export default detector;
