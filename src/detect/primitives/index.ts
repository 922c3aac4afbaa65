/**
 * The detectors' vocabulary (STYLE habit 5), by concept: each primitive is written and tested once
 * here and composed by detectors.
 */
export * from './time-log.js';
export * from './sequence.js';
export * from './seen.js';
export * from './baseline.js';
export * from './geo.js';
export * from './dict.js';
