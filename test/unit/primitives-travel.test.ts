import { describe, expect, it } from 'vitest';
import { haversineKm, logInsert, newSeenSet, newTimeLog } from '../../src/detect/primitives/index.js';
import { MAX_GREAT_CIRCLE_KM, logCompactRuns, logNeighbours, seenEvictBefore, seenWithin } from '../../src/detect/primitives/index.js';

describe('logNeighbours', () => {
  it('finds the items just before (≤ t) and just after (> t), consistent with logInsert', () => {
    const log = newTimeLog<string>();
    expect(logNeighbours(log, 5)).toEqual({ index: 0 });
    for (const [t, v] of [[10, 'a'], [30, 'c'], [20, 'b'], [20, 'b2']] as const) logInsert(log, t, v);
    expect(logNeighbours(log, 5)).toEqual({ index: 0, next: { t: 10, v: 'a' } });
    expect(logNeighbours(log, 20)).toEqual({ index: 3, prev: { t: 20, v: 'b2' }, next: { t: 30, v: 'c' } });
    expect(logNeighbours(log, 25)).toEqual({ index: 3, prev: { t: 20, v: 'b2' }, next: { t: 30, v: 'c' } });
    expect(logNeighbours(log, 99)).toEqual({ index: 4, prev: { t: 30, v: 'c' } });
    const n = logNeighbours(log, 15);
    expect(logInsert(log, 15, 'x')).toBe(n.index);
  });
});

describe('logCompactRuns', () => {
  it('keeps only the first and last item of each run', () => {
    const log = newTimeLog<string>();
    'AAAABAACCC'.split('').forEach((v, i) => logInsert(log, i, v));
    expect(logCompactRuns(log, (a, b) => a === b)).toBe(3);
    expect(log.items.map((x) => `${x.v}${x.t}`)).toEqual(['A0', 'A3', 'B4', 'A5', 'A6', 'C7', 'C9']);
    expect(logCompactRuns(log, (a, b) => a === b)).toBe(0);
  });

  it('leaves short logs alone', () => {
    const log = newTimeLog<number>();
    logInsert(log, 1, 1);
    logInsert(log, 2, 1);
    expect(logCompactRuns(log, () => true)).toBe(0);
    expect(log.items).toHaveLength(2);
  });
});

describe('seenWithin / seenEvictBefore', () => {
  it('answers true only within the window, in either time direction, and stays bounded', () => {
    const s = newSeenSet(2);
    expect(seenWithin(s, 'a', 1000, 100)).toBe(false);
    expect(seenWithin(s, 'a', 1050, 100)).toBe(true);
    expect(seenWithin(s, 'a', 950, 100)).toBe(true);
    expect(seenWithin(s, 'a', 1200, 100)).toBe(false);
    expect(s.seen.a).toBe(1200);
    seenWithin(s, 'b', 1300, 100);
    seenWithin(s, 'c', 1400, 100);
    expect(Object.keys(s.seen)).toEqual(['b', 'c']);
    seenEvictBefore(s, 1350);
    expect(Object.keys(s.seen)).toEqual(['c']);
  });
});

describe('MAX_GREAT_CIRCLE_KM', () => {
  it('is the antipodal haversine distance', () => {
    expect(haversineKm(0, 0, 0, 180)).toBeCloseTo(MAX_GREAT_CIRCLE_KM, 6);
    expect(MAX_GREAT_CIRCLE_KM).toBeCloseTo(20015.1, 1);
  });
});
