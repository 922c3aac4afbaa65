/** Test double: a Bus over one in-memory topic, enough for followers (bridge, breaker control). */
import type { BusBatch, BusConsumer, BusMessage } from '../../src/io/bus.js';
import type { CheckerBus } from '../../src/bridge/checker.js';

/** A Bus over one in-memory topic: enough for the follower and the checker. */
export class FakeBus implements CheckerBus {
  readonly log = new Map<number, BusMessage[]>([[0, []], [1, []], [2, []]]);
  /** offsets that exist but are never delivered (transaction markers) */
  hidden = 0;
  private onBatch?: (b: BusBatch) => Promise<void>;
  private readonly delivered = new Map<number, number>();
  ensured: string[] = [];

  append(partition: number, key: string, value: string | null, ts = Date.now()): void {
    const l = this.log.get(partition)!;
    l.push({ key, value: value === null ? null : Buffer.from(value), offset: String(l.length + this.hidden), timestamp: String(ts), headers: {} });
  }

  /** Delivers what was appended since the last flush; waits (up to 5 s) for the consumer to subscribe. */
  async flush(): Promise<void> {
    for (let waited = 0; !this.onBatch && waited < 5_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    if (!this.onBatch) return;
    for (const [p, l] of this.log) {
      const from = this.delivered.get(p) ?? 0;
      if (from >= l.length) continue;
      this.delivered.set(p, l.length);
      await this.onBatch({
        topic: 't', partition: p, messages: l.slice(from), highWatermark: String(l.length + this.hidden),
        heartbeat: async () => undefined, isRunning: () => true, isStale: () => false, defer: () => undefined,
      });
    }
  }

  async ping() {}
  async ensureTopics(specs: Array<{ topic: string }>) {
    this.ensured.push(...specs.map((s) => s.topic));
  }
  consumer(): BusConsumer {
    const assigned: Array<(a: Array<{ topic: string; partition: number }>, info: { memberId: string }) => void> = [];
    return {
      run: async (_topics, _fromBeginning, onBatch) => {
        this.onBatch = onBatch;
        for (const cb of assigned) cb([0, 1, 2].map((partition) => ({ topic: 't', partition })), { memberId: 'fake' });
      },
      commit: async () => undefined,
      onAssignment: (cb) => assigned.push(cb),
      onCrash: () => undefined,
      onRebalancing: () => undefined,
      pause: () => undefined,
      resume: () => undefined,
      seek: () => undefined,
      stop: async () => {
        this.onBatch = undefined;
      },
    };
  }
  async endOffsets() {
    return Object.fromEntries([...this.log].map(([p, l]) => [p, String(l.length ? l.length + this.hidden : 0)]));
  }
  async close() {}
}

