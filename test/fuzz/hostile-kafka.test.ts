/**
 * Hostile fuzz through Kafka, with message keys: ~300 inputs from `hostile.ts` (invalid UTF-8,
 * raw bytes, planted secrets in values and in Kafka keys — the producer contract keys by
 * `cred.sid ?? cred.sub ?? …`, so a secret in an identifying field is in the key too) produced
 * LZ4-compressed by kcat with keys into one partition, consumed by a `tokenwatch run` child.
 *
 * The same inputs through an in-process BatchProcessor are the oracle: every offset is
 * dead-lettered for the same reason (or not at all), the child reached the detectors with as many
 * events, and ClickHouse and the denylist hold the same alert ids and keys. No window of a
 * planted secret in the DLQ topic (keys, values, headers — `source.key` included), the denylist,
 * the alerts table or the child's output; the child is still alive.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { detectors } from '../../detectors/index.js';
import { BatchProcessor } from '../../src/pipeline/batch.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { DLQ_REASONS } from '../../src/ingest/decode.js';
import { DlqRecordSchema } from '../../schemas/dlq.js';
import { testEnv, teardown } from '../support/services.js';
import { createInput, readTopic, withAdmin } from '../support/kafka.js';
import { freePort, scrape, spawnRun } from '../support/processes.js';
import { waitCommittedToEnd } from '../support/waiting.js';
import { alertRows } from '../support/clickhouse.js';
import { LeakIndex, fuzzSeed, generate } from './hostile.js';

const N = Number(process.env.TOKENWATCH_FUZZ_HOSTILE_KAFKA_N ?? 300);
/** kcat framing: message and key delimiters (no input holds them) */
const MSG = 0x1e;
const KEY = 0x1f;

afterAll(teardown);

describe('fuzz: hostile keyed inputs, kcat (LZ4) → Kafka → tokenwatch run', () => {
  it(`${N} inputs: same outcomes as in process, none lost, no planted secret in any topic, table or log, the child survives`, async () => {
    const seed = (fuzzSeed() ^ 0x6b61666b) >>> 0;
    console.log(`[hostile-kafka] seed ${seed} (derived from TOKENWATCH_FUZZ_SEED=${fuzzSeed()})`);
    const inputs = generate(seed, N, { kafka: true }).filter(
      (f) => f.value !== null && f.value.length > 0 && !f.value.includes(MSG) && !f.value.includes(KEY) && !(f.key ?? '').includes(String.fromCharCode(KEY)),
    );
    const framed = Buffer.concat(inputs.flatMap((f) => [...(f.key === null ? [] : [Buffer.from(f.key, 'utf8'), Buffer.from([KEY])]), f.value!, Buffer.from([MSG])]));

    const metricsPort = await freePort();
    const t = await testEnv('hfuzz', { TOKENWATCH_METRICS_PORT: String(metricsPort) });
    await createInput(t, 1);
    const child = spawnRun(t, 'hfuzz', { LOG_LEVEL: 'debug' });
    await child.ready(60_000);
    const kcat = spawnSync('kcat', ['-P', '-z', 'lz4', '-b', t.ep.brokers, '-t', t.input, '-p', '0', '-K', '\\x1f', '-D', '\\x1e'], { input: framed, encoding: 'utf8', timeout: 30_000 });
    expect(kcat.status, kcat.stderr).toBe(0);
    const w0 = Date.now();
    await waitCommittedToEnd(t, 60_000, [child]);
    const waitedMs = Date.now() - w0;

    // the oracle: the same messages, same offsets and keys, through an in-process BatchProcessor
    const oracleMetrics = new Metrics();
    const oracle = new BatchProcessor({ config: t.config, detectors, log: pino({ level: 'silent' }), metrics: oracleMetrics });
    const expected = oracle.process(
      t.input,
      0,
      inputs.map((f, i) => ({ key: f.key, value: f.value, offset: String(i), timestamp: String(Date.now()), headers: {} })),
    );
    const expectedDlq = new Map(expected.records.filter((r) => r.topic === t.dlq).map((r) => [r.key!, JSON.parse(r.value!).reason as string]));
    const expectedAlertIds = new Set(expected.alerts.map((a) => a.alert_id));
    const expectedDeny = new Set(expected.records.filter((r) => r.topic === t.denylist).map((r) => r.key!));

    const ends = await withAdmin(t, (a) => a.fetchTopicOffsets(t.input));
    const inTopic = ends.reduce((n, e) => n + Number(e.high) - Number(e.low), 0);
    const [dlq, deny, alerts, metrics] = await Promise.all([readTopic(t, t.dlq), readTopic(t, t.denylist), alertRows(t), scrape(metricsPort)]);
    const processed = metrics.get('tokenwatch_events_total{stage="detected"}') ?? 0;
    const got = new Map<string, string[]>();
    const badRecords: string[] = [];
    for (const r of dlq) {
      const p = DlqRecordSchema.safeParse(JSON.parse(r.value ?? 'null'));
      if (!p.success) {
        badRecords.push(`${r.key}: ${p.error.message.slice(0, 120)}`);
        continue;
      }
      if (!(DLQ_REASONS as readonly string[]).includes(p.data.reason)) badRecords.push(`${r.key}: reason ${p.data.reason}`);
      got.set(r.key!, [...(got.get(r.key!) ?? []), p.data.reason]);
    }
    const mismatches: string[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const k = `${t.input}/0/${i}`;
      const want = expectedDlq.get(k);
      const have = got.get(k) ?? [];
      if (have.length > 1 || (have[0] ?? 'none') !== (want ?? 'none')) mismatches.push(`offset ${i} [${inputs[i]!.mutations.join(', ')}]: in process ${want ?? 'processed'}, run ${have.join('+') || 'processed'}`);
    }
    const alertIds = new Set(alerts.map((a) => String(a.alert_id)));
    const denyKeys = new Set(deny.map((r) => r.key!));

    const index = new LeakIndex(inputs.flatMap((f) => f.plants));
    const text = (rs: Array<{ key: string | null; value: string | null; headers: Record<string, string> }>) => rs.map((r) => `${r.key ?? ''}\t${r.value ?? ''}\t${JSON.stringify(r.headers)}`).join('\n');
    const leaks = [
      ...index.scan('DLQ topic', text(dlq)),
      ...index.scan('denylist topic', text(deny)),
      ...index.scan('ClickHouse alerts', alerts.map((a) => JSON.stringify(a)).join('\n')),
      ...index.scan('child stdout/stderr', child.output),
    ];
    const byReason: Record<string, number> = {};
    for (const rs of got.values()) for (const r of rs) byReason[r] = (byReason[r] ?? 0) + 1;
    const oracleDetected = oracleMetrics.value('tokenwatch_events_total', { stage: 'detected' });
    console.log(
      [
        `[hostile-kafka] inputs ${inputs.length}, in topic ${inTopic}, planted ${inputs.reduce((n, f) => n + f.plants.length, 0)} (${inputs.reduce((n, f) => n + f.plants.filter((p) => p.where === 'kafka-key' || ['cred.sid', 'cred.sub', 'cred.key_id'].includes(p.where)).length, 0)} in or behind the key)`,
        `[hostile-kafka] reached the detectors: run ${processed}, in process ${oracleDetected}; DLQ records ${dlq.length} (in process ${expectedDlq.size}) ${JSON.stringify(byReason)}`,
        `[hostile-kafka] alerts ${alertIds.size} (in process ${expectedAlertIds.size}), denylist keys ${denyKeys.size} (in process ${expectedDeny.size}), committed to end ${waitedMs} ms after kcat, child alive ${child.alive}`,
        `[hostile-kafka] mismatches ${mismatches.length}, bad records ${badRecords.length}, leaks ${leaks.length}`,
        ...mismatches.slice(0, 10).map((m) => `[hostile-kafka] MISMATCH ${m}`),
        ...leaks.slice(0, 15).map((l) => `[hostile-kafka] LEAK ${l.kind}/${l.encoding} planted at ${l.where} found in ${l.output} (${l.window})`),
      ].join('\n'),
    );

    expect(inTopic).toBe(inputs.length);
    expect(child.alive).toBe(true);
    expect({
      'records not as the contract says': badRecords,
      'offsets whose outcome differs from the in-process run': mismatches,
      'events that reached the detectors (run, in process)': [processed, oracleDetected],
      'alert ids missing or extra in ClickHouse': [...expectedAlertIds].filter((a) => !alertIds.has(a)).concat([...alertIds].filter((a) => !expectedAlertIds.has(a))),
      'denylist keys missing or extra': [...expectedDeny].filter((k) => !denyKeys.has(k)).concat([...denyKeys].filter((k) => !expectedDeny.has(k))),
      'planted secrets found': leaks.map((l) => `${l.kind}/${l.encoding} at ${l.where} in ${l.output}`),
    }).toEqual({
      'records not as the contract says': [],
      'offsets whose outcome differs from the in-process run': [],
      'events that reached the detectors (run, in process)': [oracleDetected, oracleDetected],
      'alert ids missing or extra in ClickHouse': [],
      'denylist keys missing or extra': [],
      'planted secrets found': [],
    });
  }, 120_000);
});
