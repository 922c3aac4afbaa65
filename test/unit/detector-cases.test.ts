/**
 * Runs every case of every registered detector through the real schema, enricher and engine.
 */
import { describe, expect, it } from 'vitest';
import { detectors } from '../../detectors/index.js';
import { runCase } from '../../src/testing/cases.js';

describe.each(detectors.map((d) => [d.meta.id, d] as const))('detector %s', (_id, detector) => {
  it.each(detector.cases.map((c) => [`${c.kind}: ${c.name}`, c] as const))('%s', (_name, c) => {
    const { problems } = runCase(detector, c);
    expect(problems).toEqual([]);
  });
});
