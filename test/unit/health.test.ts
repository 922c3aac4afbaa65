/**
 * A consumer that cannot run never looks healthy (src/pipeline/health.ts): a crash the client
 * restarts makes the process not ready until the consumer is assigned again; a crash it will not
 * restart — kafkajs' "LZ4 compression not implemented" is the one users met — fails the process
 * with the cause and the fix, counts it, and marks the consumer dead.
 */
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ConsumerHealth } from '../../src/pipeline/health.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { METRICS } from '../../src/telemetry/catalogue.js';
import type { BusConsumer } from '../../src/io/bus.js';

function fakeConsumer() {
  const assigned: Array<(a: Array<{ topic: string; partition: number }>) => void> = [];
  const crashed: Array<(e: Error, restart: boolean) => void> = [];
  const c = {
    onAssignment: (cb: (typeof assigned)[number]) => assigned.push(cb),
    onCrash: (cb: (typeof crashed)[number]) => crashed.push(cb),
  } as unknown as BusConsumer;
  return { c, assign: () => assigned.forEach((cb) => cb([{ topic: 'in', partition: 0 }])), crash: (e: Error, r: boolean) => crashed.forEach((cb) => cb(e, r)) };
}

function setup() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (chunk, _e, done) => (lines.push(JSON.parse(String(chunk)) as Record<string, unknown>), done()) });
  const metrics = new Metrics();
  const health = new ConsumerHealth(pino({ level: 'info' }, sink), metrics);
  return { lines, metrics, health };
}

describe('consumer health', () => {
  it('a crash the client restarts: not ready at once, counted, ready again once assigned', () => {
    const { metrics, health } = setup();
    const f = fakeConsumer();
    health.watch(f.c, 'detect');
    expect(health.healthy).toBe(true);
    const e = Object.assign(new Error('Connection timeout'), { name: 'KafkaJSConnectionError' });
    f.crash(e, true);
    expect(health.healthy).toBe(false);
    expect(metrics.value(METRICS.consumer_crashes_total, { consumer: 'detect', restart: 'true' })).toBe(1);
    f.assign();
    expect(health.healthy).toBe(true);
  });

  it('a crash it will not restart fails the process with the cause and the codec fix', async () => {
    const { lines, metrics, health } = setup();
    const f = fakeConsumer();
    health.watch(f.c, 'detect');
    const e = Object.assign(new Error('LZ4 compression not implemented'), { name: 'KafkaJSNotImplemented' });
    f.crash(e, false);
    expect(health.healthy).toBe(false);
    f.assign(); // a dead consumer stays dead
    expect(health.healthy).toBe(false);
    await expect(health.failed).rejects.toMatchObject({ code: 'CONSUMER_CRASHED', message: expect.stringMatching(/LZ4 compression not implemented — fix: .*compression codec/) });
    expect(metrics.value(METRICS.consumer_crashes_total, { consumer: 'detect', restart: 'false' })).toBe(1);
    expect(metrics.value(METRICS.consumer_dead, { consumer: 'detect' })).toBe(1);
    expect(lines.map((l) => l.msg)).not.toContain('consumer running again');
    const last = lines.at(-1)!;
    expect(last).toMatchObject({ level: 60, consumer: 'detect', msg: 'consumer stopped and will not restart; exiting' });
    expect(String(last.fix)).toMatch(/gzip, snappy, lz4 and zstd/);
  });
});
