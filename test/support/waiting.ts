/** Waiting on real services: one poll loop with a deadline, and the waits built on it. */
import { alertIdsInClickHouse } from './clickhouse.js';
import { committed, withAdmin } from './kafka.js';
import type { TestEnv } from './services.js';
import type { Child } from './processes.js';
import { repartitionTopic } from '../../src/pipeline/topics.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Thrown by a probe to end a wait at once (instead of at its timeout). */
export class FailNow extends Error {
  override name = 'FailNow';
}

/** A child died while the test waited on it. */
export class ChildDied extends FailNow {
  override name = 'ChildDied';
}

/**
 * Polls `probe` every 250 ms until it returns a truthy value, which is returned. Past `timeoutMs` it
 * throws, naming `what` and the probe's last error. A probe that throws is retried (the services
 * may still be settling), except with a {@link FailNow} or a TokenwatchError, which end the wait at once.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      if (e instanceof FailNow || (e instanceof Error && e.name === 'TokenwatchError')) throw e;
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(250);
  }
}

/**
 * Waits until the test's group has committed every input offset — and, with TOKENWATCH_REKEY=auto
 * (the default), every offset of the repartition topic the input's not-contract-keyed messages
 * were forwarded to (they are durable there before the input offsets commit), so everything the
 * input carries has been detected on.
 */
export async function waitCommittedToEnd(t: TestEnv, timeoutMs: number, running: Child[] = [], check?: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await committedToEnd(t, t.input, timeoutMs, running, check);
  if (t.config.rekey !== 'auto' || t.input === repartitionTopic(t.group)) return;
  const repartition = repartitionTopic(t.group);
  const exists = await withAdmin(t, async (a) => (await a.listTopics()).includes(repartition));
  if (exists) await committedToEnd(t, repartition, Math.max(5_000, deadline - Date.now()), running, check);
}

async function committedToEnd(t: TestEnv, topic: string, timeoutMs: number, running: Child[], check?: () => void): Promise<void> {
  const ends = await withAdmin(t, (a) => a.fetchTopicOffsets(topic));
  await waitFor(async () => {
    check?.();
    const dead = running.find((c) => !c.alive);
    if (dead) throw new ChildDied(`${dead.name} ${dead.why()}; log ${dead.logFile}:\n${dead.tail()}`);
    const c = await committed(t, topic);
    return ends.every((e) => BigInt(e.high) === BigInt(e.low) || (c[e.partition] ?? -1n) >= BigInt(e.high));
  }, timeoutMs, `committed offsets of ${t.group} to reach the end of ${topic}`).catch((e: Error) => {
    const warnings = running.flatMap((c) => c.logs.filter((l) => l.level >= 40).slice(-3).map((l) => `${c.name}: ${l.msg} ${String(l.err ?? l.error ?? '')}`));
    throw new Error(`${e.message}${warnings.length ? `\nlast warnings:\n${warnings.join('\n')}` : ''}`, { cause: e });
  });
}

/**
 * Waits until every id of `expected` is in the test's alerts table. Returns the ids there then, or
 * at the timeout (without throwing: the caller's assertions name what is missing).
 */
export async function alertIdsOnceComplete(t: TestEnv, expected: Set<string>, timeoutMs: number, what: string): Promise<Set<string>> {
  return waitFor(async () => {
    const ids = new Set(await alertIdsInClickHouse(t));
    return [...expected].every((id) => ids.has(id)) ? ids : undefined;
  }, timeoutMs, what).catch(async () => new Set(await alertIdsInClickHouse(t)));
}
