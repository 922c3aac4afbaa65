/**
 * Fault: ClickHouse goes away mid-stream and comes back. Two real outages, one after the other:
 * the server frozen with SIGSTOP for ~10 s (requests hang), then the alerts table renamed away
 * (inserts fail and are retried). During each, the committed input offset must not pass an
 * alert that is not written; afterwards every alert an uninterrupted run produces is there, once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { teardown, type TestEnv } from '../support/services.js';
import { committed, eventProducer, latestByKey, readTopic } from '../support/kafka.js';
import { alertIdsInClickHouse, chClient, duplicateAlerts, queryRows } from '../support/clickhouse.js';
import { ROOT, freePort, scrape, spawnRun } from '../support/processes.js';
import { alertIdsOnceComplete, sleep, waitCommittedToEnd, waitFor } from '../support/waiting.js';
import { buildScenario, expectedOutcome, faultEnv, setDiff, type Outcome } from './helpers.js';

let frozen: number | undefined;
let renamedAway = false;

// never leave the shared server stopped, whatever happened
process.once('exit', () => {
  if (frozen !== undefined) process.kill(frozen, 'SIGCONT');
});

afterAll(async () => {
  if (frozen !== undefined) process.kill(frozen, 'SIGCONT');
  await teardown();
});

/** The local ClickHouse server's pid (scripts/services.sh), or undefined when it is not ours to stop. */
function clickhousePid(url: string): number | undefined {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) return undefined;
  const file = join(process.env.TOKENWATCH_SERVICES_DIR ?? join(ROOT, '.services'), 'clickhouse', 'pid');
  if (!existsSync(file)) return undefined;
  const isServer = (pid: number) => {
    try {
      return /clickhouse/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    } catch {
      return false;
    }
  };
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (isServer(pid)) return pid;
  // an older services.sh recorded the wrapper shell; the server is its child
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    return kids.find(isServer);
  } catch {
    return undefined;
  }
}

/** partition -> lowest input offset (as read back from the topic) that triggers one of the given alerts. */
function firstTriggers(expected: Outcome, where: Map<string, { partition: number; offset: bigint }>): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const id of expected.alertIds) {
    const w = where.get(expected.trigger.get(id) ?? '');
    if (!w) throw new Error(`the trigger of alert ${id} is not on the input topic`);
    const cur = out.get(w.partition);
    if (cur === undefined || w.offset < cur) out.set(w.partition, w.offset);
  }
  return out;
}

/** Samples the committed offsets every 200 ms until `until` settles. */
async function sampleCommitted(t: TestEnv, until: Promise<unknown>): Promise<Array<Record<number, bigint>>> {
  let done = false;
  void until.then(
    () => (done = true),
    () => (done = true),
  );
  const samples: Array<Record<number, bigint>> = [];
  while (!done) {
    samples.push(await committed(t));
    await sleep(200);
  }
  return samples;
}

/**
 * Every sample taken while none of `unwritten` could be in ClickHouse must stay at or before the
 * first of their triggering events on each partition.
 */
function violations(samples: Array<Record<number, bigint>>, first: Map<number, bigint>): string[] {
  const out: string[] = [];
  for (const [i, c] of samples.entries()) {
    for (const [p, off] of first) {
      if ((c[p] ?? -1n) > off) out.push(`sample ${i}: partition ${p} committed ${c[p]} > offset ${off} of an alert not yet written`);
    }
  }
  return out;
}

describe('ClickHouse unavailable mid-stream', () => {
  it('frozen (SIGSTOP) for ~10 s, then its table renamed away: the offset never passes an unwritten alert; no alert lost or doubled', async () => {
    const t = await faultEnv('chout', { TOKENWATCH_METRICS_PORT: String(await freePort()) });
    const mk = (seed: number, tag: string) =>
      buildScenario({ seed, tag: `${tag}${t.group}`, replays: 4, refreshThefts: 3, handOffs: 3, healthyChains: 2, noise: 1_500, spanMs: 200_000 });
    const phaseA = mk(1, 'A');
    const phaseB = mk(2, 'B');
    const phaseC = mk(3, 'C');
    const expected = await expectedOutcome(t, [...phaseA, ...phaseB, ...phaseC]);
    const expA = await expectedOutcome(t, phaseA);
    const expB = await expectedOutcome(t, phaseB);
    const expC = await expectedOutcome(t, phaseC);
    expect(expB.byDetector.refresh_reuse).toBe(3);
    expect(expC.byDetector.multi_ip_replay).toBe(4);

    const producer = await eventProducer(t);
    const child = spawnRun(t, 'chout');
    await child.ready();
    const port = Number(t.env.TOKENWATCH_METRICS_PORT);

    // phase A: all written and committed while ClickHouse is healthy
    await producer.send(phaseA);
    await waitCommittedToEnd(t, 60_000, [child]);
    await waitFor(async () => setDiff(expA.alertIds, new Set(await alertIdsInClickHouse(t))).length === 0, 20_000, 'phase A alerts');

    // phase B: the server frozen; events keep coming
    const pid = clickhousePid(t.ep.clickhouseUrl);
    let samplesB: Array<Record<number, bigint>> = [];
    let detectedDuringOutage = 0;
    if (pid !== undefined) {
      let contAt = 0;
      const outage = (async () => {
        process.kill(pid, 'SIGSTOP');
        frozen = pid;
        try {
          const chunk = Math.ceil(phaseB.length / 10);
          for (let i = 0; i < phaseB.length; i += chunk) {
            await producer.send(phaseB.slice(i, i + chunk));
            await sleep(600);
          }
          await sleep(4_000);
        } finally {
          process.kill(pid, 'SIGCONT');
          frozen = undefined;
          contAt = Date.now();
        }
      })();
      samplesB = await sampleCommitted(t, outage);
      await outage;
      await waitFor(async () => setDiff(expB.alertIds, new Set(await alertIdsInClickHouse(t))).length === 0, 60_000, 'phase B alerts after ClickHouse resumed');
      // the processor did reach the attacks while the server was frozen (their detected_at is before SIGCONT)
      const rows = await queryRows<{ n: string }>(
        t,
        `SELECT count() AS n FROM ${t.database}.alerts FINAL WHERE alert_id IN (${[...expB.alertIds].map((a) => `'${a}'`).join(',')}) AND toUnixTimestamp(detected_at) < ${Math.floor(contAt / 1000)}`,
      );
      detectedDuringOutage = Number(rows[0]?.n ?? 0);
    } else {
      await producer.send(phaseB);
      console.info('[faults/clickhouse] ClickHouse is not a local services.sh server: SIGSTOP phase replaced by a plain phase');
    }

    // phase C: the table renamed away (inserts fail), then back
    const ch = chClient(t);
    const before = (await scrape(port)).get('tokenwatch_sink_errors_total{sink="clickhouse"}') ?? 0;
    let samplesC: Array<Record<number, bigint>> = [];
    try {
      await ch.command({ query: `RENAME TABLE ${t.database}.alerts TO ${t.database}.alerts_away` });
      renamedAway = true;
      const outage = (async () => {
        await producer.send(phaseC);
        await waitFor(async () => ((await scrape(port)).get('tokenwatch_sink_errors_total{sink="clickhouse"}') ?? 0) >= before + 2, 30_000, 'failed ClickHouse inserts');
        await sleep(2_000);
      })();
      samplesC = await sampleCommitted(t, outage);
      await outage;
    } finally {
      if (renamedAway) await ch.command({ query: `RENAME TABLE ${t.database}.alerts_away TO ${t.database}.alerts` });
      renamedAway = false;
      await ch.close();
    }
    await producer.close();
    await waitCommittedToEnd(t, 60_000, [child]);

    const got = await alertIdsOnceComplete(t, expected.alertIds, 40_000, 'every expected alert after the outages');
    // where each event really landed (read back, so a producer retry cannot skew the offsets)
    const where = new Map((await readTopic(t, t.input)).map((m) => [String((JSON.parse(m.value!) as { id: string }).id), { partition: m.partition, offset: BigInt(m.offset) }]));
    const outageB = { samples: samplesB.length, violations: violations(samplesB, firstTriggers(expB, where)) };
    const outageC = { samples: samplesC.length, violations: violations(samplesC, firstTriggers(expC, where)) };
    const deny = latestByKey(await readTopic(t, t.denylist));
    const denyKeys = new Set([...deny].filter(([, v]) => v !== null).map(([k]) => k));
    const errors = (await scrape(port)).get('tokenwatch_sink_errors_total{sink="clickhouse"}') ?? 0;
    console.info(
      `[faults/clickhouse] SIGSTOP phase: ${pid !== undefined ? `${outageB.samples} offset samples, ${detectedDuringOutage}/${expB.alertIds.size} alerts detected while frozen` : 'skipped'}; ` +
        `rename phase: ${outageC.samples} samples, ${errors} failed inserts retried; alerts expected ${expected.alertIds.size} got ${got.size}`,
    );
    expect(outageB.violations, 'committed offsets while ClickHouse was frozen').toEqual([]);
    expect(outageC.violations, 'committed offsets while the alerts table was away').toEqual([]);
    if (pid !== undefined) expect(detectedDuringOutage, 'phase B attacks processed while ClickHouse was frozen').toBeGreaterThan(0);
    expect(setDiff(expected.alertIds, got), 'alerts lost').toEqual([]);
    expect(setDiff(got, expected.alertIds), 'alerts an uninterrupted run does not produce').toEqual([]);
    expect(await duplicateAlerts(t), 'alert ids twice after FINAL').toEqual([]);
    expect([...denyKeys].sort(), 'denylist keys').toEqual([...expected.denyKeys].sort());
    expect(child.alive, child.why()).toBe(true);
  }, 180_000);
});
