/**
 * In-process fuzz: ~3000 generated inputs (valid events with planted fake secrets in many
 * encodings, plus malformed mutations) through one BatchProcessor with the real detectors.
 * No throw; every input accounted (processed or dead-lettered); no planted secret in any alert,
 * record or log line; every DLQ reason is a known one.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { z } from 'zod';
import { defineDetector, type Detector } from '../../src/detect/contract.js';
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../../src/config/index.js';
import { BatchProcessor } from '../../src/pipeline/batch.js';
import { DLQ_REASONS } from '../../src/ingest/decode.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { generate, leaksIn, seedFromEnv } from './generate.js';

const N = Number(process.env.TOKENWATCH_FUZZ_N ?? 3000);

/**
 * A test-only detector that alerts on every event with the whole enriched event as evidence: any
 * secret the guard let through into an event reaches an alert, so a guard miss shows as a leak.
 */
const echo = defineDetector({
  meta: { id: 'fuzz_echo', title: 'fuzz echo', severity: 'low', defaultAction: 'alert', falsePositives: [], references: [] },
  config: z.object({}).strict(),
  keys: (e) => [e.cred.fp],
  stateTtlMs: () => 60_000,
  step: (_s, e) => ({
    state: 1,
    findings: [{ severity: 'low', summary: `seen ${e.route} ${e.ua ?? ''}`, trigger: e, eventIds: [e.id], ips: [e.ip], countries: [], asns: [], evidence: { event: e }, revocations: [] }],
  }),
  cases: [],
}) as unknown as Detector;

describe('fuzz: decode → guard → schema → detectors → response, in process', () => {
  it(`${N} generated inputs (real detectors): no throw, none lost, no secret leaked, known DLQ reasons`, () => fuzz(detectors, 'real detectors'));
  it(`${N} generated inputs (real detectors + an echo detector alerting on every event with it as evidence): no secret reaches an alert`, () =>
    fuzz([...detectors, echo], 'real detectors + echo', 1));
});

function fuzz(detectors: readonly Detector[], label: string, seedOffset = 0): void {
  {
    const seed = (seedFromEnv() + seedOffset) >>> 0;
    console.log(`[${label}] fuzz seed ${seed} (TOKENWATCH_FUZZ_SEED=${seedFromEnv()} to repeat)`);
    const NOW = Date.now();
    const inputs = generate({ n: N, seed, startMs: NOW - N * 1_000 - 120_000 });

    const logLines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (s: string) => void logLines.push(s) });
    const config = loadConfig(detectors, { TOKENWATCH_DLQ_TOPIC: 'dlq.fuzz', TOKENWATCH_DENYLIST_TOPIC: 'deny.fuzz' });
    const metrics = new Metrics();
    const core = new BatchProcessor({ config, detectors, log, metrics, now: () => NOW });
    // the state changelog is an output too: every change the detectors make is encoded and scanned
    core.engine('in.fuzz', 0).trackChanges = true;
    const changelog: string[] = [];

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
        for (const c of core.engine('in.fuzz', 0).takeChanges()) changelog.push(`${c.key}\n${c.value ?? ''}`);
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
      ...leaksIn(inputs, changelog.join('\n')).map((l) => ({ ...l, where: 'state changelog' })),
      ...leaksIn(inputs, metrics.render()).map((l) => ({ ...l, where: 'metrics' })),
    ];
    expect(changelog.length, 'the detectors changed state (the changelog scan saw something)').toBeGreaterThan(0);
    const planted = inputs.filter((f) => f.core).length;
    // positive control: the oracle sees every planted secret in its own input
    const selfSeen = new Set(leaksIn(inputs, inputs.map((f) => f.bytes.toString('latin1')).join('\n')).map((l) => l.i));
    // planted secrets processed with no dead letter at all (the guard neither rejected nor quarantined them)
    const unflagged: Record<string, number> = {};
    for (const f of inputs) if (f.core && !dlqOffsets.has(String(f.i))) unflagged[f.kind] = (unflagged[f.kind] ?? 0) + 1;
    const validClean = inputs.filter((f) => f.kind === 'valid');
    const validDlq = validClean.filter((f) => dlqOffsets.has(String(f.i)));

    console.log(
      [
        `inputs ${inputs.length}, planted ${planted}, malformed ${inputs.filter((f) => f.kind.includes('malformed')).length}, processed ${processed}, alerts ${alerts.length}, records ${records.length}, log lines ${logLines.length}`,
        `DLQ ${dlq.length}: ${JSON.stringify(byReason)}`,
        `leaks ${leaks.length}, unaccounted ${unaccounted}, batches thrown ${threw.length}, clean valid inputs dead-lettered ${validDlq.length}`,
        `planted, processed without any dead letter (harmless unless it leaks): ${JSON.stringify(unflagged)}`,
        `${us.toFixed(1)} µs per input`,
        ...leaks.slice(0, 10).map((l) => `LEAK input ${l.i} (${l.kind}) in ${l.where}: ${l.needle.slice(0, 8)}…`),
        ...threw.slice(0, 3).map((t) => `THROW batch ${t.batch}: ${String(t.err)}`),
      ].join('\n'),
    );

    expect(selfSeen.size).toBe(planted);
    expect(threw).toEqual([]);
    expect(unknownReasons).toEqual([]);
    expect(dlqWithoutOffset).toBe(0);
    expect(unaccounted).toBe(0);
    expect(leaks.map((l) => `${l.i} ${l.kind} ${l.where}`)).toEqual([]);
  }
}
