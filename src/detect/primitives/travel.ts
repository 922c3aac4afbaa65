/**
 * Generic primitives that `src/primitives.ts` lacks, first needed by the impossible-travel detector:
 * time-neighbour lookup and run compaction over a `TimeLog`, and the largest great-circle distance.
 * Same rules as `primitives.ts`: plain JSON data, pure apart from mutating the structure handed in,
 * times are event-time ms.
 */
import type { SeenSet, TimeLog } from './core.js';

/** Largest possible great-circle distance on the haversine sphere (half its circumference), km: ≈ 20 015. */
export const MAX_GREAT_CIRCLE_KM = Math.PI * 6371.0088;

/** The item just before (t' ≤ t) and just after (t' > t) an event time, with the insertion index. */
export interface TimeNeighbours<T> {
  /** the latest item with t' ≤ t (ties: the last one to arrive) */
  prev?: { t: number; v: T };
  /** the earliest item with t' > t */
  next?: { t: number; v: T };
  /** where `logInsert(log, t, …)` would put a new item */
  index: number;
}

/**
 * Time neighbours of `t` in an event-time ordered log (binary search), consistent with `logInsert`:
 * a new item at `t` lands between `prev` and `next`. This is the "temporal order" lookup that lets a
 * late event be compared with the events around it rather than with the last one to arrive.
 */
export function logNeighbours<T>(log: TimeLog<T>, t: number): TimeNeighbours<T> {
  const items = log.items;
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.t <= t) lo = mid + 1;
    else hi = mid;
  }
  const out: TimeNeighbours<T> = { index: lo };
  if (lo > 0) out.prev = items[lo - 1]!;
  if (lo < items.length) out.next = items[lo]!;
  return out;
}

/**
 * Run compaction: in every run of consecutive items that `same` says belong together, keeps only the
 * run's first and last item (its time span) and drops the interior. Returns how many items went.
 * An item is dropped when `same` holds both with the last item kept before it and with the item after it.
 */
export function logCompactRuns<T>(log: TimeLog<T>, same: (a: T, b: T) => boolean): number {
  const items = log.items;
  if (items.length < 3) return 0;
  const kept: typeof items = [items[0]!];
  for (let i = 1; i < items.length - 1; i++) {
    const prev = kept[kept.length - 1]!;
    const cur = items[i]!;
    const next = items[i + 1]!;
    if (same(prev.v, cur.v) && same(cur.v, next.v)) continue;
    kept.push(cur);
  }
  kept.push(items[items.length - 1]!);
  const dropped = items.length - kept.length;
  if (dropped > 0) items.splice(0, items.length, ...kept);
  return dropped;
}

/**
 * "Seen within": true when `key` was recorded in `s` no more than `withinMs` away from `t` (either
 * direction, so late events count). Otherwise records `key` at `t` (replacing a stale entry, which
 * moves it to the young end) and returns false. Bounded by `s.max` like `seenBefore`.
 */
export function seenWithin(s: SeenSet, key: string, t: number, withinMs: number): boolean {
  const prev = s.seen[key];
  if (prev !== undefined && Math.abs(t - prev) <= withinMs) return true;
  delete s.seen[key];
  s.seen[key] = t;
  const keys = Object.keys(s.seen);
  if (keys.length > s.max) delete s.seen[keys[0]!];
  return false;
}

/** Forgets entries recorded before `minT`. */
export function seenEvictBefore(s: SeenSet, minT: number): void {
  for (const [k, t] of Object.entries(s.seen)) if (t < minT) delete s.seen[k];
}
