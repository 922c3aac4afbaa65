/**
 * "Seen before" memory with bounded size, and a stable string hash for sharding plain-JSON maps.
 *
 * Rules of every primitive: plain JSON data (the runtime writes it to the changelog), pure apart
 * from mutating the structure handed in, times in event-time ms.
 */
import { dictDelete, dictGet, dictSet } from './dict.js';
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

/**
 * "Seen within": true when `key` was recorded in `s` no more than `withinMs` away from `t` (either
 * direction, so late events count). Otherwise records `key` at `t` (replacing a stale entry, which
 * moves it to the young end) and returns false. Bounded by `s.max`, the oldest forgotten first.
 */
export function seenWithin(s: SeenSet, key: string, t: number, withinMs: number): boolean {
  const prev = dictGet(s.seen, key);
  if (prev !== undefined && Math.abs(t - prev) <= withinMs) return true;
  dictDelete(s.seen, key);
  dictSet(s.seen, key, t);
  const keys = Object.keys(s.seen);
  if (keys.length > s.max) dictDelete(s.seen, keys[0]!);
  return false;
}

/** Forgets entries recorded before `minT`. */
export function seenEvictBefore(s: SeenSet, minT: number): void {
  for (const [k, t] of Object.entries(s.seen)) if (t < minT) dictDelete(s.seen, k);
}

/** 32-bit FNV-1a hash of a string (UTF-16 code units): a stable shard index for plain-JSON maps. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
