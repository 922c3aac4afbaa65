/**
 * Bench child: detector-state heap per tracked credential. Feeds K distinct credentials (90 %
 * access tokens with their own user and session, 10 % API keys; two requests each, 60 s apart,
 * all within two minutes of event time so no state expires) through `BatchProcessor` — the engine
 * `tokenwatch run` uses — and compares heapUsed after full GCs before and after. The per-detector
 * key cap is lifted so nothing is evicted. Must run with --expose-gc; prints one JSON line.
 *
 *   node --expose-gc --import tsx bench/memory.ts --credentials 200000
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
import { BenignTraffic } from './traffic.js';

export interface MemoryResult {
  credentials: number;
  tokens: number;
  apiKeys: number;
  events: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  heapBytesPerCredential: number;
  keysByDetector: Record<string, number>;
  heapBytesPerStateKey: number;
  evictedByCap: number;
  evictedByTime: number;
  seconds: number;
  maxRssBytes: number;
}

function fullGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('bench/memory.ts needs node --expose-gc');
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { credentials: { type: 'string', default: '200000' } } });
  const K = Number(values.credentials);
  const apiKeys = Math.round(K * 0.1);
  const tokens = K - apiKeys;
  const config = loadConfig(detectors, { ...process.env, LOG_LEVEL: 'silent', TOKENWATCH_MAX_KEYS_PER_DETECTOR: '100000000' });
  let geo: GeoLookup | undefined;
  try {
    geo = await openGeoLookup(config.geoip);
  } catch {
    geo = undefined;
  }
  const core = new BatchProcessor({ config, detectors, log: createLogger({ level: 'silent' }), metrics: new Metrics(), geo });
  const engine = core.engine('bench.memory', 0);
  const t0 = Date.parse('2026-11-30T12:00:00.000Z');
  // warm-up on credentials of their own (compiles the hot paths, sizes the hidden classes)
  const warm = new BenignTraffic({ tokens: 500, keys: 50, keyShare: 0.1, tenants: 5, idPrefix: 'mem-warm' });
  const warmBatch: BusMessage[] = [];
  for (let i = 0; i < 2000; i++) warmBatch.push({ key: null, value: Buffer.from(warm.next(t0 - 120_000 + i).value), offset: String(i), timestamp: '0', headers: {} });
  core.process('bench.memory', 0, warmBatch);
  const keysBefore = Object.values(engine.keyCounts()).reduce((a, b) => a + b, 0);
  const before = fullGc();

  const traffic = new BenignTraffic({ tokens, keys: apiKeys, keyShare: 0, tenants: 5, idPrefix: 'mem' });
  const started = performance.now();
  let events = 0;
  let batch: BusMessage[] = [];
  const flush = () => {
    core.process('bench.memory', 0, batch);
    batch = [];
  };
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < K; i++) {
      const ts = t0 + pass * 60_000 + Math.floor((i * 60_000) / K);
      const r = i < tokens ? traffic.tokenEvent(i, ts) : traffic.keyEvent(i - tokens, ts);
      batch.push({ key: r.key, value: Buffer.from(r.value), offset: String(events++), timestamp: '0', headers: {} });
      if (batch.length >= 1000) flush();
    }
    process.stderr.write(`pass ${pass + 1}/2: ${K} credentials\n`);
  }
  flush();
  const seconds = (performance.now() - started) / 1000;
  const after = fullGc();
  const keysByDetector = engine.keyCounts();
  const keys = Object.values(keysByDetector).reduce((a, b) => a + b, 0) - keysBefore;
  const result: MemoryResult = {
    credentials: K,
    tokens,
    apiKeys,
    events,
    heapBeforeBytes: before,
    heapAfterBytes: after,
    heapBytesPerCredential: (after - before) / K,
    keysByDetector,
    heapBytesPerStateKey: keys > 0 ? (after - before) / keys : 0,
    evictedByCap: engine.stats.evictedByCap,
    evictedByTime: engine.stats.evictedByTime,
    seconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  process.stderr.write(`memory failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
