/**
 * Follows a (compacted) topic from its beginning into memory, through our Bus interface: a
 * consumer group of its own per process, no offset commits, so every start reads the whole topic
 * again and every instance sees every partition. "Caught up" means every partition was read to the
 * end it had when following started.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Bus, BusConsumer, BusMessage } from './bus.js';
import type { Logger } from '../telemetry/log.js';
import { describeError } from '../../schemas/errors.js';

/** The part of the Bus a follower uses. */
export type FollowerBus = Pick<Bus, 'consumer' | 'endOffsets'>;

export interface FollowerOptions {
  bus: FollowerBus;
  topic: string;
  /** prefix of the private consumer group (a unique suffix is added) */
  groupPrefix: string;
  /** consumer group session timeout and heartbeat, ms (the client's defaults when absent) */
  group?: { sessionTimeoutMs: number; heartbeatMs: number };
  log: Logger;
  /** called for every record in offset order per partition */
  onMessage(m: BusMessage, partition: number): void;
  /**
   * After the group join, this long without a record counts as caught up: the tail of a partition
   * can hold nothing deliverable (transaction markers, records removed by compaction). Default 1500.
   */
  idleCatchUpMs?: number;
  /** told of every consumer crash (`restart`: whether the client restarts the consumer itself) */
  onCrash?(err: Error, restart: boolean): void;
}

export class TopicFollower {
  private consumer?: BusConsumer;
  private pending = new Map<number, bigint>();
  private readonly highs = new Map<number, bigint>();
  private readonly next = new Map<number, bigint>();
  private joinedAt = 0;
  private lastActivity = 0;
  private idleTimer?: NodeJS.Timeout;
  private caught = false;
  private stopped = false;
  /** the crash that ended following (the client will not restart the consumer) */
  private deadBy?: Error;
  /** crashed, waiting for the client's restart to be assigned partitions again */
  private restarting = false;
  private resolveCaughtUp!: () => void;
  private rejectCaughtUp!: (e: unknown) => void;
  /** resolves once caught up; rejects when following cannot start */
  readonly caughtUp: Promise<void>;
  readonly groupId: string;

  constructor(private readonly opts: FollowerOptions) {
    this.groupId = `${opts.groupPrefix}.${hostname()}.${process.pid}.${randomBytes(4).toString('hex')}`;
    this.caughtUp = new Promise<void>((resolve, reject) => {
      this.resolveCaughtUp = resolve;
      this.rejectCaughtUp = reject;
    });
    this.caughtUp.catch(() => undefined);
  }

  isCaughtUp(): boolean {
    return this.caught;
  }

  /** Whether the follower is still reading: not crashed since its last assignment, not dead. */
  isAlive(): boolean {
    return !this.restarting && this.deadBy === undefined && !this.stopped;
  }

  /** The crash that ended following, if any. */
  get dead(): Error | undefined {
    return this.deadBy;
  }

  /** Messages behind the partitions' high watermarks, as last seen. */
  lag(): number {
    let n = 0n;
    for (const [p, high] of this.highs) {
      const d = high - (this.next.get(p) ?? 0n);
      if (d > 0n) n += d;
    }
    return Number(n);
  }

  /** Starts following; resolves once consuming (not once caught up: await `caughtUp` for that). */
  async start(): Promise<void> {
    const { bus, topic, log } = this.opts;
    try {
      const ends = await bus.endOffsets(topic);
      for (const [p, high] of Object.entries(ends)) {
        this.highs.set(Number(p), BigInt(high));
        if (BigInt(high) > 0n) this.pending.set(Number(p), BigInt(high));
      }
      const consumer = bus.consumer(this.groupId, { maxWaitMs: 100, ...this.opts.group });
      this.consumer = consumer;
      consumer.onAssignment(() => {
        this.restarting = false;
        this.joinedAt = Date.now();
        this.lastActivity = this.joinedAt;
        if (this.pending.size === 0) this.markCaughtUp('empty');
      });
      consumer.onCrash((err, restart) => {
        log.error({ err: describeError(err), restart, topic }, 'follower consumer crashed');
        this.opts.onCrash?.(err, restart);
        if (restart) {
          this.restarting = true;
          return;
        }
        this.deadBy = err;
        if (!this.caught) this.rejectCaughtUp(err);
      });
      const idleMs = this.opts.idleCatchUpMs ?? 1_500;
      this.idleTimer = setInterval(() => {
        if (!this.caught && this.joinedAt && Date.now() - this.lastActivity > idleMs) this.markCaughtUp('idle');
      }, 100);
      this.idleTimer.unref();
      await consumer.run([topic], true, async (b) => {
        this.lastActivity = Date.now();
        for (const m of b.messages) this.opts.onMessage(m, b.partition);
        const last = b.messages[b.messages.length - 1];
        if (!last) return;
        const next = BigInt(last.offset) + 1n;
        this.next.set(b.partition, next);
        this.highs.set(b.partition, BigInt(b.highWatermark));
        const target = this.pending.get(b.partition);
        if (target !== undefined && next >= target) {
          this.pending.delete(b.partition);
          if (this.pending.size === 0) this.markCaughtUp('end');
        }
      });
    } catch (e) {
      this.rejectCaughtUp(e);
      throw e;
    }
  }

  private markCaughtUp(how: 'empty' | 'end' | 'idle'): void {
    if (this.caught || this.stopped) return;
    this.caught = true;
    this.opts.log.info({ topic: this.opts.topic, how, partitions: this.highs.size }, 'caught up with the topic');
    this.resolveCaughtUp();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    await this.consumer?.stop().catch(() => undefined);
  }
}
