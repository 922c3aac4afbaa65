/**
 * Tasks on the real broker: one input topic (6 partitions, simulated traffic with every attack
 * class, produced by kcat with zstd and murmur2 keying as the producer contract asks) run through
 * `tokenwatch run` children in three ways —
 *
 *   A  one instance, 1 MiB fetches;
 *   B  two instances, 4 KiB fetches, one of them stopped (SIGTERM) and started again mid-stream;
 *   C  three instances, 16 KiB fetches, one killed (-9) mid-stream, a fourth joining after —
 *
 * and every run must give the same alert ids and denylist keys as a partition-by-partition
 * in-process run of the same input (one task per partition), with no duplicate alert. C's
 * instances each hold about their share of the state; the output states the figures.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../../src/config/index.js';
import { openGeoLookup } from '../../src/ingest/geoip/index.js';
import { BatchProcessor } from '../../src/pipeline/index.js';
import { createSimulation } from '../../src/simulate/index.js';
import { createLogger } from '../../src/telemetry/log.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { kafkaBus } from '../../src/io/kafka.js';
import { changelogTopic } from '../../src/pipeline/topics.js';
import type { AccessEventInput } from '../../schemas/event.js';
import { keyOf } from '../fixtures/events.js';
import { teardown, testEnv, type TestEnv } from '../support/services.js';
import { committed, createInput, latestByKey, readTopic } from '../support/kafka.js';
import { alertIdsInClickHouse, duplicateAlerts } from '../support/clickhouse.js';
import { LOG_DIR, freePort, scrape, spawnRun, type Child } from '../support/processes.js';
import { waitCommittedToEnd, waitFor } from '../support/waiting.js';
import { noiseEvent, partitionOf, permissiveConfigFile, rng, setDiff } from './helpers.js';

afterAll(teardown);

const P = 6;
const NOISE = Number(process.env.TOKENWATCH_SCALE_NOISE ?? 40_000);
const FP_KEY = 'scale-test-fingerprint-key-0123';

interface Outcome {
  alerts: Set<string>;
  deny: Set<string>;
}

interface InstanceFigures {
  name: string;
  tasks: number;
  restoring: number;
  keys: number;
  heapMb: number;
}

/** The same input, one task per partition, in process: what every run must give. */
/** alert id -> what triggered it in the reference (for the failure message) */
const triggers = new Map<string, string>();

async function reference(t: TestEnv, byPartition: AccessEventInput[][]): Promise<Outcome & { keys: number; byDetector: Record<string, number> }> {
  const config = loadConfig(detectors, { ...t.env, LOG_LEVEL: 'silent' });
  const geo = await openGeoLookup(config.geoip);
  const core = new BatchProcessor({ config, detectors, log: createLogger({ level: 'silent' }), metrics: new Metrics(), geo });
  core.setPartitions(t.input, P);
  const out: Outcome & { keys: number; byDetector: Record<string, number> } = { alerts: new Set(), deny: new Set(), keys: 0, byDetector: {} };
  byPartition.forEach((events, p) => {
    for (let i = 0; i < events.length; i += 500) {
      const msgs = events.slice(i, i + 500).map((e, j) => ({ key: keyOf(e), value: Buffer.from(JSON.stringify(e)), offset: String(i + j), timestamp: '0', headers: {} }));
      const o = core.process(t.input, p, msgs);
      for (const a of o.alerts) {
        out.alerts.add(a.alert_id);
        triggers.set(a.alert_id, `${a.detector} at ${a.source}`);
        out.byDetector[a.detector] = (out.byDetector[a.detector] ?? 0) + 1;
      }
      for (const r of o.records) if (r.topic === config.topics.denylist && r.value !== null && r.key) out.deny.add(r.key);
    }
  });
  for (const e of core.allEngines()) out.keys += Object.values(e.keyCounts()).reduce((a, b) => a + b, 0);
  return out;
}

async function outcome(t: TestEnv): Promise<Outcome> {
  const deny = latestByKey(await readTopic(t, t.denylist));
  return { alerts: new Set(await alertIdsInClickHouse(t)), deny: new Set([...deny].filter(([, v]) => v !== null).map(([k]) => k)) };
}

/** Fraction of the input the run's group has committed. */
async function progress(t: TestEnv, total: bigint): Promise<number> {
  const c = await committed(t);
  return Number(Object.values(c).reduce((a, b) => a + (b > 0n ? b : 0n), 0n)) / Number(total);
}

async function figures(c: Child, port: number): Promise<InstanceFigures> {
  const m = await scrape(port);
  let keys = 0;
  for (const [k, v] of m) if (k.startsWith('tokenwatch_state_keys{')) keys += v;
  return {
    name: c.name,
    tasks: m.get('tokenwatch_tasks{status="ready"}') ?? 0,
    restoring: m.get('tokenwatch_tasks{status="restoring"}') ?? 0,
    keys,
    heapMb: Math.round((m.get('tokenwatch_process_heap_bytes') ?? 0) / 1048576),
  };
}

/** The input partitions (task ids) a child owns after its last assignment (the repartition topic's tasks idle here: the input is keyed by the contract). */
const owned = (c: Child, input: string): string[] => ((c.find('partitions assigned').at(-1)?.partitions as string[] | undefined) ?? []).filter((p) => p.startsWith(`${input}/`));

describe('tasks: same output whatever the fetch size, instance count, restarts and kills', () => {
  it('1, 2 (restarted) and 3 instances (one killed -9, one joining) give the alerts and denylist keys of one task per partition', async () => {
    const base = await testEnv('scale', { TOKENWATCH_INPUT_PARTITIONS: String(P) });
    await createInput(base, P);
    const input = base.input;
    const sim = createSimulation({ seed: 23, durationSec: 3600, users: 200, apiKeys: 20, tenants: 3, attacksPerKind: 2, fpKey: FP_KEY });
    // and NOISE single-use tokens over the same hour: state enough for its share per instance to show
    const r = rng(23);
    const simEvents = [...sim.events()] as AccessEventInput[];
    const t0 = Date.parse(String(simEvents[0]!.ts));
    const noise = Array.from({ length: NOISE }, (_, i) => noiseEvent(r, t0 + Math.floor((i / NOISE) * 3_600_000), `scale${i}`));
    const events = [...simEvents, ...noise].map((e, i) => ({ e, i, ts: typeof e.ts === 'number' ? e.ts : Date.parse(String(e.ts)) }))
      .sort((x, y) => x.ts - y.ts || x.i - y.i)
      .map((x) => x.e);
    const byPartition: AccessEventInput[][] = Array.from({ length: P }, () => []);
    for (const e of events) byPartition[partitionOf(keyOf(e), P)]!.push(e);
    mkdirSync(LOG_DIR, { recursive: true });
    const file = join(LOG_DIR, `${input}.tsv`);
    writeFileSync(file, events.map((e) => `${keyOf(e)}\t${JSON.stringify(e)}\n`).join(''));
    execFileSync('kcat', ['-P', '-b', base.ep.brokers, '-t', input, '-K', '\t', '-z', 'zstd', '-X', 'linger.ms=50', '-X', 'topic.partitioner=murmur2_random', '-l', file], { timeout: 120_000 });
    const total = BigInt(events.length);

    const env = (label: string, fetchBytes: number) =>
      testEnv(`scale-${label}`, {
        TOKENWATCH_INPUT_TOPIC: input,
        TOKENWATCH_INPUT_PARTITIONS: String(P),
        TOKENWATCH_FETCH_MAX_BYTES: String(fetchBytes),
        TOKENWATCH_STATE_FLUSH_MS: '200',
        TOKENWATCH_CONFIG: permissiveConfigFile(),
      });
    const start = async (t: TestEnv, name: string) => {
      const port = await freePort();
      const c = spawnRun(t, name, { TOKENWATCH_INSTANCE_ID: name, TOKENWATCH_METRICS_PORT: String(port) });
      return { c, port };
    };
    const expected = await reference(base, byPartition);
    for (const d of ['refresh_reuse', 'impossible_travel', 'multi_ip_replay', 'key_spike']) expect(expected.byDetector[d] ?? 0, `${d} fires on the simulated attacks`).toBeGreaterThan(0);
    expect(expected.deny.size).toBeGreaterThan(0);

    // A: one instance
    const tA = await env('A', 1024 * 1024);
    const a = await start(tA, 'scale-A');
    await waitCommittedToEnd(tA, 120_000, [a.c]);
    const figA = await figures(a.c, a.port);
    const restoreA = a.c.find('task state restored');

    // B: two instances, one stopped and started again mid-stream
    const tB = await env('B', 4 * 1024);
    const b1 = await start(tB, 'scale-B1');
    const b2 = await start(tB, 'scale-B2');
    await waitFor(async () => (await progress(tB, total)) >= 0.3 || undefined, 120_000, 'B to commit 30 % of the input');
    const atRestart = await progress(tB, total);
    expect((await b2.c.term()).code, b2.c.why()).toBe(0);
    const b3 = await start(tB, 'scale-B2-again');
    await waitCommittedToEnd(tB, 180_000, [b1.c, b3.c]);

    // C: three instances; one killed -9 mid-stream; a fourth joins
    const tC = await env('C', 16 * 1024);
    const cs = [await start(tC, 'scale-C1'), await start(tC, 'scale-C2'), await start(tC, 'scale-C3')];
    await Promise.all(cs.map((x) => x.c.ready()));
    await waitFor(async () => (await progress(tC, total)) >= 0.25 || undefined, 120_000, 'C to commit 25 % of the input');
    await waitFor(() => cs.every((x) => owned(x.c, input).length === 2) || undefined, 30_000, 'C: two partitions each');
    const victim = cs[0]!;
    const lost = owned(victim.c, input);
    const atKill = await progress(tC, total);
    await victim.c.kill9();
    const killedAt = Date.now();
    const survivors = cs.slice(1);
    // the victim's partitions are restored by the survivors once the broker expires its session
    const resumed = await waitFor(
      () => {
        const restoredBy = survivors.flatMap((x) => x.c.find('task state restored').filter((l) => Date.parse(String(l.time)) >= killedAt));
        const got = new Set(restoredBy.flatMap((l) => (l.partitions as number[]).map((p) => `${String(l.source)}/${p}`)));
        return lost.every((id) => got.has(id)) ? Math.max(...restoredBy.map((l) => Date.parse(String(l.time)))) - killedAt : undefined;
      },
      60_000,
      `the killed instance's partitions ${JSON.stringify(lost)} to be restored elsewhere`,
    );
    const joiner = await start(tC, 'scale-C4');
    await joiner.c.ready();
    const live = [...survivors, joiner];
    await waitCommittedToEnd(tC, 180_000, live.map((x) => x.c));
    await waitFor(() => live.every((x) => owned(x.c, input).length === 2) || undefined, 30_000, 'C after the join: two partitions each');
    // every task restored and running again after the last rebalance (the joiner's)
    const figC = await waitFor(
      async () => {
        const f = await Promise.all(live.map((x) => figures(x.c, x.port)));
        return f.every((x) => x.tasks === 2 * 2 && x.restoring === 0) ? f : undefined;
      },
      60_000,
      'C: every task ready after the join',
    );

    const [oA, oB, oC] = [await outcome(tA), await outcome(tB), await outcome(tC)];
    const restoreOne = await restoreTime(base, changelogTopic(tA.group, input), [0]);
    const restoreAll = await restoreTime(base, changelogTopic(tA.group, input));
    console.info(
      `[faults/scale] ${events.length} events, ${P} partitions; reference: ${expected.alerts.size} alerts ${JSON.stringify(expected.byDetector)}, ${expected.deny.size} denylist keys, ${expected.keys} state keys\n` +
        `  A 1 instance: ${JSON.stringify(figA)}; restore at start ${restoreA.map((l) => `${String(l.ms)} ms`).join(', ')}\n` +
        `  B 2 instances, restart at ${(atRestart * 100).toFixed(0)} %: alerts ${oB.alerts.size}, deny ${oB.deny.size}\n` +
        `  C 3 instances, kill -9 at ${(atKill * 100).toFixed(0)} % of ${victim.c.name} (owned ${JSON.stringify(lost)}): resumed elsewhere ${resumed} ms after the kill; after the join: ${JSON.stringify(figC)}\n` +
        `  restore of the changelog of A (${expected.keys} keys): partition 0 ${restoreOne.ms} ms (${restoreOne.records} records), all ${P} ${restoreAll.ms} ms (${restoreAll.records} records)\n` +
        `  restores at assignment in C: ${cs.concat([joiner]).flatMap((x) => x.c.find('task state restored').filter((l) => l.source === input).map((l) => `${x.c.name.split('-p_')[0]} ${JSON.stringify(l.partitions)} ${String(l.records)} rec ${String(l.ms)} ms`)).join('; ')}`,
    );
    for (const [name, o, t] of [['A', oA, tA], ['B', oB, tB], ['C', oC, tC]] as const) {
      expect(setDiff(expected.alerts, o.alerts).map((id) => `${id} (${triggers.get(id)})`), `${name}: alerts missing`).toEqual([]);
      expect(setDiff(o.alerts, expected.alerts), `${name}: alerts not in the reference`).toEqual([]);
      expect([...o.deny].sort(), `${name}: denylist keys`).toEqual([...expected.deny].sort());
      expect(await duplicateAlerts(t), `${name}: duplicates in the deduplicated view`).toEqual([]);
    }
    expect(atRestart, 'B restarted mid-stream').toBeLessThan(1);
    expect(atKill, 'C killed mid-stream').toBeLessThan(1);
    // state: A holds every key; each of C's instances about its third, and together exactly A's
    expect(figA.keys).toBe(expected.keys);
    expect(figC.reduce((n, f) => n + f.keys, 0)).toBe(expected.keys);
    for (const f of figC) {
      expect(f.tasks, `${f.name} owns 2 of the ${P} input tasks and 2 of the ${P} (idle) repartition tasks`).toBe(4);
      expect(f.keys, `${f.name} holds about its share of the state`).toBeLessThan(0.6 * expected.keys);
    }
    expect(resumed, 'a killed instance\'s partitions resume elsewhere within session timeout + restore').toBeLessThan(20_000);
  }, 600_000);
});

async function restoreTime(t: TestEnv, topic: string, partitions?: number[]): Promise<{ ms: number; records: number }> {
  const bus = kafkaBus(t.ep.brokers.split(','), 'scale-restore', createLogger({ level: 'silent' }));
  try {
    const t0 = performance.now();
    const records = await bus.readToEnd(topic, () => undefined, partitions);
    return { ms: Math.round(performance.now() - t0), records };
  } finally {
    await bus.close();
  }
}
