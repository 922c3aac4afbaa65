/**
 * An event-time ordered log of values that tolerates out-of-order inserts, with the temporal-order
 * lookups built on it (time neighbours, run compaction).
 *
 * Rules of every primitive: plain JSON data (the runtime writes it to the changelog), pure apart
 * from mutating the structure handed in, times in event-time ms.
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
