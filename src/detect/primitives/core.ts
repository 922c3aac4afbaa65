/**
 * Correlation primitives shared by detectors (Sigma's event count, value count and temporal order).
 * Every structure is plain JSON data (so the runtime can write it to a changelog) and every
 * function is pure apart from mutating the structure it is handed. Times are event-time ms.
 */

/** An event-time ordered log of values; tolerates out-of-order inserts. */
export interface TimeLog<T> {
  /** ascending by `t`; ties keep arrival order */
  items: Array<{ t: number; v: T }>;
}

export function newTimeLog<T>(): TimeLog<T> {
  return { items: [] };
}

/** Inserts in event-time order (binary search, so a late event lands where it belongs). Returns its index. */
export function logInsert<T>(log: TimeLog<T>, t: number, v: T): number {
  const items = log.items;
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.t <= t) lo = mid + 1;
    else hi = mid;
  }
  items.splice(lo, 0, { t, v });
  return lo;
}

/** Drops items older than `minT` (exclusive bound: items with t < minT go). */
export function logEvictBefore<T>(log: TimeLog<T>, minT: number): void {
  const items = log.items;
  let n = 0;
  while (n < items.length && items[n]!.t < minT) n++;
  if (n > 0) items.splice(0, n);
}

/** Keeps at most `max` newest items. */
export function logCap<T>(log: TimeLog<T>, max: number): void {
  if (log.items.length > max) log.items.splice(0, log.items.length - max);
}

/** Items with fromT <= t <= toT. */
export function logRange<T>(log: TimeLog<T>, fromT: number, toT: number): Array<{ t: number; v: T }> {
  return log.items.filter((it) => it.t >= fromT && it.t <= toT);
}

/** Number of distinct values of `by(item)` among the items (a Sigma "value count"). */
export function distinctCount<T>(items: Iterable<{ t: number; v: T }>, by: (v: T) => string | undefined): number {
  const seen = new Set<string>();
  for (const it of items) {
    const k = by(it.v);
    if (k !== undefined) seen.add(k);
  }
  return seen.size;
}

/** Distinct values in first-seen order. */
export function distinctValues<T>(items: Iterable<{ t: number; v: T }>, by: (v: T) => string | undefined): string[] {
  const seen = new Set<string>();
  for (const it of items) {
    const k = by(it.v);
    if (k !== undefined) seen.add(k);
  }
  return [...seen];
}

/**
 * Number of switches between different values when the items are walked in time order
 * (A A B A B → 3). Values for which `by` returns undefined are skipped. This is the temporal-order
 * primitive behind "requests interleave between networks".
 */
export function alternations<T>(items: Iterable<{ t: number; v: T }>, by: (v: T) => string | undefined): number {
  let prev: string | undefined;
  let n = 0;
  for (const it of items) {
    const k = by(it.v);
    if (k === undefined) continue;
    if (prev !== undefined && k !== prev) n++;
    prev = k;
  }
  return n;
}

/** Event counts per fixed bucket (e.g. per minute), keyed by bucket start. An "event count". */
export interface BucketCounts {
  bucketMs: number;
  /** bucket start (ms) -> count; kept sparse */
  counts: Record<string, number>;
}

export function newBucketCounts(bucketMs: number): BucketCounts {
  return { bucketMs, counts: {} };
}

export function bucketOf(b: BucketCounts, t: number): number {
  return Math.floor(t / b.bucketMs) * b.bucketMs;
}

/** Adds one event at time t; returns the bucket's new count. */
export function bucketAdd(b: BucketCounts, t: number, n = 1): number {
  const k = String(bucketOf(b, t));
  const c = (b.counts[k] ?? 0) + n;
  b.counts[k] = c;
  return c;
}

export function bucketGet(b: BucketCounts, bucketStart: number): number {
  return b.counts[String(bucketStart)] ?? 0;
}

/** Drops buckets that start before `minT`. */
export function bucketEvictBefore(b: BucketCounts, minT: number): void {
  for (const k of Object.keys(b.counts)) if (Number(k) < minT) delete b.counts[k];
}

/** Bucket starts in ascending order. */
export function bucketStarts(b: BucketCounts): number[] {
  return Object.keys(b.counts)
    .map(Number)
    .sort((x, y) => x - y);
}

/** Median of a numeric sample (0 for an empty one). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >>> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median absolute deviation, scaled by 1.4826 so it estimates σ for normal data. */
export function mad(xs: readonly number[], med = median(xs)): number {
  if (xs.length === 0) return 0;
  return 1.4826 * median(xs.map((x) => Math.abs(x - med)));
}

/**
 * A "seen before" memory with bounded size: remembers keys with the time they were seen and forgets
 * the oldest first. Plain data.
 */
export interface SeenSet {
  max: number;
  /** key -> first-seen time (ms); insertion order = age order */
  seen: Record<string, number>;
}

export function newSeenSet(max: number): SeenSet {
  return { max, seen: {} };
}

/** Records `key` at time t; returns the earlier time when it was already seen, else undefined. */
export function seenBefore(s: SeenSet, key: string, t: number): number | undefined {
  const prev = s.seen[key];
  if (prev !== undefined) return prev;
  s.seen[key] = t;
  const keys = Object.keys(s.seen);
  if (keys.length > s.max) delete s.seen[keys[0]!];
  return undefined;
}

// ---------------------------------------------------------------- geography

const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance in km (haversine). */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}
