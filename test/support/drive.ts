/**
 * Drives one detector straight through its contract, `keys()` then `step()`, with no engine in
 * between: one state per key, an alias table fed by the steps' `aliases`, and the states kept for
 * the test to inspect. For what the engine adds (eviction, TTL sweeps, lateness counts) use
 * `runCase` (src/testing/cases.ts), which runs the real engine.
 *
 * Belongs beside `runCase` in the detector SDK's test kit; here until src/testing can take it.
 */
import type { Detector, DetectorCaseEvent, EnrichedEvent, Finding } from '../../src/detect/contract.js';
import { caseEvent } from '../../src/testing/cases.js';

export interface DriveOptions<S> {
  /** config overrides, parsed with the detector's schema (default: every field at its default) */
  config?: Record<string, unknown>;
  /**
   * the `watermarkMs` handed to each step: `max` is the highest event time so far, as the engine
   * passes it; `event` is the event's own time (a late event then never looks late)
   */
  watermark?: 'max' | 'event';
  /** applied to every state a step returns before the next step gets it (e.g. a changelog round trip) */
  restore?: (state: S) => S;
  /** called with each finding as it is made */
  onFinding?: (f: Finding) => void;
}

export interface Driven<C, S> {
  /** every finding in the order made, with the key whose step made it */
  findings: Array<Finding & { key: string }>;
  /** the last state of each key (a step returning undefined deletes the key) */
  states: Map<string, S>;
  /** alias -> key, as recorded by the steps */
  aliases: Map<string, string>;
  /** per event, the keys `keys()` gave */
  keysSeen: string[][];
  config: C;
}

/** Case sketches as enriched events, ids `e<i>` and offsets `<i>` by position. */
export function caseEvents(sketches: DetectorCaseEvent[]): EnrichedEvent[] {
  return sketches.map((s, i) => caseEvent(s, i));
}

/** Steps `detector` over `events` in the order given. */
export function drive<C, S>(detector: Detector<C, S>, events: EnrichedEvent[], opts: DriveOptions<S> = {}): Driven<C, S> {
  const config = detector.config.parse(opts.config ?? {});
  const states = new Map<string, S>();
  const aliases = new Map<string, string>();
  const lookup = (a: string) => aliases.get(a);
  const findings: Array<Finding & { key: string }> = [];
  const keysSeen: string[][] = [];
  let maxTs = Number.NEGATIVE_INFINITY;
  for (const e of events) {
    maxTs = Math.max(maxTs, e.ts);
    const watermarkMs = opts.watermark === 'event' ? e.ts : maxTs;
    const keys = detector.keys(e, config, lookup);
    keysSeen.push(keys);
    for (const key of keys) {
      const res = detector.step(states.get(key), e, { config, key, watermarkMs });
      let next = res.state;
      if (next !== undefined && opts.restore) next = opts.restore(next);
      if (next === undefined) states.delete(key);
      else states.set(key, next);
      for (const [a, k] of Object.entries(res.aliases ?? {})) aliases.set(a, k);
      for (const f of res.findings) {
        findings.push({ ...f, key });
        opts.onFinding?.(f);
      }
    }
  }
  return { findings, states, aliases, keysSeen, config };
}
