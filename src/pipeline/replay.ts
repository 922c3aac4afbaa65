/**
 * `tokenwatch replay`: the same decode → detectors → policy path as `run`, over an NDJSON file of
 * canonical events, with no service. Writes alerts and revocations as NDJSON (the same fields as
 * the ClickHouse row and the denylist record) — how a user backtests a detector change on last
 * week's logs.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Config } from '../config/index.js';
import type { Detector } from '../detect/contract.js';
import type { GeoLookup } from '../ingest/enrich.js';
import type { Logger } from '../telemetry/log.js';
import { Metrics } from '../telemetry/metrics.js';
import { BatchProcessor } from './batch.js';

export interface ReplaySummary {
  lines: number;
  events: number;
  dlq: number;
  alerts: number;
  revocations: number;
  dlqByReason: Record<string, number>;
  seconds: number;
}

export interface ReplayOptions {
  config: Config;
  detectors: readonly Detector[];
  log: Logger;
  geo?: GeoLookup;
  input: Readable;
  output: Writable;
  /** progress lines go here (stderr by default); undefined = quiet */
  progress?: (line: string) => void;
  /** lines per processing batch */
  batchLines?: number;
  now?: () => number;
}

function write(out: Writable, line: string): Promise<void> | void {
  if (!out.write(line)) return new Promise((r) => out.once('drain', () => r()));
}

export function openInput(path: string): Readable {
  return path === '-' ? process.stdin : createReadStream(path);
}

export async function replay(opts: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const metrics = new Metrics();
  const core = new BatchProcessor({ config: opts.config, detectors: opts.detectors, log: opts.log, metrics, geo: opts.geo, now: opts.now });
  const rl = createInterface({ input: opts.input, crlfDelay: Infinity });
  const batchLines = opts.batchLines ?? 1000;
  const sum: ReplaySummary = { lines: 0, events: 0, dlq: 0, alerts: 0, revocations: 0, dlqByReason: {}, seconds: 0 };
  let pending: Array<{ key: null; value: Buffer; offset: string; timestamp: string; headers: Record<string, string> }> = [];
  let lastProgress = performance.now();

  const flush = async () => {
    if (pending.length === 0) return;
    const out = core.process('replay', 0, pending);
    pending = [];
    for (const row of out.alerts) {
      sum.alerts++;
      await write(opts.output, JSON.stringify({ type: 'alert', ...row }) + '\n');
    }
    for (const r of out.records) {
      if (r.topic === opts.config.topics.denylist) {
        sum.revocations++;
        await write(opts.output, JSON.stringify({ type: 'revocation', key: r.key, ...JSON.parse(r.value ?? 'null') }) + '\n');
      } else {
        const reason = JSON.parse(r.value ?? '{}').reason as string;
        sum.dlqByReason[reason] = (sum.dlqByReason[reason] ?? 0) + 1;
        sum.dlq++;
        await write(opts.output, JSON.stringify({ type: 'dlq', key: r.key, ...JSON.parse(r.value ?? 'null') }) + '\n');
      }
    }
    const now = performance.now();
    if (opts.progress && now - lastProgress > 1000) {
      lastProgress = now;
      const s = (now - started) / 1000;
      opts.progress(`replay: ${sum.lines} lines, ${sum.alerts} alerts, ${sum.revocations} revocations, ${sum.dlq} dead-lettered (${Math.round(sum.lines / s)} lines/s)`);
    }
  };

  for await (const line of rl) {
    sum.lines++;
    if (line.trim() === '') continue;
    sum.events++;
    pending.push({ key: null, value: Buffer.from(line, 'utf8'), offset: String(sum.lines), timestamp: '0', headers: {} });
    if (pending.length >= batchLines) await flush();
  }
  await flush();
  sum.events -= sum.dlq;
  sum.seconds = (performance.now() - started) / 1000;
  opts.progress?.(
    `replay done: ${sum.lines} lines, ${sum.alerts} alerts, ${sum.revocations} revocations, ${sum.dlq} dead-lettered in ${sum.seconds.toFixed(1)} s`,
  );
  return sum;
}
