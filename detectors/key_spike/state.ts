/**
 * key_spike — The detector's state: what `key:<tenant>:<keyId>` and `tenant:<tenant>` hold (plain JSON), its
 * constants, and the upgrade of states written by the earlier layout.
 */
import { type SourceRef } from '../../src/detect/contract.js';
import { dictSet, type Ewma } from '../../src/detect/primitives/index.js';

export const DETECTOR_ID = 'key_spike';

/** Bucket width: counts are per event-time minute. */
export const MINUTE_MS = 60_000;

/** Evidence sample bounds: first event ids (and their sources) of the minute, distinct IPs/countries/ASNs/networks. */
export const SAMPLE_IDS = 5;
export const SAMPLE_VALUES = 10;

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
export const MAX_ROUTE_CHARS = 256;


/** A bounded evidence sample of one minute. Plain JSON. */
export interface Sample {
  ids: string[];
  src: SourceRef[];
  ips: string[];
  countries: string[];
  asns: number[];
  /**
   * Distinct networks of the minute (`AS<asn>`, else the /24 or /48 prefix), at most SAMPLE_VALUES:
   * the spread of the new-key rule. Kept by the tenant state only; absent in states written before it.
   */
  nets?: string[];
}

/** An empty evidence sample. */
export const newSample = (): Sample => ({ ids: [], src: [], ips: [], countries: [], asns: [] });

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


/** A series as written before {@link STATE_LAYOUT} 2: open minutes as records keyed by minute start. */
export interface SeriesV1 extends Omit<Series, 'open'> {
  open: { bucketMs: number; counts: Record<string, number> };
  samples: Record<string, Sample>;
}

/** A tenant's key as written before {@link STATE_LAYOUT} 2. */
export interface TenantKeyV1 extends Omit<TenantKey, 'open'> {
  open: Record<string, number>;
  samples?: Record<string, Sample>;
}

export const byMinuteAsc = (a: { m: number }, b: { m: number }): number => a.m - b.m;

export function upgradeSeries(s: SeriesV1): Series {
  const { open, samples, ...rest } = s;
  const list = Object.entries(open.counts).map(([k, n]) => ({ m: Number(k), n, s: samples[k] ?? newSample() }));
  return { ...rest, open: list.sort(byMinuteAsc) };
}

export function upgradeTenantKey(k: TenantKeyV1): TenantKey {
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
    for (const [r, rs] of Object.entries(old.routes)) dictSet(routes, r, upgradeSeries(rs));
    return { ...old, v: STATE_LAYOUT, total: upgradeSeries(old.total), routes };
  }
  const old = state as unknown as Omit<TenantState, 'shards'> & { shards: Array<Record<string, TenantKeyV1>> };
  const shards = old.shards.map((shard) => {
    const out: Record<string, TenantKey> = {};
    for (const [keyId, k] of Object.entries(shard)) dictSet(out, keyId, upgradeTenantKey(k));
    return out;
  });
  return { ...old, v: STATE_LAYOUT, shards };
}
