/**
 * A consumer that cannot run never looks healthy. Every consumer of the processor (the detect
 * consumer, the re-keying one) reports here: a crash makes the process not ready at once and is
 * counted; a crash the client restarts by itself clears when the consumer is assigned partitions
 * again; a crash it will not restart (or an error retrying cannot help) fails the process, whose
 * command exits non-zero with the cause and the fix in its last log line.
 */
import { describeError, TokenwatchError } from '../../schemas/errors.js';
import type { BusConsumer } from '../io/bus.js';
import { crashFix } from '../io/kafka.js';
import type { Logger } from '../telemetry/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import { METRICS } from '../telemetry/catalogue.js';

export class ConsumerHealth {
  private readonly down = new Set<string>();
  private fail!: (e: TokenwatchError) => void;
  /** rejects with CONSUMER_CRASHED when a consumer is gone for good */
  readonly failed: Promise<never>;
  private dead?: TokenwatchError;

  constructor(
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.failed = new Promise<never>((_, reject) => {
      this.fail = reject;
    });
    this.failed.catch(() => undefined);
  }

  /** Whether every watched consumer is running (none crashed since its last assignment, none dead). */
  get healthy(): boolean {
    return this.down.size === 0 && this.dead === undefined;
  }

  /** Watches one consumer under a bounded role name (a metric label). */
  watch(consumer: BusConsumer, role: string): void {
    consumer.onAssignment(() => {
      if (this.dead) return; // a dead process stays dead: it is exiting
      if (this.down.delete(role)) this.log.info({ consumer: role }, 'consumer running again');
    });
    consumer.onCrash((err, restart) => {
      this.down.add(role);
      this.metrics.inc(METRICS.consumer_crashes_total, {
        consumer: role,
        restart: String(restart),
      });
      const fix = crashFix(err);
      if (restart) {
        this.log.warn({ consumer: role, err: describeError(err), fix }, 'consumer crashed; the Kafka client restarts it (not ready until it is assigned partitions again)');
        return;
      }
      this.fatal(role, err, fix);
    });
  }

  /** Marks the process failed: a consumer is gone and will not come back. */
  fatal(role: string, err: unknown, fix = crashFix(err)): void {
    if (this.dead) return;
    this.dead = new TokenwatchError('CONSUMER_CRASHED', `the ${role} consumer stopped and will not restart: ${describeError(err)} — fix: ${fix}`, { cause: err });
    this.metrics.set(METRICS.consumer_dead, { consumer: role }, 1);
    this.log.fatal({ consumer: role, err: describeError(err), fix }, 'consumer stopped and will not restart; exiting');
    this.fail(this.dead);
  }
}
