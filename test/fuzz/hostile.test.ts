/**
 * Hostile-input fuzz, in process (beside `inprocess.test.ts`): several thousand inputs from
 * `hostile.ts` — up to three planted secrets each, in JSON keys and Kafka keys too, nine
 * encodings, and field / text / byte mutations — through BatchProcessor (the path `run` and
 * `replay` share) with the real detectors and the bundled GeoIP. Per input, by offset:
 *
 * - accounted exactly once: processed (reached the detectors, no DLQ record), quarantined and
 *   processed (one secret_* record and reached the detectors), or dead-lettered only (one record,
 *   never reached the detectors); nothing thrown, no detector_failed / processing_failed;
 * - what the generator knows: a clean valid event is processed clean, a valid event with secrets
 *   only in redactable fields is quarantined and processed, one with a secret in an identifying
 *   field is dead-lettered with a secret_* reason; any input that still holds its whole planted
 *   secret has a DLQ record (DESIGN §2: an event carrying a raw secret is dead-lettered or quarantined);
 * - no 12-character window of any planted secret (or of its encoded form), in any view (as is,
 *   JSON-unescaped, percent-decoded, base64-decoded), in alerts, denylist / SET / control / DLQ
 *   records (keys, values, headers), state changelog records, log lines or metric labels;
 * - every DLQ record: the contract's schema, a reason of DLQ_REASONS, the reason header, the
 *   `<topic>/<partition>/<offset>` key of its source message.
 *
 * The seed is printed; TOKENWATCH_FUZZ_SEED repeats a run, TOKENWATCH_FUZZ_HOSTILE_N sizes it.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../../src/config/index.js';
import { BatchProcessor } from '../../src/pipeline/batch.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { REDACT_PATHS } from '../../src/telemetry/log.js';
import { DLQ_REASONS } from '../../src/ingest/decode.js';
import { openGeo } from '../../src/cli/shared.js';
import { DLQ_REASON_HEADER, DlqRecordSchema, dlqKey, type DlqRecord } from '../../schemas/dlq.js';
import type { BusRecord } from '../../src/io/bus.js';
import { T0 } from '../support/services.js';
import { LeakIndex, fuzzSeed, generate, type FuzzInput, type Leak } from './hostile.js';

const N = Number(process.env.TOKENWATCH_FUZZ_HOSTILE_N ?? 4000);
const BATCH = 250;
const TOPIC = 'fz.in';
/** wall clock of the run: two days after the events (the generator's times start at T0) */
const NOW = T0 + 2 * 86_400_000;

/** Mutations that may cut or replace a planted secret: such an input no longer holds it whole. */
/** Fields that key the producer's Kafka message (DESIGN §3) or are identifying. */
const IDENTITY_FIELDS = new Set(['tenant', 'cred.sub', 'cred.client_id', 'cred.sid', 'cred.key_id', 'cred.jti', 'cred.fp', 'refresh.issued_fp', 'kafka-key']);
const DESTRUCTIVE = /^(truncated|raw_bytes|blank|null_value|non_object|huge_string)/;

type Outcome = 'processed' | 'quarantined' | 'dlq_only' | 'lost' | 'duplicated';

function count<T extends string>(xs: Iterable<T>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

describe('fuzz: hostile inputs through BatchProcessor, in process', () => {
  it(`${N} inputs: each accounted once, no thrown error, no planted secret in any output, DLQ records by contract`, async () => {
    const seed = fuzzSeed();
    console.log(`[hostile] seed ${seed} — repeat with TOKENWATCH_FUZZ_SEED=${seed} npx vitest run test/fuzz/hostile.test.ts`);
    const t0 = performance.now();
    const inputs = generate(seed, N);
    const genMs = performance.now() - t0;

    const logLines: string[] = [];
    const log = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } }, { write: (s: string) => void logLines.push(s) });
    const config = loadConfig(detectors, {
      TOKENWATCH_INPUT_TOPIC: TOPIC,
      TOKENWATCH_DLQ_TOPIC: 'fz.dlq',
      TOKENWATCH_DENYLIST_TOPIC: 'fz.deny',
      TOKENWATCH_CONTROL_TOPIC: 'fz.ctl',
    });
    const metrics = new Metrics();
    const geo = await openGeo(config, log);
    const core = new BatchProcessor({ config, detectors, log, metrics, geo, now: () => NOW });
    // which messages reached the detectors: the enricher runs right before them
    const reached = new Map<string, number>();
    const enrich = core.enricher.enrich.bind(core.enricher);
    core.enricher.enrich = (e, source) => {
      const at = source?.offset ?? '?';
      reached.set(at, (reached.get(at) ?? 0) + 1);
      return enrich(e, source);
    };

    const alerts: unknown[] = [];
    const records: BusRecord[] = [];
    const changelog: Array<{ key: string; value: string | null }> = [];
    const thrown: string[] = [];
    let dlqCounted = 0;
    const p0 = performance.now();
    for (let i = 0; i < inputs.length; i += BATCH) {
      const batch = inputs.slice(i, i + BATCH).map((f) => ({ key: f.key, value: f.value, offset: String(f.index), timestamp: String(T0), headers: {} }));
      try {
        const out = core.process(TOPIC, 0, batch);
        alerts.push(...out.alerts);
        records.push(...out.records);
        dlqCounted += out.dlq;
        for (const e of core.allEngines()) changelog.push(...e.takeChanges());
      } catch (e) {
        thrown.push(`batch at ${i}: ${(e as Error).stack ?? String(e)}`);
      }
    }
    const procMs = performance.now() - p0;

    // ---- DLQ records by contract
    const dlqRecs = records.filter((r) => r.topic === 'fz.dlq');
    const badRecords: string[] = [];
    const dlqByOffset = new Map<string, DlqRecord[]>();
    for (const r of dlqRecs) {
      const parsed = DlqRecordSchema.safeParse(JSON.parse(r.value ?? 'null'));
      if (!parsed.success) {
        badRecords.push(`DLQ record ${r.key}: not the contract's shape: ${parsed.error.message.slice(0, 200)}`);
        continue;
      }
      const d = parsed.data;
      if (!(DLQ_REASONS as readonly string[]).includes(d.reason)) badRecords.push(`DLQ record ${r.key}: reason ${d.reason} is not in DLQ_REASONS`);
      if (r.headers?.[DLQ_REASON_HEADER] !== d.reason) badRecords.push(`DLQ record ${r.key}: header ${DLQ_REASON_HEADER}=${r.headers?.[DLQ_REASON_HEADER]} but reason ${d.reason}`);
      if (r.key !== dlqKey(d.source) || d.source.topic !== TOPIC || d.source.partition !== 0) badRecords.push(`DLQ record ${r.key}: key/source ${JSON.stringify(d.source)}`);
      dlqByOffset.set(d.source.offset, [...(dlqByOffset.get(d.source.offset) ?? []), d]);
    }
    for (const r of records.filter((x) => x.topic === 'fz.deny')) {
      const v = JSON.parse(r.value ?? 'null') as { scope?: string; id?: string } | null;
      if (v === null || r.key !== `${v.scope}:${v.id}` || !['token', 'family', 'api_key', 'subject'].includes(String(v.scope))) badRecords.push(`denylist record ${r.key}: ${r.value?.slice(0, 120)}`);
    }

    // ---- every input accounted for exactly once
    const outcomes = new Map<number, { outcome: Outcome; reason?: string }>();
    for (const f of inputs) {
      const d = dlqByOffset.get(String(f.index)) ?? [];
      const n = reached.get(String(f.index)) ?? 0;
      let outcome: Outcome;
      if (d.length > 1 || n > 1) outcome = 'duplicated';
      else if (d.length === 0) outcome = n === 1 ? 'processed' : 'lost';
      else if (n === 1 && d[0]!.reason.startsWith('secret_')) outcome = 'quarantined';
      else outcome = 'dlq_only';
      outcomes.set(f.index, { outcome, reason: d[0]?.reason });
    }
    const problems: string[] = [];
    const describe = (f: FuzzInput) =>
      `input ${f.index} [${f.mutations.join(', ') || 'no mutation'}; plants ${f.plants.map((p) => `${p.kind}@${p.where}/${p.encoding}`).join(', ') || 'none'}]`;
    for (const f of inputs) {
      const o = outcomes.get(f.index)!;
      if (o.outcome === 'lost' || o.outcome === 'duplicated') problems.push(`${describe(f)}: ${o.outcome}`);
      if (o.reason === 'detector_failed' || o.reason === 'processing_failed') problems.push(`${describe(f)}: ${o.reason}`);
      if (f.expect === 'clean' && o.outcome !== 'processed') problems.push(`${describe(f)}: a clean valid event was ${o.outcome} (${o.reason})`);
      if (f.expect === 'quarantine' && o.outcome !== 'quarantined') problems.push(`${describe(f)}: secrets in redactable fields only, expected quarantined + processed, got ${o.outcome} (${o.reason})`);
      if (f.expect === 'secret_dropped' && !(o.outcome === 'dlq_only' && o.reason?.startsWith('secret_')))
        problems.push(`${describe(f)}: secret in an identifying field, expected dead-lettered secret_*, got ${o.outcome} (${o.reason})`);
    }

    // ---- no planted secret anywhere
    const plants = inputs.flatMap((f) => f.plants);
    const index = new LeakIndex(plants);
    const inputOf = new Map(inputs.flatMap((f) => f.plants.map((p) => [p.tag, f] as const)));
    const s0 = performance.now();
    // positive control: the index finds each plant in its own input (whole, not cut by a mutation)
    // (one scan over all of them: a plant's windows are unique to its input)
    const whole = inputs.filter((f) => f.plants.length > 0 && !f.mutations.some((m) => DESTRUCTIVE.test(m)));
    const own = new Set(index.scan('inputs', whole.map((f) => `${f.key ?? ''}\n${f.value?.toString('utf8') ?? ''}`).join('\n')).map((l) => l.tag));
    const unseen = whole.flatMap((f) => f.plants.filter((p) => !own.has(p.tag)).map((p) => `${p.tag} ${p.kind}/${p.encoding}`));
    // an input still holding a whole secret in its value is dead-lettered or quarantined
    const unflagged = whole
      .filter((f) => f.plants.some((p) => p.where !== 'kafka-key') && outcomes.get(f.index)!.outcome === 'processed')
      .map((f) => `${describe(f)}: processed with no DLQ record`);

    const recordText = (rs: BusRecord[]) => rs.map((r) => `${r.key ?? ''}\t${r.value ?? ''}\t${JSON.stringify(r.headers ?? {})}`).join('\n');
    const leaks: Leak[] = [
      ...index.scan('alerts', alerts.map((a) => JSON.stringify(a)).join('\n')),
      ...index.scan('DLQ records', recordText(dlqRecs)),
      ...index.scan('denylist/SET/control records', recordText(records.filter((r) => r.topic !== 'fz.dlq'))),
      ...index.scan('state changelog', changelog.map((c) => `${c.key}\t${c.value ?? ''}`).join('\n')),
      ...index.scan('log lines', logLines.join('')),
      ...index.scan('metrics', metrics.render()),
    ];
    const scanMs = performance.now() - s0;

    const byOutcome = count([...outcomes.values()].map((o) => o.outcome));
    const byReason = count(dlqRecs.map((r) => r.headers?.[DLQ_REASON_HEADER] ?? '?'));
    console.log(
      [
        `[hostile] inputs ${inputs.length} (${inputs.filter((f) => f.mutations.includes('attack')).length} in replay attacks), planted secrets ${plants.length} (${index.size} windows), mutations ${inputs.reduce((n, f) => n + f.mutations.filter((m) => m !== 'attack').length, 0)}`,
        `[hostile] outcomes ${JSON.stringify(byOutcome)}; inputs = processed + quarantined + dlq_only: ${inputs.length} = ${byOutcome.processed ?? 0} + ${byOutcome.quarantined ?? 0} + ${byOutcome.dlq_only ?? 0}`,
        `[hostile] DLQ records ${dlqRecs.length} (out.dlq ${dlqCounted}) by reason ${JSON.stringify(byReason)}`,
        `[hostile] alerts ${alerts.length}, denylist ${records.filter((r) => r.topic === 'fz.deny').length}, other records ${records.filter((r) => r.topic !== 'fz.deny' && r.topic !== 'fz.dlq').length}, changelog ${changelog.length}, log lines ${logLines.length}`,
        `[hostile] plants by kind ${JSON.stringify(count(plants.map((p) => p.kind)))}`,
        `[hostile] plants by encoding ${JSON.stringify(count(plants.map((p) => p.encoding)))}`,
        `[hostile] generate ${genMs.toFixed(0)} ms, process ${procMs.toFixed(0)} ms (${((procMs * 1000) / inputs.length).toFixed(0)} µs per message), leak scan ${scanMs.toFixed(0)} ms`,
        `[hostile] leaks ${leaks.length}, problems ${problems.length}, unflagged ${unflagged.length}, bad records ${badRecords.length}, thrown ${thrown.length}`,
        `[hostile] leaks by output / outcome / encoding / where: ${JSON.stringify(count(leaks.map((l) => `${l.output} / ${outcomes.get(inputOf.get(l.tag)!.index)!.reason ?? 'none'} / ${l.encoding} / ${l.where.startsWith('key:') ? 'json key' : IDENTITY_FIELDS.has(l.where) ? 'identity field' : 'other field'}`)))}`,
        ...leaks.slice(0, 15).map((l) => `[hostile] LEAK ${l.kind}/${l.encoding} planted at ${l.where} found in ${l.output} (${l.window}) — ${describe(inputOf.get(l.tag)!)} → ${JSON.stringify(outcomes.get(inputOf.get(l.tag)!.index))}`),
        ...problems.slice(0, 10).map((p) => `[hostile] PROBLEM ${p}`),
        ...unflagged.slice(0, 10).map((p) => `[hostile] UNFLAGGED ${p}`),
        ...badRecords.slice(0, 5).map((p) => `[hostile] BAD RECORD ${p}`),
        ...thrown.slice(0, 3).map((p) => `[hostile] THROWN ${p}`),
      ].join('\n'),
    );

    // one assertion over every property, so a failing run names all its offenders at once
    expect(dlqCounted).toBe(dlqRecs.length);
    expect({
      'plants the leak index cannot see in their own input (the check itself is broken)': unseen,
      'errors thrown out of BatchProcessor.process': thrown,
      'records not as the contract says': badRecords,
      'inputs lost, duplicated, failed or not given the outcome their kind requires': problems,
      'inputs holding a whole planted secret, processed with no DLQ record': unflagged,
      'planted secrets found in an output': leaks.map((l) => `${l.kind}/${l.encoding} at ${l.where} in ${l.output}: ${describe(inputOf.get(l.tag)!)} → ${outcomes.get(inputOf.get(l.tag)!.index)!.reason ?? 'processed'}`),
    }).toEqual({
      'plants the leak index cannot see in their own input (the check itself is broken)': [],
      'errors thrown out of BatchProcessor.process': [],
      'records not as the contract says': [],
      'inputs lost, duplicated, failed or not given the outcome their kind requires': [],
      'inputs holding a whole planted secret, processed with no DLQ record': [],
      'planted secrets found in an output': [],
    });
  }, 120_000);
});
