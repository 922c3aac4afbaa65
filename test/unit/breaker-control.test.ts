import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { BreakerState } from '../../src/respond/policy.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import {
  BREAKER_CONTROL_KEY,
  BreakerControl,
  breakerOpenRecord,
  breakerResetRecord,
  breakerResetRow,
  parseBreakerRecord,
  type ControllableBreaker,
} from '../../src/respond/breaker-control.js';
import { FakeBus } from './fake-bus.js';

class FakeBreaker implements ControllableBreaker {
  status: BreakerState = { open: false };
  reset(): void {
    this.status = { open: false };
  }
  restore(s: BreakerState): void {
    this.status = { ...s };
  }
}

const T0 = Date.UTC(2026, 10, 30, 10, 0, 0);
const log = pino({ level: 'silent' });
const open = (atMs: number, untilMs: number | null) =>
  parseBreakerRecord(breakerOpenRecord('ctl', { scope: 'tenant', tenant: 'acme', count: 31, limit: 30, atMs, untilMs }, 'tenant acme: more than 30 revocations/min').value);
const closed = (atMs: number) => parseBreakerRecord(breakerResetRecord('ctl', 'alice', 'false positives cleared', atMs).value);

function control(now: number) {
  const breaker = new FakeBreaker();
  const metrics = new Metrics();
  const c = new BreakerControl({ bus: new FakeBus(), topic: 'ctl', breaker, log, metrics, now: () => now });
  return { breaker, metrics, c };
}

describe('breaker control records', () => {
  it('round-trip: open carries the trip and cool-down end, closed the actor', () => {
    expect(open(T0, T0 + 600_000)).toMatchObject({ v: 1, type: 'breaker', state: 'open', at: new Date(T0).toISOString(), until: new Date(T0 + 600_000).toISOString(), trip: { scope: 'tenant', tenant: 'acme', count: 31, limit: 30 } });
    expect(open(T0, null)!.until).toBeNull();
    expect(closed(T0)).toMatchObject({ state: 'closed', actor: 'alice', reason: 'false positives cleared' });
    expect(breakerResetRecord('ctl', 'a', 'b', T0).key).toBe(BREAKER_CONTROL_KEY);
    expect(parseBreakerRecord('{"v":1,"type":"breaker","state":"half","at":"2026-11-30T10:00:00Z"}')).toBeUndefined();
    expect(parseBreakerRecord('nope')).toBeUndefined();
    expect(parseBreakerRecord(null)).toBeUndefined();
  });

  it('the reset row is an audit alert naming who and why', () => {
    const row = breakerResetRow('alice', 'false positives cleared', T0, open(T0 - 60_000, null));
    expect(row).toMatchObject({ detector: 'breaker_reset', action: 'alert', severity: 'medium', tenant: 'acme' });
    expect(row.summary).toMatch(/reset by alice: false positives cleared/);
    expect(JSON.parse(row.evidence).previous.state).toBe('open');
  });
});

describe('applying the control topic to a breaker', () => {
  it('an open record opens the breaker (until reset or until the cool-down end); a later reset closes it', () => {
    const { breaker, metrics, c } = control(T0 + 1_000);
    c.apply(open(T0, T0 + 600_000));
    expect(breaker.status).toMatchObject({ open: true, openedAtMs: T0, untilMs: T0 + 600_000 });
    expect(metrics.value('tokenwatch_breaker_open')).toBe(1);
    c.apply(closed(T0 + 5_000));
    expect(breaker.status.open).toBe(false);
    expect(metrics.value('tokenwatch_breaker_open')).toBe(0);
  });

  it('an open record whose cool-down already ended is ignored', () => {
    const { breaker, c } = control(T0 + 700_000);
    c.apply(open(T0, T0 + 600_000));
    expect(breaker.status.open).toBe(false);
    c.apply(open(T0, null));
    expect(breaker.status.open).toBe(true);
  });

  it('order-safe: a reset older than the trip does not close it; an open older than the last reset is ignored', () => {
    const a = control(T0 + 10_000);
    a.c.apply(closed(T0));
    a.c.apply(open(T0 - 1_000, null));
    expect(a.breaker.status.open).toBe(false);

    const b = control(T0 + 10_000);
    b.breaker.restore({ open: true, openedAtMs: T0 + 5_000, untilMs: null, reason: 'local trip' });
    b.c.apply(closed(T0));
    expect(b.breaker.status.open).toBe(true);
  });

  it('start() creates the compacted topic, restores the latest state from it, then keeps following', async () => {
    const bus = new FakeBus();
    bus.append(0, BREAKER_CONTROL_KEY, breakerOpenRecord('ctl', { scope: 'global', count: 101, limit: 100, atMs: Date.now() - 1_000, untilMs: null }, 'more than 100 revocations/min').value);
    const breaker = new FakeBreaker();
    const c = new BreakerControl({ bus, topic: 'ctl', breaker, log });
    const started = c.start();
    await new Promise((r) => setTimeout(r, 20));
    await bus.flush();
    await started;
    expect(bus.ensured).toEqual(['ctl']);
    expect(breaker.status).toMatchObject({ open: true, untilMs: null, reason: 'more than 100 revocations/min' });
    bus.append(0, BREAKER_CONTROL_KEY, breakerResetRecord('ctl', 'alice', 'ok', Date.now()).value);
    await bus.flush();
    expect(breaker.status.open).toBe(false);
    await c.stop();
  });
});
