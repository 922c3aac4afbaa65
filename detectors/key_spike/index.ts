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
import type { DetectorCase, EnrichedEvent, Finding, Revocation, SourceRef, StepResult } from '../../src/detect/contract.js';
import { defineDetector } from '../../src/detect/contract.js';
import { mad, median } from '../../src/detect/primitives/index.js';
import {
  addDistinctCapped,
  alphaForHalfLife,
  ewmaStd,
  ewmaUpdate,
  ewmaUpdateZeros,
  fnv1a32,
  newEwma,
  type Ewma,
} from '../../src/detect/primitives/index.js';
import { cases } from './cases.js';
import { configSchema, type KeySpikeConfig } from './config.js';

export const DETECTOR_ID = 'key_spike';

/** Bucket width: counts are per event-time minute. */
export const MINUTE_MS = 60_000;

/** Evidence sample bounds: first event ids (and their sources) of the minute, distinct IPs/countries/ASNs. */
const SAMPLE_IDS = 5;
const SAMPLE_VALUES = 10;

/**
 * Shards of the tenant's key map. Part of the state format (states restored from a changelog hold
 * them); since `step` updates its state in place they no longer bound a copy, only the layout.
 */
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

/**
 * One open (not yet folded) minute of a series: its count and evidence sample. Plain JSON.
 *
 * Open minutes are a short list ascending by minute (the current one and those still within the
 * allowed lateness), not a record keyed by minute start: V8 looks up epoch-millisecond strings
 * such as "1764496800000" as integer-like property names on a slow path (hundreds of ns per
 * access), which made those records the bulk of the per-event cost.
 */
export interface OpenMinute {
  /** minute start, ms */
  m: number;
  /** requests counted in the minute */
  n: number;
  /** evidence sample of the minute */
  s: Sample;
}

/** An open minute as the tenant state keeps it: the sample only while the key is new. */
export interface TenantMinute {
  /** minute start, ms */
  m: number;
  /** requests counted in the minute */
  n: number;
  /** evidence sample of the minute, kept for new keys only */
  s?: Sample;
}

/**
 * Layout of the states this code writes. States of an earlier layout (restored from a changelog
 * written before; no `v`) are upgraded by their next step, see {@link upgradeState}.
 */
export const STATE_LAYOUT = 2;

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
  /** the open (not yet folded) minutes, ascending */
  open: OpenMinute[];
}

/** State of `key:<tenant>:<keyId>`. */
export interface KeyState {
  kind: 'key';
  /** {@link STATE_LAYOUT} */
  v: number;
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
  /** the open minutes, ascending */
  open: TenantMinute[];
  /** episode of a new key: first and last minute over threshold */
  hotFromMin?: number;
  hotMin?: number;
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
  /** {@link STATE_LAYOUT} */
  v: number;
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
/** A string of only these characters is its own `encodeURIComponent` (which also keeps `!*'()`): no call needed. */
const URI_SAFE = /^[A-Za-z0-9_.~-]*$/;
const enc = (s: string): string => (URI_SAFE.test(s) ? s : encodeURIComponent(s));

/** The entry of minute `m` in an ascending list of open minutes (scanned from the newest, usually it). */
function openAt<T extends { m: number }>(open: T[], m: number): T | undefined {
  for (let i = open.length - 1; i >= 0; i--) {
    const o = open[i]!;
    if (o.m === m) return o;
    if (o.m < m) return undefined;
  }
  return undefined;
}

/** Inserts `entry` into an ascending list of open minutes (a late minute goes before newer ones). */
function openInsert<T extends { m: number }>(open: T[], entry: T): T {
  let i = open.length;
  while (i > 0 && open[i - 1]!.m > entry.m) i--;
  open.splice(i, 0, entry);
  return entry;
}

/** Number of leading entries of an ascending list of open minutes that start before `t`. */
function countBefore(open: ReadonlyArray<{ m: number }>, t: number): number {
  let n = 0;
  while (n < open.length && open[n]!.m < t) n++;
  return n;
}

const newSample = (): Sample => ({ ids: [], src: [], ips: [], countries: [], asns: [] });

function hasSample(open: readonly TenantMinute[]): boolean {
  for (const o of open) if (o.s !== undefined) return true;
  return false;
}

/** The key an API-key event is counted under: key_id, else the key's fingerprint. */
export function keyIdentity(e: EnrichedEvent): { keyId: string; fromFp: boolean } {
  return e.cred.key_id !== undefined ? { keyId: e.cred.key_id, fromFp: false } : { keyId: e.cred.fp, fromFp: true };
}

const ID_SEGMENT = /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,})$/i;

/**
 * Whether `r[from, to)` can match {@link ID_SEGMENT} at all: it must start with a digit, or be at
 * least 16 characters long (UUID, long hex) and start with a hex letter. Saves the regex (and the
 * slice) on the usual segments, `v1`, `orders`, `{id}`.
 */
function mayBeIdSegment(r: string, from: number, to: number): boolean {
  if (to <= from) return false;
  const c = r.charCodeAt(from);
  if (c >= 48 && c <= 57) return true;
  const lower = c | 32;
  return to - from >= 16 && lower >= 97 && lower <= 102;
}

/** Drops the query string and replaces id-like segments (digits, UUIDs, hex ≥ 16) with `{id}`. */
export function normaliseRoute(route: string, ids: boolean): string {
  let r = route;
  if (ids) {
    const q = r.indexOf('?');
    if (q >= 0) r = r.slice(0, q);
    // Segment by segment, as split('/'); a route without id-like segments comes back as it is.
    let out = '';
    let copied = 0;
    let changed = false;
    for (let from = 0; from <= r.length; ) {
      let to = r.indexOf('/', from);
      if (to < 0) to = r.length;
      if (mayBeIdSegment(r, from, to) && ID_SEGMENT.test(r.slice(from, to))) {
        out += `${r.slice(copied, from)}{id}`;
        copied = to;
        changed = true;
      }
      from = to + 1;
    }
    if (changed) r = out + r.slice(copied);
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

/** `threshold(...).thresholdPerMin` without building the breakdown: the per-event check. */
function thresholdValue(baselinePerMin: number, sdPerMin: number, cfg: KeySpikeConfig): number {
  const spread = Math.max(sdPerMin, Math.sqrt(Math.max(0, baselinePerMin)));
  return Math.max(cfg.minRatePerMin, baselinePerMin + cfg.spreadK * spread, cfg.baselineRatio * baselinePerMin);
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

/** Adds the event to a sample in place (a new sample when `s` is undefined); returns the sample. */
function sampleAdd(s: Sample | undefined, e: EnrichedEvent): Sample {
  const out: Sample = s ?? newSample();
  if (out.ids.length < SAMPLE_IDS) {
    out.ids.push(e.id);
    if (e.source) out.src.push(e.source);
  }
  addDistinctCapped(out.ips, e.ip, SAMPLE_VALUES);
  const country = e.location?.country ?? e.geo?.country;
  if (country !== undefined) addDistinctCapped(out.countries, country, SAMPLE_VALUES);
  const asn = e.network?.asn ?? e.geo?.asn;
  if (asn !== undefined && asn !== 0) addDistinctCapped(out.asns, asn, SAMPLE_VALUES);
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
    open: [],
  };
}

/** A series judges minute `m` by its own baseline once it has minHistoryMin minutes of history. */
function established(s: Series, m: number, cfg: KeySpikeConfig): boolean {
  return m - s.firstMin >= cfg.minHistoryMin * MINUTE_MS && s.stats.n > 0;
}

/** Folds every minute that starts before `closedBefore` into the EWMA (idle minutes count as 0). */
function foldSeries(s: Series, closedBefore: number, cfg: KeySpikeConfig): void {
  if (s.foldedMin + MINUTE_MS >= closedBefore) return;
  const alpha = alphaForHalfLife(cfg.baselineHalfLifeMin);
  const closed = countBefore(s.open, closedBefore);
  for (let i = 0; i < closed; i++) {
    const { m, n: x } = s.open[i]!;
    if (m <= s.foldedMin) continue;
    ewmaUpdateZeros(s.stats, (m - s.foldedMin) / MINUTE_MS - 1, alpha);
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
  if (closed > 0) s.open.splice(0, closed);
}

/** Count of minute `m` of a series: open, or the last folded one, else unknown (0). */
function countAt(s: Series, m: number): number {
  if (m > s.foldedMin) return openAt(s.open, m)?.n ?? 0;
  return m === s.foldedMin ? s.foldedCount : 0;
}

/** Counts the event in a series (in place); returns the minute's new count. */
function addToSeries(s: Series, e: EnrichedEvent, m: number): number {
  if (m < s.firstMin && s.stats.n === 0) {
    // A slightly late event from before the first minute seen, before anything was folded.
    s.firstMin = m;
    s.foldedMin = m - MINUTE_MS;
  }
  if (e.ts > s.lastTs) s.lastTs = e.ts;
  const o = openAt(s.open, m) ?? openInsert(s.open, { m, n: 0, s: newSample() });
  sampleAdd(o.s, e);
  o.n += 1;
  return o.n;
}

/** The judgement of minute `m` of a series when its count is over the series' own threshold. */
function judgeSeries(
  s: Series,
  scope: 'key' | 'key_route',
  m: number,
  count: number,
  e: EnrichedEvent,
  cfg: KeySpikeConfig,
): Judgement | undefined {
  if (!established(s, m, cfg)) return undefined;
  const sd = ewmaStd(s.stats);
  if (count <= thresholdValue(s.stats.mean, sd, cfg)) return undefined;
  return {
    scope,
    minute: m,
    count,
    thr: threshold(s.stats.mean, sd, cfg),
    historyMinutes: s.stats.n,
    sample: openAt(s.open, m)?.s ?? sampleAdd(undefined, e),
  };
}

function stepKey(prev: KeyState | undefined, e: EnrichedEvent, cfg: KeySpikeConfig): StepResult<KeySpikeState> {
  const m = minuteOf(e.ts);
  const maxTs = Math.max(prev?.maxTs ?? e.ts, e.ts);
  const closedBefore = minuteOf(maxTs - cfg.allowedLatenessSec * 1000);
  if (prev && m < closedBefore) {
    prev.lateEvents += 1;
    return { state: prev, findings: [] };
  }

  const { keyId, fromFp } = keyIdentity(e);
  // Updated in place: the runtime hands `prev` to this step only and keeps the returned state.
  const st: KeyState = prev ?? {
    kind: 'key',
    v: STATE_LAYOUT,
    tenant: e.tenant ?? '',
    keyId,
    keyIdFromFp: fromFp,
    maxTs,
    total: newSeries(m, e.ts),
    routes: {},
    lateEvents: 0,
  };
  st.maxTs = maxTs;

  const minuteClosed = prev !== undefined && closedBefore > prev.total.foldedMin + MINUTE_MS;
  foldSeries(st.total, closedBefore, cfg);
  if (minuteClosed) {
    // A minute closed: fold every route and forget the idle ones (once a minute, not per event).
    const idleBefore = maxTs - cfg.stateIdleTtlMin * MINUTE_MS;
    for (const [r, s] of Object.entries(st.routes)) {
      if (s.lastTs < idleBefore) delete st.routes[r];
      else foldSeries(s, closedBefore, cfg);
    }
  }

  const keyCount = addToSeries(st.total, e, m);
  let route = '';
  let rs: Series | undefined;
  let routeCount = 0;
  if (cfg.perRouteEnabled) {
    route = normaliseRoute(e.route, cfg.normaliseRouteIds);
    rs = st.routes[route];
    if (!rs) {
      const names = Object.keys(st.routes);
      if (names.length >= cfg.maxRoutesPerKey) {
        let lru = names[0]!;
        for (const n of names) if (st.routes[n]!.lastTs < st.routes[lru]!.lastTs) lru = n;
        delete st.routes[lru];
      }
      rs = newSeries(m, e.ts);
      st.routes[route] = rs;
    }
    routeCount = addToSeries(rs, e, m);
  }

  // Judge the key total first, then the event's route: one finding per key per episode.
  let j = judgeSeries(st.total, 'key', m, keyCount, e, cfg);
  if (!j && rs) {
    const r = judgeSeries(rs, 'key_route', m, routeCount, e, cfg);
    if (r) j = { ...r, route, keyCount };
  }
  if (!j) return { state: st, findings: [] };

  const continuing = st.hotMin !== undefined && st.hotMin >= m - MINUTE_MS;
  st.hotMin = Math.max(st.hotMin ?? m, m);
  if (continuing) return { state: st, findings: [] };
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
    v: STATE_LAYOUT,
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
 * a new key's episode are left out), and forgets keys idle for stateIdleTtlMin. Updates `st` in place.
 */
function sweepTenant(st: TenantState, closedBefore: number, cfg: KeySpikeConfig): void {
  const byMinute = new Map<number, number[]>();
  const idleBefore = st.maxTs - cfg.stateIdleTtlMin * MINUTE_MS - cfg.allowedLatenessSec * 1000;
  let size = 0;
  for (const shard of st.shards) {
    for (const keyId of Object.keys(shard)) {
      const k = shard[keyId]!;
      if (k.lastTs < idleBefore) {
        delete shard[keyId];
        continue;
      }
      const closed = countBefore(k.open, closedBefore);
      for (let i = 0; i < closed; i++) {
        const { m: mm, n: count } = k.open[i]!;
        const inEpisode = k.hotFromMin !== undefined && k.hotMin !== undefined && mm >= k.hotFromMin && mm <= k.hotMin;
        if (count > 0 && !inEpisode) {
          const xs = byMinute.get(mm) ?? [];
          xs.push(count);
          byMinute.set(mm, xs);
        }
      }
      if (closed > 0) k.open.splice(0, closed);
      size++;
    }
  }
  st.size = size;
  const alpha = alphaForHalfLife(cfg.baselineHalfLifeMin);
  const p = st.prior;
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
  st.sweptMin = closedBefore;
}

/** Forgets the least recently seen key (in place). */
function evictLeastRecent(st: TenantState): void {
  let best: { shard: number; keyId: string; lastTs: number } | undefined;
  st.shards.forEach((shard, i) => {
    for (const [keyId, k] of Object.entries(shard)) {
      if (!best || k.lastTs < best.lastTs) best = { shard: i, keyId, lastTs: k.lastTs };
    }
  });
  if (!best) return;
  delete st.shards[best.shard]![best.keyId];
  st.size -= 1;
  st.evictedKeys += 1;
}

function stepTenant(prev: TenantState | undefined, e: EnrichedEvent, cfg: KeySpikeConfig): StepResult<KeySpikeState> {
  const m = minuteOf(e.ts);
  const maxTs = Math.max(prev?.maxTs ?? e.ts, e.ts);
  const closedBefore = minuteOf(maxTs - cfg.allowedLatenessSec * 1000);
  if (prev && m < closedBefore) {
    prev.lateEvents += 1;
    return { state: prev, findings: [] };
  }

  // Updated in place: the runtime hands `prev` to this step only and keeps the returned state.
  const st: TenantState = prev ?? newTenant(e, m);
  st.maxTs = maxTs;
  if (m < st.startMin) st.startMin = m;
  if (closedBefore > st.sweptMin) sweepTenant(st, closedBefore, cfg);

  const { keyId } = keyIdentity(e);
  const si = fnv1a32(keyId) % TENANT_SHARDS;
  let k = st.shards[si]![keyId];
  if (!k) {
    if (st.size >= cfg.maxKeysPerTenant) evictLeastRecent(st);
    k = { firstMin: m, lastTs: e.ts, open: [] };
    st.shards[si]![keyId] = k;
    st.size += 1;
  }
  if (m < k.firstMin) k.firstMin = m;
  if (e.ts > k.lastTs) k.lastTs = e.ts;
  const o = openAt(k.open, m) ?? openInsert(k.open, { m, n: 0 });
  const count = (o.n += 1);

  const historyMs = cfg.minHistoryMin * MINUTE_MS;
  const isNew = k.firstMin - st.startMin >= historyMs && m - k.firstMin < historyMs;
  if (!isNew) {
    // Evidence samples are kept for new keys only.
    if (hasSample(k.open)) k.open = k.open.map(({ m: mm, n }) => ({ m: mm, n }));
    return { state: st, findings: [] };
  }
  const sample = (o.s = sampleAdd(o.s, e));

  if (st.prior.keyMinutes < cfg.priorMinKeyMinutes) return { state: st, findings: [] };
  const thr = threshold(st.prior.medianPerMin, st.prior.spreadPerMin, cfg);
  if (count <= thr.thresholdPerMin) return { state: st, findings: [] };

  const continuing = k.hotMin !== undefined && k.hotMin >= m - MINUTE_MS;
  if (!continuing) k.hotFromMin = m;
  k.hotMin = Math.max(k.hotMin ?? m, m);
  if (continuing || (openAt(k.open, m - MINUTE_MS)?.n ?? 0) > thr.thresholdPerMin) return { state: st, findings: [] };
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

// --------------------------------------------------------------------------- earlier layout

/** A series as written before {@link STATE_LAYOUT} 2: open minutes as records keyed by minute start. */
interface SeriesV1 extends Omit<Series, 'open'> {
  open: { bucketMs: number; counts: Record<string, number> };
  samples: Record<string, Sample>;
}

/** A tenant's key as written before {@link STATE_LAYOUT} 2. */
interface TenantKeyV1 extends Omit<TenantKey, 'open'> {
  open: Record<string, number>;
  samples?: Record<string, Sample>;
}

const byMinuteAsc = (a: { m: number }, b: { m: number }): number => a.m - b.m;

function upgradeSeries(s: SeriesV1): Series {
  const { open, samples, ...rest } = s;
  const list = Object.entries(open.counts).map(([k, n]) => ({ m: Number(k), n, s: samples[k] ?? newSample() }));
  return { ...rest, open: list.sort(byMinuteAsc) };
}

function upgradeTenantKey(k: TenantKeyV1): TenantKey {
  const { open, samples, ...rest } = k;
  const list = Object.entries(open).map(([ms, n]): TenantMinute => {
    const sample = samples?.[ms];
    return sample ? { m: Number(ms), n, s: sample } : { m: Number(ms), n };
  });
  return { ...rest, open: list.sort(byMinuteAsc) };
}

/**
 * A state restored from a changelog written by an earlier layout, converted to this one (same
 * counts, samples, baselines and episodes), so an upgrade keeps every key's history.
 */
export function upgradeState(state: KeySpikeState): KeySpikeState {
  if (state.v === STATE_LAYOUT) return state;
  if (state.kind === 'key') {
    const old = state as unknown as Omit<KeyState, 'total' | 'routes'> & { total: SeriesV1; routes: Record<string, SeriesV1> };
    const routes: Record<string, Series> = {};
    for (const [r, rs] of Object.entries(old.routes)) routes[r] = upgradeSeries(rs);
    return { ...old, v: STATE_LAYOUT, total: upgradeSeries(old.total), routes };
  }
  const old = state as unknown as Omit<TenantState, 'shards'> & { shards: Array<Record<string, TenantKeyV1>> };
  const shards = old.shards.map((shard) => {
    const out: Record<string, TenantKey> = {};
    for (const [keyId, k] of Object.entries(shard)) out[keyId] = upgradeTenantKey(k);
    return out;
  });
  return { ...old, v: STATE_LAYOUT, shards };
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
    const st = prev === undefined || prev.v === STATE_LAYOUT ? prev : upgradeState(prev);
    if (ctx.key.startsWith('tenant:')) {
      return stepTenant(st?.kind === 'tenant' ? st : undefined, event, ctx.config);
    }
    return stepKey(st?.kind === 'key' ? st : undefined, event, ctx.config);
  },

  cases: cases as DetectorCase[],
});

export default detector;
