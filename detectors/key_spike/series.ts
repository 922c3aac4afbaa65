/**
 * key_spike — `key:<tenant>:<keyId>`: a key's own baseline (total and routes) and episode, and the step that
 * judges an established key.
 */
import { type EnrichedEvent, type StepResult } from '../../src/detect/contract.js';
import { alphaForHalfLife, dictDelete, dictGet, dictSet, ewmaStd, ewmaUpdate, ewmaUpdateZeros, newEwma } from '../../src/detect/primitives/index.js';
import { type KeySpikeConfig } from './config.js';
import { HOT_CLIP_SPREADS, KeySpikeState, KeyState, MINUTE_MS, STATE_LAYOUT, Series, newSample } from './state.js';
import { cloneSample, countBefore, keyIdentity, minuteOf, normaliseRoute, openAt, openInsert, sampleAdd, threshold, thresholdValue } from './minutes.js';
import { Judgement, buildFinding } from './finding.js';

export function newSeries(minute: number, ts: number): Series {
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
export function established(s: Series, m: number, cfg: KeySpikeConfig): boolean {
  return m - s.firstMin >= cfg.minHistoryMin * MINUTE_MS && s.stats.n > 0;
}

/** Folds every minute that starts before `closedBefore` into the EWMA (idle minutes count as 0). */
export function foldSeries(s: Series, closedBefore: number, cfg: KeySpikeConfig): void {
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
export function countAt(s: Series, m: number): number {
  if (m > s.foldedMin) return openAt(s.open, m)?.n ?? 0;
  return m === s.foldedMin ? s.foldedCount : 0;
}

/** Counts the event in a series (in place); returns the minute's new count. */
export function addToSeries(s: Series, e: EnrichedEvent, m: number): number {
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
export function judgeSeries(
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

export function stepKey(prev: KeyState | undefined, e: EnrichedEvent, cfg: KeySpikeConfig): StepResult<KeySpikeState> {
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
      if (s.lastTs < idleBefore) dictDelete(st.routes, r);
      else foldSeries(s, closedBefore, cfg);
    }
  }

  const keyCount = addToSeries(st.total, e, m);
  let route = '';
  let rs: Series | undefined;
  let routeCount = 0;
  if (cfg.perRouteEnabled) {
    route = normaliseRoute(e.route, cfg.normaliseRouteIds);
    rs = dictGet(st.routes, route);
    if (!rs) {
      const names = Object.keys(st.routes);
      if (names.length >= cfg.maxRoutesPerKey) {
        let lru = names[0]!;
        for (const n of names) if (dictGet(st.routes, n)!.lastTs < dictGet(st.routes, lru)!.lastTs) lru = n;
        dictDelete(st.routes, lru);
      }
      rs = newSeries(m, e.ts);
      dictSet(st.routes, route, rs);
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
