/**
 * Robust baselines of a per-step series: median / MAD, and an exponentially weighted mean and
 * variance (one observation per closed bucket).
 *
 * Rules of every primitive: plain JSON data (the runtime writes it to the changelog), pure apart
 * from mutating the structure handed in, times in event-time ms.
 */
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
 * Exponentially weighted mean and variance of a series, one observation per step (e.g. per minute).
 * Plain JSON. During warm-up (`n < 1 / alpha`) the weight is `1 / n`, so the first observations form
 * an ordinary running mean and population variance instead of being biased towards the first value.
 */
export interface Ewma {
  /** observations folded in so far */
  n: number;
  mean: number;
  /** exponentially weighted population variance (never negative) */
  var: number;
}

export function newEwma(): Ewma {
  return { n: 0, mean: 0, var: 0 };
}

/** Smoothing factor per step for a half-life in steps: after `halfLife` steps an observation weighs half. */
export function alphaForHalfLife(halfLifeSteps: number): number {
  if (!(halfLifeSteps > 0)) throw new RangeError(`halfLifeSteps must be > 0 (got ${halfLifeSteps})`);
  return 1 - Math.pow(2, -1 / halfLifeSteps);
}

/**
 * Folds one observation into `e` (incremental exponentially weighted variance, Finch 2009): with
 * weight a = max(alpha, 1/n), diff = x − mean, mean += a·diff, var = (1 − a)·(var + a·diff²).
 */
export function ewmaUpdate(e: Ewma, x: number, alpha: number): void {
  e.n += 1;
  if (e.n === 1) {
    e.mean = x;
    e.var = 0;
    return;
  }
  const a = Math.max(alpha, 1 / e.n);
  const diff = x - e.mean;
  const incr = a * diff;
  e.mean += incr;
  e.var = Math.max(0, (1 - a) * (e.var + diff * incr));
}

/**
 * Folds `steps` observations of value 0 (idle buckets). At most `maxSteps` are applied one by one;
 * beyond that the remaining weight of the history is below (1 − alpha)^maxSteps and the series is
 * reset to zero mean and variance (the step count still advances).
 */
export function ewmaUpdateZeros(e: Ewma, steps: number, alpha: number, maxSteps = 1000): void {
  const k = Math.min(steps, maxSteps);
  for (let i = 0; i < k; i++) ewmaUpdate(e, 0, alpha);
  if (steps > k) {
    e.n += steps - k;
    e.mean = 0;
    e.var = 0;
  }
}

/** Standard deviation of the series. */
export function ewmaStd(e: Ewma): number {
  return Math.sqrt(e.var);
}
