/**
 * Fault: a flood of fingerprints seen once or twice (credential stuffing, a token-minting bug)
 * against TOKENWATCH_MAX_KEYS_PER_DETECTOR. State must stay bounded (oldest keys evicted),
 * memory must stay under a stated cap, processing must not collapse at the cap, and the process
 * must survive and restore its (capped) state.
 *
 * The 1M-event run drives the Engine in-process (enrich → detectors, as `tokenwatch replay`
 * runs it, without changelog serialization) rather than through Kafka: on the 2-CPU CI runner
 * `tokenwatch run` decodes, guards, validates and serializes state changes at ~5–8k events/s, so
 * 1M events through Kafka would need 2–3 minutes on their own. The real child process gets a
 * smaller flood through Kafka, above its cap, to check the same bounds end to end (RSS from /proc,
 * keys from /metrics, restore from the log). TOKENWATCH_SOAK=1 sends 1M events through Kafka to
 * the child too.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/log.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { BatchProcessor } from '../../src/pipeline/index.js';
import type { AccessEvent } from '../../schemas/event.js';
import { T0, teardown, testEnv } from '../support/services.js';
import { createInput, eventProducer } from '../support/kafka.js';
import { freePort, scrape, spawnRun } from '../support/processes.js';
import { FailNow, waitCommittedToEnd } from '../support/waiting.js';
import { SOAK, noiseEvent, rng } from './helpers.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MB = 1024 * 1024;
/** In-process: 1M events, cap 100k keys per detector; the detectors' state must fit in this much heap. */
const ENGINE_EVENTS = 1_000_000;
const ENGINE_CAP = 100_000;
const ENGINE_HEAP_CAP_MB = 450;
/** Past the cap, throughput must keep at least this share of what it was below the cap. */
const MIN_THROUGHPUT_RATIO_AT_CAP = 0.25;
/** The 1M run must finish within this; a run projected to take longer fails as soon as that shows. */
const ENGINE_BUDGET_S = 150;
/** Child: events through Kafka, key cap, and the RSS it must stay under. */
const CHILD_EVENTS = SOAK ? 1_000_000 : 40_000;
const CHILD_CAP = SOAK ? 100_000 : 10_000;
/** growth of the child's resident set over its idle size (GeoIP databases, tsx, kafkajs) */
const CHILD_RSS_GROWTH_CAP_MB = SOAK ? 1_200 : 400;

afterAll(teardown);

/** Random-fingerprint traffic: each fingerprint used once, a third of them twice a few seconds later. */
function* flood(seed: number, n: number, spacingMs: number): Generator<AccessEvent> {
  const r = rng(seed);
  const pending: AccessEvent[] = [];
  let i = 0;
  let ts = T0;
  while (i < n) {
    ts += spacingMs;
    if (pending.length && pending[0]!.ts <= ts) {
      yield pending.shift()!;
      i++;
      continue;
    }
    const e = noiseEvent(r, ts, `m${seed}-${i}`) as AccessEvent;
    yield e;
    i++;
    if (r() < 0.33) pending.push({ ...e, id: `${e.id}b`, ts: ts + 1_000 + Math.floor(r() * 5_000) });
  }
}

describe('1M random fingerprints against the key cap', () => {
  it(`in-process: ${ENGINE_EVENTS} events, cap ${ENGINE_CAP} keys/detector: state capped, evictions counted, heap under ${ENGINE_HEAP_CAP_MB} MB, no collapse at the cap`, async () => {
    const config = loadConfig(detectors, { TOKENWATCH_MAX_KEYS_PER_DETECTOR: String(ENGINE_CAP), LOG_LEVEL: 'silent' });
    const core = new BatchProcessor({ config, detectors, log: createLogger({ level: 'silent' }), metrics: new Metrics() });
    const engine = core.engine('flood', 0);
    gc();
    const base = process.memoryUsage().heapUsed;
    let peakHeap = 0;
    const WINDOW = 20_000;
    let windowStart = performance.now();
    let belowCapRate = 0;
    let capAt: { n: number; ms: number } | undefined;
    const started = performance.now();
    const atCapRate = (now: number) => (capAt && n > capAt.n ? (n - capAt.n) / ((now - capAt.ms) / 1000) : undefined);
    const rates = (now: number) =>
      `${Math.round(belowCapRate)} events/s below the cap of ${ENGINE_CAP} keys, ${Math.round(atCapRate(now) ?? 0)} events/s at it ` +
      `(${engine.stats.evictedByCap} evictions)`;
    let n = 0;
    for (const e of flood(1, ENGINE_EVENTS, 2)) {
      engine.process(core.enricher.enrich(e, { topic: 'flood', partition: 0, offset: String(n) }));
      n++;
      if (n % WINDOW !== 0) continue;
      const now = performance.now();
      if (engine.stats.evictedByCap === 0) belowCapRate = WINDOW / ((now - windowStart) / 1000);
      else capAt ??= { n, ms: now };
      if (n % 100_000 === 0) {
        gc();
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - base);
      }
      const elapsed = (now - started) / 1000;
      const rate = atCapRate(now);
      // judged once 200k events went through at the cap: fail now rather than after minutes
      if (rate !== undefined && n - capAt!.n >= 200_000) {
        const projected = elapsed + (ENGINE_EVENTS - n) / rate;
        if (rate < MIN_THROUGHPUT_RATIO_AT_CAP * belowCapRate || projected > ENGINE_BUDGET_S) {
          throw new Error(
            `throughput collapsed at the key cap: ${rates(now)}; ${n} of ${ENGINE_EVENTS} events after ${elapsed.toFixed(0)} s, ` +
              `projected ${projected.toFixed(0)} s (budget ${ENGINE_BUDGET_S} s). Engine.process evicts the oldest key with ` +
              'Map.keys().next(), which walks every deleted entry left at the front of the Map.',
          );
        }
      }
      if (elapsed > ENGINE_BUDGET_S) throw new Error(`only ${n} of ${ENGINE_EVENTS} events within ${ENGINE_BUDGET_S} s: ${rates(now)}`);
      // let the runner breathe (RPC, timers)
      await new Promise((r) => setImmediate(r));
      windowStart = performance.now();
    }
    const seconds = (performance.now() - started) / 1000;
    gc();
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - base);
    const keys = engine.keyCounts();
    console.info(
      `[faults/memory] in-process: ${n} events in ${seconds.toFixed(1)} s (${rates(performance.now())}); ` +
        `keys ${JSON.stringify(keys)}; evicted by cap ${engine.stats.evictedByCap}, by time ${engine.stats.evictedByTime}; ` +
        `state heap peak ${(peakHeap / MB).toFixed(0)} MB (cap ${ENGINE_HEAP_CAP_MB} MB)`,
    );
    expect(n).toBe(ENGINE_EVENTS);
    for (const [d, k] of Object.entries(keys)) expect(k, d).toBeLessThanOrEqual(ENGINE_CAP);
    // at the cap (an eviction policy may free a little headroom at once, so not necessarily exactly)
    expect(keys.multi_ip_replay).toBeGreaterThan(0.95 * ENGINE_CAP);
    expect(engine.stats.evictedByCap).toBeGreaterThan(ENGINE_EVENTS / 2);
    expect(peakHeap / MB).toBeLessThan(ENGINE_HEAP_CAP_MB);
    expect(atCapRate(performance.now()) ?? 0, rates(performance.now())).toBeGreaterThan(MIN_THROUGHPUT_RATIO_AT_CAP * belowCapRate);
  }, (ENGINE_BUDGET_S + 30) * 1000);

  it(`tokenwatch run through Kafka: ${CHILD_EVENTS} events at cap ${CHILD_CAP}: keys capped, RSS growth under ${CHILD_RSS_GROWTH_CAP_MB} MB, never crashes, restores the capped state`, async () => {
    const t = await testEnv('flood', {
      TOKENWATCH_INPUT_PARTITIONS: '4',
      TOKENWATCH_MAX_KEYS_PER_DETECTOR: String(CHILD_CAP),
      TOKENWATCH_METRICS_PORT: String(await freePort()),
      // a flush per fetched batch keeps each changelog transaction under the broker's message
      // size; with the default 1 s a backlog of new keys wedges the flush (test below)
      TOKENWATCH_STATE_FLUSH_MS: '100',
    });
    await createInput(t, 4);
    const port = Number(t.env.TOKENWATCH_METRICS_PORT);
    const child = spawnRun(t, 'flood');
    await child.ready();
    const idleKb = child.memory()?.rssKb ?? 0;
    const producer = await eventProducer(t);
    let peakKb = 0;
    const sampler = setInterval(() => {
      const m = child.memory();
      if (m) peakKb = Math.max(peakKb, m.peakKb);
    }, 250);
    const started = performance.now();
    try {
      let batch: AccessEvent[] = [];
      for (const e of flood(2, CHILD_EVENTS, 1)) {
        batch.push(e);
        if (batch.length === 5_000) {
          await producer.send(batch);
          batch = [];
        }
      }
      await producer.send(batch);
      await producer.close();
      await waitCommittedToEnd(t, SOAK ? 1_800_000 : 120_000, [child]);
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    const m = child.memory();
    if (m) peakKb = Math.max(peakKb, m.peakKb);
    const metrics = await scrape(port);
    const keys = Object.fromEntries(detectors.map((d) => [d.meta.id, metrics.get(`tokenwatch_state_keys{detector="${d.meta.id}"}`) ?? 0]));
    const distinctFps = new Set<string>();
    for (const e of flood(2, CHILD_EVENTS, 1)) distinctFps.add(e.cred.fp);

    // restart: the capped state comes back from the changelog
    const termed = await child.term();
    expect(termed.code, child.why()).toBe(0);
    const again = spawnRun(t, 'flood-restart');
    const restored = await again.waitLog('task state restored', SOAK ? 600_000 : 120_000, (l) => l.source === t.input);
    const restoredPeak = again.memory()?.peakKb ?? 0;
    await again.ready();
    console.info(
      `[faults/memory] child: ${CHILD_EVENTS} events (${distinctFps.size} fingerprints) in ${seconds.toFixed(1)} s; keys ${JSON.stringify(keys)} (cap ${CHILD_CAP}); ` +
        `RSS idle ${(idleKb / 1024).toFixed(0)} MB, peak ${(peakKb / 1024).toFixed(0)} MB (growth cap ${CHILD_RSS_GROWTH_CAP_MB} MB); restore: ${String(restored.records)} changelog records, ${String(restored.ms)} ms, ` +
        `keys ${JSON.stringify(restored.keys)}, peak RSS of the restarted process ${(restoredPeak / 1024).toFixed(0)} MB`,
    );
    expect(distinctFps.size).toBeGreaterThan(CHILD_CAP);
    for (const [d, k] of Object.entries(keys)) expect(k, d).toBeLessThanOrEqual(CHILD_CAP);
    expect(keys.multi_ip_replay).toBeGreaterThan(0.95 * CHILD_CAP);
    expect(keys.impossible_travel).toBeGreaterThan(0.95 * CHILD_CAP);
    expect((peakKb - idleKb) / 1024).toBeLessThan(CHILD_RSS_GROWTH_CAP_MB);
    // evicted keys were tombstoned in the changelog: exactly the live keys come back
    expect(restored.keys).toEqual(keys);
    expect(again.alive, again.why()).toBe(true);
  }, SOAK ? 3_600_000 : 180_000);

  it('a backlog of fresh fingerprints with the default 1 s state flush is committed: the changelog transaction fits the broker', async () => {
    const t = await testEnv('backlog', { TOKENWATCH_INPUT_PARTITIONS: '4' });
    await createInput(t, 4);
    const producer = await eventProducer(t);
    const events = [...flood(3, 30_000, 1)];
    for (let i = 0; i < events.length; i += 5_000) await producer.send(events.slice(i, i + 5_000));
    await producer.close();
    // the processor was down while the backlog built up (a deploy, a crash): now it starts
    const child = spawnRun(t, 'backlog');
    await child.ready();
    const tooLarge = () => child.logs.filter((l) => l.msg === 'state changelog / offset commit failed; retrying' && /larger than the max message size/.test(String(l.err)));
    await waitCommittedToEnd(t, 90_000, [child], () => {
      const failed = tooLarge();
      if (failed.length >= 3) {
        throw new FailNow(
          `the state flush is stuck: ${failed.length} attempts to commit one changelog transaction were refused with "${String(failed[0]!.err)}"; ` +
            `the processor retries the same oversized batch forever and commits nothing (log: ${child.logFile})`,
        );
      }
    });
    expect(tooLarge()).toEqual([]);
    expect(child.alive, child.why()).toBe(true);
  }, 150_000);
});
