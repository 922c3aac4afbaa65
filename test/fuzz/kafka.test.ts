/**
 * Fuzz through the real thing: ~300 generated inputs produced LZ4-compressed with kcat into a
 * fresh input topic, consumed by a `tokenwatch run` child. No planted secret in the DLQ, the
 * denylist, ClickHouse alerts or the child's output; every input offset processed or
 * dead-lettered; the child still alive.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testEnv, teardown } from '../support/services.js';
import { createInput, readTopic, withAdmin } from '../support/kafka.js';
import { freePort, scrape, spawnRun } from '../support/processes.js';
import { waitCommittedToEnd } from '../support/waiting.js';
import { alertRows } from '../support/clickhouse.js';
import { DLQ_REASONS } from '../../src/ingest/decode.js';
import { loadConfig } from '../../src/config/index.js';
import { BatchProcessor } from '../../src/pipeline/batch.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { detectors } from '../../detectors/index.js';
import pino from 'pino';
import { generate, leaksIn, seedFromEnv } from './generate.js';
import { changelogTopic, repartitionTopic } from '../../src/pipeline/index.js';

/** DLQ reasons of the same inputs through an in-process BatchProcessor (what the child should have dead-lettered). */
function inProcessReasons(inputs: ReadonlyArray<{ bytes: Buffer; i: number }>): Record<string, number> {
  const config = loadConfig(detectors, { TOKENWATCH_DLQ_TOPIC: 'dlq.x', TOKENWATCH_DENYLIST_TOPIC: 'deny.x' });
  const core = new BatchProcessor({ config, detectors, log: pino({ level: 'silent' }), metrics: new Metrics() });
  const out = core.process('in.x', 0, inputs.map((f) => ({ key: null, value: f.bytes, offset: String(f.i), timestamp: String(Date.now()), headers: {} })));
  const by: Record<string, number> = {};
  for (const r of out.records) if (r.topic === 'dlq.x') {
    const reason = (JSON.parse(String(r.value)) as { reason: string }).reason;
    by[reason] = (by[reason] ?? 0) + 1;
  }
  return by;
}
const sorted = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

const N = Number(process.env.TOKENWATCH_FUZZ_KAFKA_N ?? 300);

afterAll(teardown);

describe('fuzz: kcat (LZ4) → Kafka → tokenwatch run', () => {
  it.each([false, true])(`${N} generated inputs (TOKENWATCH_REKEY=%s): none lost, no secret leaked — outputs, changelog, repartition topic, metrics, logs — the process survives`, async (rekey) => {
    const seed = seedFromEnv();
    console.log(`fuzz seed ${seed} (TOKENWATCH_FUZZ_SEED=${seed} to repeat)`);
    const all = generate({ n: N, seed: seed ^ 0x5a5a5a5a, startMs: Date.now() - N * 1_000 - 120_000 });
    // kcat reads stdin (a file argument would be one message), one message per delimiter byte: a byte no input holds (inputs holding it, and empty ones kcat would drop, are skipped)
    const DELIM = 0x1e;
    const inputs = all.filter((f) => f.bytes.length > 0 && !f.bytes.includes(DELIM));
    const dir = mkdtempSync(join(tmpdir(), 'tw-fuzz-'));
    const file = join(dir, 'inputs.bin');
    writeFileSync(file, Buffer.concat(inputs.flatMap((f) => [f.bytes, Buffer.from([DELIM])])));

    const metricsPort = await freePort();
    const t = await testEnv('fuzz', { TOKENWATCH_METRICS_PORT: String(metricsPort), TOKENWATCH_REKEY: String(rekey) });
    await createInput(t, 3);
    const child = spawnRun(t, 'fuzz', { LOG_LEVEL: 'debug' });
    await child.ready(60_000);

    const kcat = spawnSync('kcat', ['-P', '-z', 'lz4', '-b', t.ep.brokers, '-t', t.input, '-D', String.fromCharCode(DELIM)], { input: readFileSync(file), encoding: 'utf8', timeout: 30_000 });
    expect(kcat.status, kcat.stderr).toBe(0);

    const t0 = Date.now();
    await waitCommittedToEnd(t, 60_000, [child]);
    // re-keyed: stage two (group <group>.detect) must also have read the repartition topic to its end
    if (rekey) await waitCommittedToEnd({ ...t, group: `${t.group}.detect`, input: repartitionTopic(t.group) }, 60_000, [child]);
    const elapsed = Date.now() - t0;

    // the input is LZ4 (kafkajs, the test's client, has no LZ4 codec): its offsets from the admin API
    const ends = await withAdmin(t, (a) => a.fetchTopicOffsets(t.input));
    const inTopic = ends.flatMap((e) => Array.from({ length: Number(e.high) - Number(e.low) }, (_, k) => ({ partition: e.partition, offset: String(Number(e.low) + k) })));
    const [dlq, deny, alerts, metrics] = await Promise.all([readTopic(t, t.dlq), readTopic(t, t.denylist), alertRows(t), scrape(metricsPort)]);
    const processed = metrics.get('tokenwatch_events_total{stage="detected"}') ?? 0;
    const dlqRows = dlq.map((r) => JSON.parse(r.value ?? '{}') as { reason: string; source?: { topic?: string; partition?: number; offset?: string } });
    const dead = new Set(dlqRows.map((d) => `${d.source?.partition}/${d.source?.offset}`));
    const notDead = inTopic.filter((r) => !dead.has(`${r.partition}/${r.offset}`));
    const unaccounted = Math.max(0, notDead.length - processed);
    const byReason: Record<string, number> = {};
    for (const d of dlqRows) byReason[d.reason] = (byReason[d.reason] ?? 0) + 1;
    const unknownReasons = Object.keys(byReason).filter((r) => !(DLQ_REASONS as readonly string[]).includes(r));

    // internal topics and the metrics page are outputs too (kcat: they are compressed with zstd)
    const internal = (topic: string) => spawnSync('kcat', ['-C', '-b', t.ep.brokers, '-t', topic, '-e', '-q', '-f', '%k\\n%s\\n'], { encoding: 'utf8', timeout: 30_000 }).stdout ?? '';
    const changelogText = internal(changelogTopic(t.group, rekey ? repartitionTopic(t.group) : t.input));
    const repartitionText = rekey ? internal(repartitionTopic(t.group)) : '';
    if (rekey) expect(repartitionText.length, 'the repartition topic carries the accepted events').toBeGreaterThan(0);
    expect(changelogText.length, 'the changelog was written').toBeGreaterThan(0);
    const metricsText = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const leaks = [
      ...leaksIn(inputs, changelogText).map((l) => ({ ...l, where: 'state changelog' })),
      ...leaksIn(inputs, repartitionText).map((l) => ({ ...l, where: 'repartition topic' })),
      ...leaksIn(inputs, metricsText).map((l) => ({ ...l, where: 'metrics' })),
      ...dlq.flatMap((r) => leaksIn(inputs, `${r.key ?? ''}\n${r.value ?? ''}`).map((l) => ({ ...l, where: 'dlq' }))),
      ...deny.flatMap((r) => leaksIn(inputs, `${r.key ?? ''}\n${r.value ?? ''}`).map((l) => ({ ...l, where: 'denylist' }))),
      ...alerts.flatMap((a) => leaksIn(inputs, JSON.stringify(a)).map((l) => ({ ...l, where: 'clickhouse alert' }))),
      ...leaksIn(inputs, child.output).map((l) => ({ ...l, where: 'child output' })),
    ];
    console.log(
      [
        `inputs ${inputs.length} (of ${all.length} generated), in topic ${inTopic.length}, planted ${inputs.filter((f) => f.core).length}, processed ${processed}, alerts ${alerts.length}, denylist ${deny.length}, log lines ${child.logs.length}`,
        `DLQ ${dlq.length}: ${JSON.stringify(byReason)}`,
        `leaks ${leaks.length}, unaccounted ${unaccounted}, child alive ${child.alive}, committed to end in ${elapsed} ms`,
        ...leaks.slice(0, 10).map((l) => `LEAK input ${l.i} (${l.kind}) in ${l.where}: ${l.needle.slice(0, 8)}…`),
      ].join('\n'),
    );

    // the same bytes, dead-lettered for the same reasons as in process (nothing lost or mangled on the way through kcat, LZ4, Kafka)
    const expected = inProcessReasons(inputs);
    console.log(`in-process DLQ of the same inputs: ${JSON.stringify(expected)}`);
    expect(inTopic.length).toBe(inputs.length);
    expect(sorted(byReason)).toEqual(sorted(expected));
    expect(child.alive).toBe(true);
    expect(unknownReasons).toEqual([]);
    expect(unaccounted).toBe(0);
    expect(leaks.map((l) => `${l.i} ${l.kind} ${l.where}`)).toEqual([]);
  }, 90_000);
});
