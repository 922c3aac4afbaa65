/**
 * `tokenwatch replay`: the same decode → detectors → policy path as `run`, over an NDJSON file of
 * canonical events, with no service. Writes alerts and revocations as NDJSON (the same fields as
 * the ClickHouse row and the denylist record) — how a user backtests a detector change on last
 * week's logs.
 */
import { createReadStream } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { Config } from '../config/index.js';
import type { Detector } from '../detect/contract.js';
import type { GeoLookup } from '../ingest/enrich.js';
import type { InputFormat } from '../ingest/adapters/index.js';
import type { Logger } from '../telemetry/log.js';
import { Metrics } from '../telemetry/metrics.js';
import { BatchProcessor } from './batch.js';
import { METRICS } from '../telemetry/catalogue.js';

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
  /** what the lines are: `canonical` v1 events or a gateway's log records (default: the first input topic's `TOKENWATCH_INPUT_FORMAT`) */
  format?: InputFormat;
  now?: () => number;
}

function write(out: Writable, line: string): Promise<void> | void {
  if (!out.write(line)) return new Promise((r) => out.once('drain', () => r()));
}

export function openInput(path: string): Readable {
  return path === '-' ? process.stdin : createReadStream(path);
}

/**
 * The lines of a byte stream as Kafka would carry them, one message each: split on LF only (a
 * CRLF's CR dropped), bytes kept as they are (invalid UTF-8 reaches decode like it would from
 * Kafka). U+2028, U+2029 and a bare CR are valid inside a JSON string and do not end a line. The
 * empty piece after a final LF is not a line; any other line, blank or white space, is one (and
 * is dead-lettered `empty`, as `run` does with such a message).
 */
export async function* lines(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let data = rest.length ? Buffer.concat([rest, buf]) : buf;
    let start = 0;
    for (let nl = data.indexOf(0x0a, start); nl >= 0; nl = data.indexOf(0x0a, start)) {
      const end = nl > start && data[nl - 1] === 0x0d ? nl - 1 : nl;
      yield Buffer.from(data.subarray(start, end));
      start = nl + 1;
    }
    rest = Buffer.from(data.subarray(start));
    data = rest;
  }
  if (rest.length) yield rest[rest.length - 1] === 0x0d ? rest.subarray(0, rest.length - 1) : rest;
}

export async function replay(opts: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const metrics = new Metrics();
  const format = opts.format ?? opts.config.topics.inputs[0]?.format ?? 'canonical';
  // the lines are read as the topic "replay" in the chosen format
  const config: Config = { ...opts.config, topics: { ...opts.config.topics, inputs: [{ topic: 'replay', format }] } };
  const core = new BatchProcessor({ config, detectors: opts.detectors, log: opts.log, metrics, geo: opts.geo, now: opts.now });
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
      } else if (r.topic === config.topics.dlq) {
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

  for await (const line of lines(opts.input)) {
    sum.lines++;
    sum.events++;
    // the offset is the line number, so a DLQ record points at its line
    pending.push({ key: null, value: line, offset: String(sum.lines), timestamp: '0', headers: {} });
    if (pending.length >= batchLines) await flush();
  }
  await flush();
  // quarantined events are dead-lettered and still detected on: count what reached the detectors
  sum.events = metrics.value(METRICS.events_total, { stage: 'detected' });
  sum.seconds = (performance.now() - started) / 1000;
  opts.progress?.(
    `replay done: ${sum.lines} lines, ${sum.alerts} alerts, ${sum.revocations} revocations, ${sum.dlq} dead-lettered in ${sum.seconds.toFixed(1)} s`,
  );
  return sum;
}
