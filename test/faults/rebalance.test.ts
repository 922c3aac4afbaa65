/**
 * Fault: a second instance joins the consumer group mid-stream and later leaves (two real
 * `tokenwatch run` children, input with 4 partitions keyed per the producer contract). Token
 * families whose events straddle each rebalance must still be detected: a refresh token rotated
 * while one instance owned its partition and reused after the other took it over.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AccessEventInput } from '../../schemas/event.js';
import { keyOf, replayAttack } from '../fixtures/events.js';
import { T0, teardown } from '../support/services.js';
import { eventProducer, latestByKey, readTopic } from '../support/kafka.js';
import { duplicateAlerts } from '../support/clickhouse.js';
import { spawnRun } from '../support/processes.js';
import { alertIdsOnceComplete, sleep, waitCommittedToEnd, waitFor } from '../support/waiting.js';
import {
  PARTITIONS,
  expectedOutcome,
  faultEnv,
  fp,
  noiseEvent,
  partitionOf,
  refreshTheftAfter,
  refreshTheftBefore,
  rng,
  setDiff,
} from './helpers.js';

afterAll(teardown);

/** `perPartition` session ids for each input partition (so every partition carries straddling families). */
function sidsCovering(tag: string, perPartition: number): string[] {
  const byPartition = new Map<number, string[]>();
  for (let i = 0; byPartition.size < PARTITIONS || [...byPartition.values()].some((l) => l.length < perPartition); i++) {
    const sid = `${tag}-f${i}`;
    const p = partitionOf(sid, PARTITIONS);
    const l = byPartition.get(p) ?? [];
    if (l.length < perPartition) l.push(sid);
    byPartition.set(p, l);
  }
  return [...byPartition.values()].flat();
}

/** A replayed token split in two: three requests before, three after (the 4th completes the pattern). */
function splitReplay(sid: string, startMs: number): [AccessEventInput[], AccessEventInput[]] {
  const all = replayAttack(fp(`${sid}/token`), startMs, sid).map((e) => ({ ...e, cred: { ...e.cred, sid, sub: `u-${sid}` } }));
  return [all.slice(0, 3), all.slice(3)];
}

describe('an instance joins and later leaves mid-stream', () => {
  it('families straddling the join and the leave are detected; alerts equal an uninterrupted run', async () => {
    const t = await faultEnv('rebal');
    const producer = await eventProducer(t);
    const sent: AccessEventInput[] = [];
    const send = async (events: AccessEventInput[]) => {
      sent.push(...events);
      await producer.send(events);
    };
    const r = rng(7);
    let n = 0;
    let noiseOn = true;
    const noise = (async () => {
      while (noiseOn) {
        await send(Array.from({ length: 50 }, () => noiseEvent(r, T0 + 30_000 + n, `rb${n++}`)));
        await sleep(100);
      }
    })();

    const joinFams = sidsCovering(`${t.group}-join`, 2);
    const leaveFams = sidsCovering(`${t.group}-leave`, 2);
    const joinReplays = joinFams.map((s) => splitReplay(`${s}-rp`, T0 + 10_000));
    const leaveReplays = leaveFams.map((s) => splitReplay(`${s}-rp`, T0 + 10_000));

    // A alone: the first rotation of every family, the first half of every replayed token
    const a = spawnRun(t, 'rebal-A', { TOKENWATCH_INSTANCE_ID: 'rebal-A' });
    await a.ready();
    await send(joinFams.flatMap((s) => refreshTheftBefore(s, T0).slice(0, 2)));
    await send(joinReplays.flatMap(([before]) => before));
    await waitCommittedToEnd(t, 30_000, [a]);

    // B starts; the moment it is about to join the group, the second rotations arrive — A may
    // process them before or after the rebalance, B restores the tasks it is given
    const b = spawnRun(t, 'rebal-B', { TOKENWATCH_INSTANCE_ID: 'rebal-B' });
    await b.waitLog('tokenwatch consuming', 60_000);
    await send(joinFams.flatMap((s) => refreshTheftBefore(s, T0).slice(2)));
    const aAssignments = () => a.find('partitions assigned');
    await b.ready();
    // tasks of the input (the repartition topic's are tasks too, idle here: the input is keyed by the contract)
    const inputTasks = (l: Record<string, unknown> | undefined) => ((l?.partitions as string[] | undefined) ?? []).filter((p) => p.startsWith(`${t.input}/`));
    await waitFor(() => aAssignments().length >= 2 && inputTasks(aAssignments().at(-1)).length < PARTITIONS, 30_000, 'A to give partitions up');
    const bParts = inputTasks(b.find('partitions assigned').at(-1));
    // after the join: the thieves reuse the rotated tokens; the replayed tokens go on
    await send(joinFams.flatMap((s) => refreshTheftAfter(s, T0)));
    await send(joinReplays.flatMap(([, after]) => after));

    // both run: families of the second set rotate and start being replayed
    await send(leaveFams.flatMap((s) => refreshTheftBefore(s, T0)));
    await send(leaveReplays.flatMap(([before]) => before));
    await waitCommittedToEnd(t, 30_000, [a, b]);

    // B leaves (graceful, SIGTERM) while noise keeps flowing; A takes everything back
    const termed = await b.term();
    expect(termed.code, b.why()).toBe(0);
    await waitFor(() => inputTasks(aAssignments().at(-1)).length === PARTITIONS, 60_000, 'A to own every partition again');
    await send(leaveFams.flatMap((s) => refreshTheftAfter(s, T0)));
    await send(leaveReplays.flatMap(([, after]) => after));
    noiseOn = false;
    await noise;
    await producer.close();
    await waitCommittedToEnd(t, 60_000, [a]);

    const expected = await expectedOutcome(t, sent);
    expect(expected.byDetector.refresh_reuse).toBe(joinFams.length + leaveFams.length);
    expect(expected.byDetector.multi_ip_replay).toBe(joinReplays.length + leaveReplays.length);
    const got = await alertIdsOnceComplete(t, expected.alertIds, 20_000, 'every expected alert');
    const missing = setDiff(expected.alertIds, got).map((id) => {
      const trig = sent.find((e) => e.id === expected.trigger.get(id));
      return `${trig?.cred.type} ${trig ? keyOf(trig) : '?'} (partition ${trig ? partitionOf(keyOf(trig), PARTITIONS) : '?'})`;
    });
    const deny = latestByKey(await readTopic(t, t.denylist));
    const denyKeys = new Set([...deny].filter(([, v]) => v !== null).map(([k]) => k));
    console.info(
      `[faults/rebalance] B owned partitions ${JSON.stringify(bParts)}; A restored tasks ${a.find('task state restored').length}× , B ${b.find('task state restored').length}×; ` +
        `${sent.length} events; alerts expected ${expected.alertIds.size} got ${got.size}; missing: ${missing.join('; ') || 'none'}`,
    );
    expect(missing, `alerts lost across the rebalances (B owned ${JSON.stringify(bParts)}; logs ${a.logFile}, ${b.logFile})`).toEqual([]);
    expect(setDiff(got, expected.alertIds)).toEqual([]);
    expect(await duplicateAlerts(t)).toEqual([]);
    expect([...denyKeys].sort()).toEqual([...expected.denyKeys].sort());
  }, 180_000);
});
