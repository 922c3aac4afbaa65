import { describe, expect, it } from 'vitest';
import {
  alternations, bucketAdd, bucketEvictBefore, bucketStarts, distinctCount, haversineKm, logEvictBefore, logInsert,
  mad, median, newBucketCounts, newSeenSet, newTimeLog, seenBefore,
} from '../../src/detect/primitives/core.js';

describe('shared primitives', () => {
  it('time log keeps event-time order under out-of-order inserts and evicts by time', () => {
    const log = newTimeLog<string>();
    logInsert(log, 30, 'c');
    logInsert(log, 10, 'a');
    logInsert(log, 20, 'b');
    logInsert(log, 20, 'b2');
    expect(log.items.map((i) => i.v)).toEqual(['a', 'b', 'b2', 'c']);
    logEvictBefore(log, 20);
    expect(log.items.map((i) => i.v)).toEqual(['b', 'b2', 'c']);
  });

  it('counts distinct values and alternations', () => {
    const items = ['A', 'A', 'B', 'A', 'B', 'B', 'C'].map((v, t) => ({ t, v }));
    expect(distinctCount(items, (v) => v)).toBe(3);
    expect(alternations(items, (v) => v)).toBe(4);
    expect(alternations(items, (v) => (v === 'C' ? undefined : v))).toBe(3);
  });

  it('buckets events per minute and evicts old buckets', () => {
    const b = newBucketCounts(60_000);
    bucketAdd(b, 0);
    bucketAdd(b, 59_999);
    expect(bucketAdd(b, 60_000)).toBe(1);
    expect(b.counts['0']).toBe(2);
    bucketEvictBefore(b, 60_000);
    expect(bucketStarts(b)).toEqual([60_000]);
  });

  it('robust statistics', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([1, 2, 3, 4])).toBe(2.5);
    expect(mad([1, 1, 1, 1, 100])).toBe(0);
    expect(mad([1, 2, 3, 4, 5])).toBeCloseTo(1.4826, 4);
  });

  it('seen-before set is bounded and forgets the oldest', () => {
    const s = newSeenSet(2);
    expect(seenBefore(s, 'a', 1)).toBeUndefined();
    expect(seenBefore(s, 'a', 2)).toBe(1);
    seenBefore(s, 'b', 3);
    seenBefore(s, 'c', 4);
    expect(seenBefore(s, 'a', 5)).toBeUndefined();
  });

  it('haversine distance London → New York ≈ 5570 km', () => {
    expect(haversineKm(51.5074, -0.1278, 40.7128, -74.006)).toBeGreaterThan(5550);
    expect(haversineKm(51.5074, -0.1278, 40.7128, -74.006)).toBeLessThan(5590);
  });
});
