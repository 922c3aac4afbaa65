/**
 * The pipeline's one retry policy. A sink write (alert rows, denylist / DLQ records, the state
 * transaction, the repartition forward) is retried with exponential backoff — 200 ms doubling to
 * 10 s — while its partition waits, so the committed offset never passes unwritten work. Whether
 * retrying can help is the error catalogue's `retriable` (schemas/errors.ts), never the message
 * text. Once shutting down, a write gives up after 3 attempts so SIGTERM cannot hang; its offsets
 * stay uncommitted and the work is replayed by the next owner.
 */
import { describeError, isRetriable } from '../../schemas/errors.js';
import type { Logger } from '../telemetry/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import { METRICS } from '../telemetry/catalogue.js';

export const RETRY_INITIAL_MS = 200;
export const RETRY_MAX_MS = 10_000;
/** attempts a write still gets once the processor is stopping */
export const RETRY_ATTEMPTS_WHEN_STOPPING = 3;

export interface RetryOptions {
  log: Logger;
  metrics: Metrics;
  /** true once shutting down */
  stopping?: () => boolean;
  /** keeps the consumer's group membership alive between attempts */
  heartbeat?: () => Promise<void>;
  /** extra, secret-free fields for the warning */
  context?: Record<string, unknown>;
  /** the warning logged per failed attempt */
  message?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `write` until it succeeds; rethrows an error that is not retriable. */
export async function retrySink(sink: string, write: () => Promise<void>, opts: RetryOptions): Promise<void> {
  const { log, metrics } = opts;
  let delay = RETRY_INITIAL_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      if (attempt > 1) log.info({ sink, attempts: attempt }, 'sink recovered');
      return;
    } catch (e) {
      metrics.inc(METRICS.sink_errors_total, { sink });
      if (!isRetriable(e)) throw e;
      if (opts.stopping?.() && attempt >= RETRY_ATTEMPTS_WHEN_STOPPING) throw e;
      log.warn({ sink, attempt, ...opts.context, err: describeError(e), retryInMs: delay }, opts.message ?? 'sink write failed; partition paused, retrying');
      await sleep(delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
      if (opts.heartbeat) {
        try {
          await opts.heartbeat();
        } catch (hb) {
          log.warn({ err: describeError(hb) }, 'heartbeat failed while retrying a sink');
        }
      }
    }
  }
}
