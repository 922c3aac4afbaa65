/**
 * key_spike — Per-minute bookkeeping shared by the key and tenant states: open minutes, evidence samples, the
 * key identity and route normalisation, and the threshold rule.
 */
import { type EnrichedEvent } from '../../src/detect/contract.js';
import { addDistinctCapped } from '../../src/detect/primitives/index.js';
import { type KeySpikeConfig } from './config.js';
import { MAX_ROUTE_CHARS, MINUTE_MS, SAMPLE_IDS, SAMPLE_VALUES, Sample, TenantMinute, newSample } from './state.js';

export const minuteOf = (t: number): number => Math.floor(t / MINUTE_MS) * MINUTE_MS;
export const iso = (ms: number): string => new Date(ms).toISOString();
export const round2 = (x: number): number => Math.round(x * 100) / 100;
/** A string of only these characters is its own `encodeURIComponent` (which also keeps `!*'()`): no call needed. */
export const URI_SAFE = /^[A-Za-z0-9_.~-]*$/;
/** Lone surrogates (valid in JSON, so in an event) become U+FFFD: encodeURIComponent throws on them. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
export const enc = (s: string): string => (URI_SAFE.test(s) ? s : encodeURIComponent(s.replace(LONE_SURROGATE, '\ufffd')));

/** The entry of minute `m` in an ascending list of open minutes (scanned from the newest, usually it). */
export function openAt<T extends { m: number }>(open: T[], m: number): T | undefined {
  for (let i = open.length - 1; i >= 0; i--) {
    const o = open[i]!;
    if (o.m === m) return o;
    if (o.m < m) return undefined;
  }
  return undefined;
}

/** Inserts `entry` into an ascending list of open minutes (a late minute goes before newer ones). */
export function openInsert<T extends { m: number }>(open: T[], entry: T): T {
  let i = open.length;
  while (i > 0 && open[i - 1]!.m > entry.m) i--;
  open.splice(i, 0, entry);
  return entry;
}

/** Number of leading entries of an ascending list of open minutes that start before `t`. */
export function countBefore(open: ReadonlyArray<{ m: number }>, t: number): number {
  let n = 0;
  while (n < open.length && open[n]!.m < t) n++;
  return n;
}


export function hasSample(open: readonly TenantMinute[]): boolean {
  for (const o of open) if (o.s !== undefined) return true;
  return false;
}

/** The key an API-key event is counted under: key_id, else the key's fingerprint. */
export function keyIdentity(e: EnrichedEvent): { keyId: string; fromFp: boolean } {
  return e.cred.key_id !== undefined ? { keyId: e.cred.key_id, fromFp: false } : { keyId: e.cred.fp, fromFp: true };
}

export const ID_SEGMENT = /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,})$/i;

/**
 * Whether `r[from, to)` can match {@link ID_SEGMENT} at all: it must start with a digit, or be at
 * least 16 characters long (UUID, long hex) and start with a hex letter. Saves the regex (and the
 * slice) on the usual segments, `v1`, `orders`, `{id}`.
 */
export function mayBeIdSegment(r: string, from: number, to: number): boolean {
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
export function thresholdValue(baselinePerMin: number, sdPerMin: number, cfg: KeySpikeConfig): number {
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
export function sampleAdd(s: Sample | undefined, e: EnrichedEvent): Sample {
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

export function cloneSample(s: Sample): Sample {
  const out: Sample = { ids: [...s.ids], src: [...s.src], ips: [...s.ips], countries: [...s.countries], asns: [...s.asns] };
  if (s.nets !== undefined) out.nets = [...s.nets];
  return out;
}

/**
 * The network an event comes from, as the enricher saw it: `AS<asn>` when the ASN is known (0 is
 * "unknown" in ASN databases), else the event's IPv4 /24 or IPv6 /48 (or trusted egress CIDR).
 */
export function networkOf(e: EnrichedEvent): string {
  const asn = e.network?.asn ?? e.geo?.asn;
  if (asn !== undefined && asn !== 0) return `AS${asn}`;
  return e.network?.net ?? e.ip;
}

/**
 * Adds the event's network to the sample's distinct networks (in place, at most SAMPLE_VALUES; a
 * sample restored from a state written before networks were counted starts counting now); returns
 * how many distinct networks the minute has.
 */
export function sampleAddNetwork(s: Sample, e: EnrichedEvent): number {
  const nets = (s.nets ??= []);
  addDistinctCapped(nets, networkOf(e), SAMPLE_VALUES);
  return nets.length;
}
