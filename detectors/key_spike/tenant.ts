/**
 * key_spike — `tenant:<tenant>`: the tenant's population prior and the keys it has seen, and the step that
 * judges keys too new for their own baseline.
 */
import { type EnrichedEvent, type StepResult } from '../../src/detect/contract.js';
import { alphaForHalfLife, dictDelete, dictGet, dictSet, fnv1a32, mad, median } from '../../src/detect/primitives/index.js';
import { type KeySpikeConfig } from './config.js';
import { KeySpikeState, MINUTE_MS, STATE_LAYOUT, TENANT_SHARDS, TenantMinute, TenantState } from './state.js';
import { cloneSample, countBefore, hasSample, keyIdentity, minuteOf, openAt, openInsert, sampleAdd, sampleAddNetwork, threshold } from './minutes.js';
import { Judgement, buildFinding } from './finding.js';

export function newTenant(e: EnrichedEvent, m: number): TenantState {
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
export function sweepTenant(st: TenantState, closedBefore: number, cfg: KeySpikeConfig): void {
  const byMinute = new Map<number, number[]>();
  const idleBefore = st.maxTs - cfg.stateIdleTtlMin * MINUTE_MS - cfg.allowedLatenessSec * 1000;
  let size = 0;
  for (const shard of st.shards) {
    for (const keyId of Object.keys(shard)) {
      const k = dictGet(shard, keyId)!;
      if (k.lastTs < idleBefore) {
        dictDelete(shard, keyId);
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
export function evictLeastRecent(st: TenantState): void {
  let best: { shard: number; keyId: string; lastTs: number } | undefined;
  st.shards.forEach((shard, i) => {
    for (const [keyId, k] of Object.entries(shard)) {
      if (!best || k.lastTs < best.lastTs) best = { shard: i, keyId, lastTs: k.lastTs };
    }
  });
  if (!best) return;
  dictDelete(st.shards[best.shard]!, best.keyId);
  st.size -= 1;
  st.evictedKeys += 1;
}

/**
 * Whether a new key's previous minute already met the new-key rule (rate and network spread), so
 * the current one belongs to its episode. A minute whose sample predates network counting (state
 * of an earlier layout) is taken at its count alone, as it was judged then.
 */
function wasHot(prev: TenantMinute | undefined, thresholdPerMin: number, cfg: KeySpikeConfig): boolean {
  if (prev === undefined || prev.n <= thresholdPerMin) return false;
  const nets = prev.s?.nets;
  return nets === undefined || nets.length >= cfg.newKeyMinNetworks;
}

export function stepTenant(prev: TenantState | undefined, e: EnrichedEvent, cfg: KeySpikeConfig): StepResult<KeySpikeState> {
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
  let k = dictGet(st.shards[si]!, keyId);
  if (!k) {
    if (st.size >= cfg.maxKeysPerTenant) evictLeastRecent(st);
    k = { firstMin: m, lastTs: e.ts, open: [] };
    dictSet(st.shards[si]!, keyId, k);
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
  const networks = sampleAddNetwork(sample, e);

  if (st.prior.keyMinutes < cfg.priorMinKeyMinutes) return { state: st, findings: [] };
  const thr = threshold(st.prior.medianPerMin, st.prior.spreadPerMin, cfg);
  if (count <= thr.thresholdPerMin) return { state: st, findings: [] };

  // An episode starts with the rate and the network spread (a busy new deployment is one network,
  // a leaked key is hammered from many); once started, the rate alone keeps it going.
  const continuing = k.hotMin !== undefined && k.hotMin >= m - MINUTE_MS;
  if (!continuing && networks < cfg.newKeyMinNetworks) return { state: st, findings: [] };
  if (!continuing) k.hotFromMin = m;
  k.hotMin = Math.max(k.hotMin ?? m, m);
  if (continuing || wasHot(openAt(k.open, m - MINUTE_MS), thr.thresholdPerMin, cfg)) return { state: st, findings: [] };
  const j: Judgement = {
    scope: 'new_key',
    minute: m,
    count,
    thr,
    historyMinutes: (m - k.firstMin) / MINUTE_MS,
    prior: { ...st.prior },
    sample: cloneSample(sample),
    networks: { counted: networks, min: cfg.newKeyMinNetworks },
  };
  return { state: st, findings: [buildFinding(e, st.tenant, j, cfg)] };
}
