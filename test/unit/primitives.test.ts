import { describe, expect, it } from 'vitest';
import { alternations, distinctValues, haversineKm, logEvictBefore, logInsert, mad, median, newTimeLog } from '../../src/detect/primitives/index.js';

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
    expect(distinctValues(items, (v) => v)).toEqual(['A', 'B', 'C']);
    expect(alternations(items, (v) => v)).toBe(4);
    expect(alternations(items, (v) => (v === 'C' ? undefined : v))).toBe(3);
  });

  it('robust statistics', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([1, 2, 3, 4])).toBe(2.5);
    expect(mad([1, 1, 1, 1, 100])).toBe(0);
    expect(mad([1, 2, 3, 4, 5])).toBeCloseTo(1.4826, 4);
  });

  it('haversine distance London → New York ≈ 5570 km', () => {
    expect(haversineKm(51.5074, -0.1278, 40.7128, -74.006)).toBeGreaterThan(5550);
    expect(haversineKm(51.5074, -0.1278, 40.7128, -74.006)).toBeLessThan(5590);
  });
});
