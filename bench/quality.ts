/**
 * Bench child: detection quality. Runs a seeded simulation through `BatchProcessor` in-process —
 * the decode → guard → schema → enrich → detectors → policy → alert-row code `tokenwatch run` and
 * `tokenwatch replay` run, minus Kafka and ClickHouse — and scores the alert rows against the
 * simulation's ground truth (bench/score.ts). Prints the result as one JSON line on stdout.
 *
 *   node --import tsx bench/quality.ts --seed 1 --duration-sec 14400 --users 2000 --keys 200
 */
import { parseArgs } from 'node:util';
import { detectors } from '../detectors/index.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/telemetry/log.js';
import { Metrics } from '../src/telemetry/metrics.js';
import { BatchProcessor } from '../src/pipeline/index.js';
import { openGeoLookup } from '../src/ingest/geoip/index.js';
import type { GeoLookup } from '../src/ingest/enrich.js';
import type { BusMessage } from '../src/io/bus.js';
import { createSimulation } from '../src/simulate/index.js';
import { attackEventIds, findingsFromRows, score, type QualityScore } from './score.js';
import { BENCH_FP_KEY } from './lib.js';

export interface QualityResult {
  path: string;
  simulation: { seed: number; durationSec: number; users: number; apiKeys: number; tenants: number; attacksPerKind: number; maxDisorderMs: number };
  seconds: number;
  eventsPerSec: number;
  score: QualityScore;
  maxRssBytes: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '1' },
      'duration-sec': { type: 'string', default: '14400' },
      users: { type: 'string', default: '2000' },
      keys: { type: 'string', default: '200' },
      tenants: { type: 'string', default: '5' },
      'attacks-per-kind': { type: 'string', default: '10' },
      'disorder-ms': { type: 'string', default: '0' },
    },
  });
  const simOpts = {
    seed: Number(values.seed),
    durationSec: Number(values['duration-sec']),
    users: Number(values.users),
    apiKeys: Number(values.keys),
    tenants: Number(values.tenants),
    attacksPerKind: Number(values['attacks-per-kind']),
    maxDisorderMs: Number(values['disorder-ms']),
  };
  const sim = createSimulation({ ...simOpts, fpKey: BENCH_FP_KEY });
  const config = loadConfig(detectors, { ...process.env, LOG_LEVEL: 'silent' });
  const log = createLogger({ level: 'silent' });
  let geo: GeoLookup | undefined;
  try {
    geo = await openGeoLookup(config.geoip);
  } catch (e) {
    process.stderr.write(`GeoIP databases unavailable (${(e as Error).message}); events without geo form no location\n`);
  }
  const core = new BatchProcessor({ config, detectors, log, metrics: new Metrics(), geo });
  const truth = sim.truth;
  const attackIds = attackEventIds(truth);
  const rows: Array<{ detector: string; evidence: string; summary: string; action: string }> = [];
  let events = 0;
  let attackEvents = 0;
  let batch: BusMessage[] = [];
  let busy = 0;
  const started = performance.now();
  let lastProgress = started;
  const flush = () => {
    const t = performance.now();
    const out = core.process('bench.quality', 0, batch);
    busy += performance.now() - t;
    for (const r of out.alerts) rows.push(r);
    batch = [];
  };
  for (const e of sim.events()) {
    events++;
    if (attackIds.has(e.id)) attackEvents++;
    batch.push({ key: null, value: Buffer.from(JSON.stringify(e), 'utf8'), offset: String(events), timestamp: '0', headers: {} });
    if (batch.length >= 1000) {
      flush();
      const now = performance.now();
      if (now - lastProgress > 10_000) {
        lastProgress = now;
        process.stderr.write(`${events} events, ${rows.length} alerts (${Math.round(events / ((now - started) / 1000))} events/s incl. simulation)\n`);
      }
    }
  }
  flush();
  const seconds = (performance.now() - started) / 1000;
  const result: QualityResult = {
    path: 'in-process BatchProcessor (same decode/guard/schema/enrich/detectors/policy code as `tokenwatch run`, no Kafka/ClickHouse)',
    simulation: simOpts,
    seconds,
    eventsPerSec: events / (busy / 1000),
    score: score(truth, findingsFromRows(rows), { events, benignEvents: events - attackEvents }, core.activeDetectors),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  process.stderr.write(`done: ${events} events (${events - attackEvents} benign) in ${seconds.toFixed(1)} s, ${rows.length} alert rows\n`);
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    process.stderr.write(`quality failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
