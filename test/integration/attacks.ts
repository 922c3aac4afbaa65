/** Replay attacks produced to a test's input, for the response tests: one token each, 40 s apart in event time. */
import { replayAttack } from '../fixtures/events.js';
import { produceEvents } from '../support/kafka.js';
import { T0, type TestEnv } from '../support/services.js';

/** Distinct, valid fingerprints (16–128 chars, no white space): `tfp1:<tag><i zero-padded>`. */
export const fp = (tag: string, i: number) => `tfp1:${tag}${String(i).padStart(22 - tag.length, '0')}`;

/**
 * Attacks on the tokens `fp(tag, from)` … `fp(tag, from + n - 1)`, one after the other in event time
 * (one partition key: processed in order); returns their fingerprints.
 */
export async function attacks(t: TestEnv, tag: string, from: number, n: number): Promise<string[]> {
  const fps = Array.from({ length: n }, (_, i) => fp(tag, from + i));
  const events = fps.flatMap((f, i) => replayAttack(f, T0 + (from + i) * 40_000, `${tag}${from + i}`));
  await produceEvents(t, events);
  return fps;
}
