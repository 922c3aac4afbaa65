/**
 * In-process fuzz: ~3000 generated inputs (valid events with planted fake secrets in many
 * encodings, plus malformed mutations) through one BatchProcessor with the real detectors.
 * No throw; every input accounted (processed or dead-lettered); no planted secret in any alert,
 * record or log line; every DLQ reason is a known one.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../../src/config/index.js';
import { BatchProcessor } from '../../src/pipeline/batch.js';
import { DLQ_REASONS } from '../../src/ingest/decode.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { generate, leaksIn, seedFromEnv } from './generate.js';

const N = Number(process.env.TOKENWATCH_FUZZ_N ?? 3000);

describe('fuzz: decode → guard → schema → detectors → response, in process', () => {
  it(`${N} generated inputs: no throw, none lost, no secret leaked, known DLQ reasons`, () => {
    const seed = seedFromEnv();
    console.log(`fuzz seed ${seed} (TOKENWATCH_FUZZ_SEED=${seed} to repeat)`);
    const NOW = Date.now();
    const inputs = generate({ n: N, seed, startMs: NOW - N * 1_000 - 120_000 });

    const logLines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (s: string) => void logLines.push(s) });
    const config = loadConfig(detectors, { TOKENWATCH_DLQ_TOPIC: 'dlq.fuzz', TOKENWATCH_DENYLIST_TOPIC: 'deny.fuzz' });
    const metrics = new Metrics();
    const core = new BatchProcessor({ config, detectors, log, metrics, now: () => NOW });

    const alerts: unknown[] = [];
    const records: Array<{ topic: string; key: string | null; value: string | null }> = [];
    const threw: Array<{ batch: number; err: unknown }> = [];
    const t0 = process.hrtime.bigint();
    for (let b = 0; b < inputs.length; b += 100) {
      const msgs = inputs.slice(b, b + 100).map((f) => ({ key: null, value: f.bytes, offset: String(f.i), timestamp: String(NOW), headers: {} }));
      try {
        const out = core.process('in.fuzz', 0, msgs);
        alerts.push(...out.alerts);
        records.push(...out.records);
      } catch (err) {
        threw.push({ batch: b, err });
      }
    }
    const us = Number(process.hrtime.bigint() - t0) / 1000 / inputs.length;

    // accounting
    const dlq = records.filter((r) => r.topic === 'dlq.fuzz').map((r) => JSON.parse(String(r.value)) as { reason: string; source?: { offset?: string } });
    const dlqOffsets = new Set(dlq.map((d) => d.source?.offset));
    const processed = metrics.value('tokenwatch_events_total', { stage: 'detected' }) ?? 0;
    const notDeadLettered = inputs.filter((f) => !dlqOffsets.has(String(f.i)));
    const unaccounted = Math.max(0, notDeadLettered.length - processed);
    const byReason: Record<string, number> = {};
    for (const d of dlq) byReason[d.reason] = (byReason[d.reason] ?? 0) + 1;
    const unknownReasons = Object.keys(byReason).filter((r) => !(DLQ_REASONS as readonly string[]).includes(r));
    const dlqWithoutOffset = dlq.filter((d) => d.source?.offset === undefined).length;

    // leaks
    const leaks = [
      ...alerts.flatMap((a) => leaksIn(inputs, JSON.stringify(a)).map((l) => ({ ...l, where: 'alert' }))),
      ...records.flatMap((r) => leaksIn(inputs, `${r.key ?? ''}\n${r.value ?? ''}`).map((l) => ({ ...l, where: `record ${r.topic}` }))),
      ...leaksIn(inputs, logLines.join('')).map((l) => ({ ...l, where: 'log' })),
    ];
    const planted = inputs.filter((f) => f.core).length;
    const validClean = inputs.filter((f) => f.kind === 'valid');
    const validDlq = validClean.filter((f) => dlqOffsets.has(String(f.i)));

    console.log(
      [
        `inputs ${inputs.length}, planted ${planted}, malformed ${inputs.filter((f) => f.kind.includes('malformed')).length}, processed ${processed}, alerts ${alerts.length}, records ${records.length}, log lines ${logLines.length}`,
        `DLQ ${dlq.length}: ${JSON.stringify(byReason)}`,
        `leaks ${leaks.length}, unaccounted ${unaccounted}, batches thrown ${threw.length}, clean valid inputs dead-lettered ${validDlq.length}`,
        `${us.toFixed(1)} µs per input`,
        ...leaks.slice(0, 10).map((l) => `LEAK input ${l.i} (${l.kind}) in ${l.where}: ${l.needle.slice(0, 8)}…`),
        ...threw.slice(0, 3).map((t) => `THROW batch ${t.batch}: ${String(t.err)}`),
      ].join('\n'),
    );

    expect(threw).toEqual([]);
    expect(unknownReasons).toEqual([]);
    expect(dlqWithoutOffset).toBe(0);
    expect(unaccounted).toBe(0);
    expect(leaks.map((l) => `${l.i} ${l.kind} ${l.where}`)).toEqual([]);
  });
});
