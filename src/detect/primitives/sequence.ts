/**
 * Value count and temporal order over event-time items (Sigma's value-count and temporal-order
 * correlations): distinct values, switches between values, bounded distinct samples for evidence.
 *
 * Rules of every primitive: plain JSON data (the runtime writes it to the changelog), pure apart
 * from mutating the structure handed in, times in event-time ms.
 */
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

/**
 * Adds `v` to a list of distinct values kept to at most `cap` entries (first seen win). Returns true
 * when the list changed. For bounded evidence samples (IPs, countries, ASNs).
 */
export function addDistinctCapped<T>(xs: T[], v: T, cap: number): boolean {
  if (xs.length >= cap || xs.includes(v)) return false;
  xs.push(v);
  return true;
}
