/**
 * Fault: the processor is killed with SIGKILL at random points of a stream (a real
 * `node bin/tokenwatch.js run` child), restarted each time. What it wrote must end up exactly
 * what an uninterrupted run writes: the same alert ids in ClickHouse (no duplicate after FINAL),
 * the same denylist keys. One kill lands inside the state-changelog transaction on purpose (the
 * child is frozen until the broker shows an open transaction, then killed).
 *
 * TOKENWATCH_FAULT_SEED repeats a run's scenario and timings; TOKENWATCH_FAULT_PLAIN_KILLS=1 makes
 * every kill a plain random one (to tell the open-transaction case from the others).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { T0, teardown, type TestEnv } from '../support/services.js';
import { committed, eventProducer, latestByKey, readTopic, withAdmin } from '../support/kafka.js';
import { alertIdsInClickHouse, duplicateAlerts, rawAlertRows } from '../support/clickhouse.js';
import { spawnRun, type Child } from '../support/processes.js';
import { ChildDied, alertIdsOnceComplete, sleep, waitCommittedToEnd, waitFor } from '../support/waiting.js';
import { changelogTopic } from '../../src/pipeline/index.js';
import {
  PARTITIONS,
  SOAK,
  buildScenario,
  expectedOutcome,
  faultEnv,
  groupMembers,
  noiseEvent,
  refreshTheftAfter,
  refreshTheftBefore,
  removeMembers,
  rng,
  setDiff,
  watermarks,
  writeNdjson,
} from './helpers.js';

afterAll(teardown);

/** After a SIGKILL the dead member holds the group until its session expires; soak runs wait that out. */
async function forgetDead(t: TestEnv): Promise<void> {
  if (SOAK) return;
  await removeMembers(t, t.group, await groupMembers(t, t.group));
}

async function sum(t: TestEnv): Promise<bigint> {
  return Object.values(await committed(t)).reduce((a, b) => a + (b > 0n ? b : 0n), 0n);
}

/**
 * Freezes the child (SIGSTOP) until the broker shows a transaction of it open on the changelog
 * (last stable offset < high watermark), then kills it there. Returns false when no open
 * transaction was caught in time (the child is then left running).
 */
async function killInsideTransaction(t: TestEnv, child: Child, timeoutMs: number): Promise<boolean> {
  const broker = t.ep.brokers.split(',')[0]!;
  const deadline = Date.now() + timeoutMs;
  const r = rng(child.pid);
  while (Date.now() < deadline && child.alive) {
    child.stop();
    const wm = await watermarks(broker, changelogTopic(t.group, t.input), PARTITIONS).catch(() => []);
    if (wm.some((w) => w.lso < w.hw)) {
      await child.kill9();
      return true;
    }
    child.cont();
    await sleep(Math.floor(r() * 25));
  }
  return false;
}

describe('kill -9 at random points', () => {
  it(
    'SIGKILL ≥ 3 times mid-stream (once inside the changelog transaction): alerts and denylist equal an uninterrupted run, no duplicate',
    async () => {
      const seed = Number(process.env.TOKENWATCH_FAULT_SEED ?? Date.now() % 1_000_000);
      const r = rng(seed);
      const t = await faultEnv('kill');
      const sc = buildScenario({
        seed,
        tag: `k${seed}`,
        replays: 12,
        refreshThefts: 8,
        handOffs: 10,
        healthyChains: 6,
        noise: SOAK ? 80_000 : 10_000,
        spanMs: 300_000,
      });
      const expected = await expectedOutcome(t, sc);
      const ndjson = writeNdjson(`kill-${seed}`, sc);
      // the scenario means something: every attack fires in the uninterrupted run, nothing benign does
      expect(expected.byDetector.multi_ip_replay, `seed ${seed}`).toBe(12);
      expect(expected.byDetector.refresh_reuse, `seed ${seed}`).toBe(8);

      const producer = await eventProducer(t);
      let child = spawnRun(t, 'kill-0');
      await child.ready();

      // the stream goes out in chunks at a steady pace, whatever happens to the processor; kills are
      // planned at random chunk numbers spread over the stream, each struck just after a chunk lands
      const wanted = SOAK ? 8 : 4;
      const nChunks = SOAK ? 200 : 60;
      const chunks: Array<typeof sc> = [];
      const chunkSize = Math.ceil(sc.length / nChunks);
      for (let i = 0; i < sc.length; i += chunkSize) chunks.push(sc.slice(i, i + chunkSize));
      const spacing = Math.floor((chunks.length * 0.8) / wanted);
      const plan = Array.from({ length: wanted }, (_, k) => 4 + k * spacing + Math.floor(r() * (spacing / 3)));
      let producing = true;
      let chunksSent = 0;
      let chunkLanded: () => void = () => undefined;
      const nextChunk = () => new Promise<void>((resolve) => (chunkLanded = resolve));
      const production = (async () => {
        for (const c of chunks) {
          await producer.send(c);
          chunksSent++;
          chunkLanded();
          await sleep(350 + Math.floor(r() * 200));
        }
        producing = false;
        chunkLanded();
      })();

      const kills: Array<{ n: number; mode: string; atChunk: number; lag: bigint; producing: boolean; pid: number }> = [];
      const caughtUp = async () => !producing && (await producerEnds(t)) === (await sum(t));
      for (let n = 1; n <= wanted; n++) {
        const spawnedAt = await sum(t);
        await waitFor(() => chunksSent >= plan[n - 1]! || !producing, 120_000, `chunk ${plan[n - 1]}`);
        // the running child must have committed something of its own first
        await waitFor(async () => {
          if (!child.alive) throw new ChildDied(`${child.name} ${child.why()} (log ${child.logFile})`);
          return (await sum(t)) > spawnedAt || (await caughtUp());
        }, 60_000, `child ${n - 1} to commit progress`);
        // past the third kill, stop once the stream is over and fully processed
        if (n > 3 && (await caughtUp())) break;
        // strike while the child works on fresh input: just after a chunk lands, at a random delay
        if (producing) await nextChunk();
        await sleep(Math.floor(r() * 60));
        const endsBefore = await producerEnds(t);
        let mode = 'random';
        if (n === 2 && process.env.TOKENWATCH_FAULT_PLAIN_KILLS !== '1') {
          mode = (await killInsideTransaction(t, child, 15_000)) ? 'inside changelog transaction' : 'random (no open transaction caught)';
          if (child.alive) await child.kill9();
        } else {
          await child.kill9();
        }
        expect(child.exit?.signal).toBe('SIGKILL');
        // a dead process commits nothing more: input that existed at the kill and is not committed
        // is the lag it died with (the freeze-and-probe kill takes a while: count from its end)
        const lag = (mode === 'random' ? endsBefore : await producerEnds(t)) - (await sum(t));
        kills.push({ n, mode, atChunk: chunksSent, lag, producing, pid: child.pid });
        await forgetDead(t);
        child = spawnRun(t, `kill-${n}`);
        await child.ready(SOAK ? 120_000 : 60_000);
      }
      await production;
      await producer.close();
      await waitCommittedToEnd(t, 120_000, [child]);

      const got = await waitFor(async () => {
        const ids = new Set(await alertIdsInClickHouse(t));
        return setDiff(expected.alertIds, ids).length === 0 ? ids : undefined;
      }, 20_000, 'every expected alert in ClickHouse').catch(async (e) => {
        const ids = new Set(await alertIdsInClickHouse(t));
        const missing = setDiff(expected.alertIds, ids).map((id) => expected.trigger.get(id));
        throw new Error(`${(e as Error).message}\nseed ${seed}; kills ${JSON.stringify(kills, bigintJson)}; missing alerts (trigger event ids): ${missing.join(', ')}; events ${ndjson}; child logs in ${child.logFile}`);
      });
      const extra = setDiff(got, expected.alertIds);
      const deny = latestByKey(await readTopic(t, t.denylist));
      const denyKeys = new Set([...deny].filter(([, v]) => v !== null).map(([k]) => k));
      const rawRows = await rawAlertRows(t);
      console.info(
        `[faults/kill] seed ${seed}: ${kills.length} kills ${JSON.stringify(kills, bigintJson)}; ${sc.length} events; ` +
          `alerts expected ${expected.alertIds.size} got ${got.size} (rows before dedup ${rawRows}); denylist keys expected ${expected.denyKeys.size} got ${denyKeys.size}`,
      );
      expect(kills.filter((k) => k.producing && k.lag > 0n).length, 'kills that landed mid-stream, with input not yet committed').toBeGreaterThanOrEqual(3);
      expect(extra, `seed ${seed}: alerts an uninterrupted run does not produce`).toEqual([]);
      expect(got.size).toBe(expected.alertIds.size);
      expect(await duplicateAlerts(t)).toEqual([]);
      expect([...denyKeys].sort()).toEqual([...expected.denyKeys].sort());
    },
    SOAK ? 1_200_000 : 150_000,
  );

  it(
    'killed inside the changelog transaction, restarted, killed again within the transaction timeout: the third run still has the second run\'s state',
    async () => {
      const t = await faultEnv('zombie');
      const producer = await eventProducer(t);
      const r = rng(42);
      let noiseN = 0;
      const noise = (n: number) => Array.from({ length: n }, () => noiseEvent(r, T0 + 200_000 + noiseN, `z${noiseN++}`));
      const famsA = Array.from({ length: 4 }, (_, i) => `zA${i}-${t.group}`);
      const famsB = Array.from({ length: 4 }, (_, i) => `zB${i}-${t.group}`);
      // built once: event ids are part of the alert ids
      const beforeA = famsA.flatMap((s) => refreshTheftBefore(s, T0));
      const beforeB = famsB.flatMap((s) => refreshTheftBefore(s, T0));
      const after = [...famsA, ...famsB].flatMap((s) => refreshTheftAfter(s, T0));
      const expected = await expectedOutcome(t, [...beforeA, ...beforeB, ...after]);
      expect(expected.byDetector.refresh_reuse).toBe(8);

      // run 1 rotates families A, then dies inside a changelog transaction
      const c1 = spawnRun(t, 'zombie-1');
      await c1.ready();
      await producer.send(beforeA);
      await waitCommittedToEnd(t, 30_000, [c1]);
      let stopNoise = false;
      const background = (async () => {
        while (!stopNoise) {
          await producer.send(noise(200));
          await sleep(20);
        }
      })();
      const caught = await killInsideTransaction(t, c1, 20_000);
      stopNoise = true;
      await background;
      expect(caught, 'a SIGKILL inside an open changelog transaction').toBe(true);
      const killedAt = Date.now();
      await forgetDead(t);

      // run 2 rotates families B; its state and offsets are committed, then it dies too
      const c2 = spawnRun(t, 'zombie-2');
      await c2.ready();
      await producer.send(beforeB);
      await waitCommittedToEnd(t, 30_000, [c2]);
      await c2.kill9();
      await forgetDead(t);

      // run 3 starts well within the 60 s transaction timeout of run 1's open transaction
      const c3 = spawnRun(t, 'zombie-3');
      await c3.ready();
      const restored = await c3.waitLog('task state restored', 30_000);
      const restoredAfterMs = Date.parse(String(restored.time)) - killedAt;
      expect(restoredAfterMs, 'run 3 restored within the 60 s transaction timeout (else there is nothing to test)').toBeLessThan(50_000);
      await producer.send(after);
      await producer.close();
      await waitCommittedToEnd(t, 30_000, [c3]);
      const ids = await alertIdsOnceComplete(t, expected.alertIds, 15_000, 'the 8 refresh-reuse alerts');
      const missing = setDiff(expected.alertIds, ids).map((id) => expected.trigger.get(id));
      expect(
        missing,
        `run 3 restored ${String(restored.records)} changelog records ${restoredAfterMs} ms after run 1 died inside a transaction; ${ids.size} alerts in ClickHouse; ` +
          `alerts of the families run 2 rotated are missing (logs: ${c3.logFile})`,
      ).toEqual([]);
    },
    120_000,
  );
});

function bigintJson(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

async function producerEnds(t: TestEnv): Promise<bigint> {
  const ends = await withAdmin(t, (a) => a.fetchTopicOffsets(t.input));
  return ends.reduce((a, e) => a + BigInt(e.high), 0n);
}
