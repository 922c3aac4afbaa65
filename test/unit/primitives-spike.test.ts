import { describe, expect, it } from 'vitest';
import {
  addDistinctCapped,
  alphaForHalfLife,
  ewmaStd,
  ewmaUpdate,
  ewmaUpdateZeros,
  fnv1a32,
  newEwma,
} from '../../src/detect/primitives/index.js';

describe('EWMA with variance', () => {
  it('is an ordinary mean and population variance during warm-up', () => {
    const e = newEwma();
    for (const x of [2, 4, 4, 4, 5, 5, 7, 9]) ewmaUpdate(e, x, 0.01);
    expect(e.n).toBe(8);
    expect(e.mean).toBeCloseTo(5, 12);
    expect(e.var).toBeCloseTo(4, 12);
    expect(ewmaStd(e)).toBeCloseTo(2, 12);
  });

  it('keeps a constant series exact, with zero variance', () => {
    const e = newEwma();
    for (let i = 0; i < 50; i++) ewmaUpdate(e, 20, 0.1);
    expect(e.mean).toBe(20);
    expect(e.var).toBe(0);
  });

  it('weighs the past by (1 - alpha) per step after warm-up', () => {
    const alpha = alphaForHalfLife(7);
    expect(Math.pow(1 - alpha, 7)).toBeCloseTo(0.5, 12);
    const e = newEwma();
    for (let i = 0; i < 100; i++) ewmaUpdate(e, 10, alpha);
    ewmaUpdate(e, 110, alpha);
    expect(e.mean).toBeCloseTo(10 + alpha * 100, 12);
    expect(e.var).toBeCloseTo((1 - alpha) * alpha * 100 * 100, 9);
  });

  it('folds idle steps as zeros, and resets past maxSteps', () => {
    const a = newEwma();
    const b = newEwma();
    for (const e of [a, b]) for (let i = 0; i < 30; i++) ewmaUpdate(e, 10, 0.1);
    ewmaUpdateZeros(a, 5, 0.1);
    for (let i = 0; i < 5; i++) ewmaUpdate(b, 0, 0.1);
    expect(a).toEqual(b);
    ewmaUpdateZeros(a, 5000, 0.1, 100);
    expect(a).toEqual({ n: 5035, mean: 0, var: 0 });
  });

  it('rejects a non-positive half-life', () => {
    expect(() => alphaForHalfLife(0)).toThrow(RangeError);
  });
});

describe('bounded distinct sample', () => {
  it('keeps the first distinct values up to the cap', () => {
    const xs: string[] = [];
    for (const v of ['a', 'b', 'a', 'c', 'd']) addDistinctCapped(xs, v, 3);
    expect(xs).toEqual(['a', 'b', 'c']);
  });
});

describe('fnv1a32', () => {
  it('matches the reference values', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
});
