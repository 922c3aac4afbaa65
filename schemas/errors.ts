/**
 * The one error catalogue (STYLE habit 8). Codes are never reused; each says whether retrying can
 * help. The consumer loop decides retry / dead-letter / crash from these fields, never from text.
 */

export const ERROR_CODES = {
  /** configuration is invalid: stop start-up */
  CONFIG_INVALID: { retriable: false },
  /** Kafka could not be reached or answered with an error */
  KAFKA_UNAVAILABLE: { retriable: true },
  /** ClickHouse could not be reached or answered with an error */
  CLICKHOUSE_UNAVAILABLE: { retriable: true },
  /** a migration failed: the schema is in an unknown state */
  MIGRATION_FAILED: { retriable: false },
  /** a sink write failed (alerts, denylist, DLQ, changelog) */
  SINK_WRITE_FAILED: { retriable: true },
  /** input could not be decoded: goes to the DLQ */
  INPUT_INVALID: { retriable: false },
  /** a detector threw: a bug; the event goes to the DLQ with this reason */
  DETECTOR_FAILED: { retriable: false },
  /** a command was used wrongly */
  USAGE: { retriable: false },
  /** a compressed record batch could not be encoded or decoded: an outage to surface, not bad input */
  CODEC_FAILED: { retriable: false },
  /** a consumer stopped and its client will not restart it: the process must not look alive */
  CONSUMER_CRASHED: { retriable: false },
  /** a newer producer with the same transactional id took over (a task moved): this one must stop writing */
  PRODUCER_FENCED: { retriable: false },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class TokenwatchError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenwatchError';
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
  }
}

export function isRetriable(err: unknown): boolean {
  if (err instanceof TokenwatchError) return err.retriable;
  return false;
}

/** A short, secret-free description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof TokenwatchError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
