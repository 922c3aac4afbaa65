import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import type { AddressInfo, Server } from 'node:net';
import { pino } from 'pino';
import { FakeBus } from './fake-bus.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { fingerprint } from '../../schemas/fingerprint.js';
import { DenylistStore, createDenylistChecker, serveBridge, toQuery, type DenylistChecker } from '../../src/bridge/index.js';

const T0 = Date.UTC(2026, 10, 30, 10, 0, 0);
const FP = 'tfp1:AAAAAAAAAAAAAAAAAAAAAA';
const KEY = 'shared-tfp1-key-for-tests-0001';

function record(scope: string, id: string, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    v: 1, revocation_id: `rid-${scope}-${id}`, scope, id, tenant: 'acme', subject: 'user-42', reason: 'multi_ip_replay',
    alert_id: 'a1', severity: 'high', revoked_at: new Date(T0).toISOString(), expires_at: new Date(T0 + 600_000).toISOString(), ...over,
  });
}

describe('in-memory denylist', () => {
  it('adds records, lifts them on a tombstone, replaces them on a newer record', () => {
    const s = new DenylistStore();
    expect(s.apply(`token:${FP}`, record('token', FP), T0)).toBe('added');
    expect(s.check({ fps: [FP] }, T0 + 1)).toMatchObject({ allow: false, scope: 'token', revocation_id: `rid-token-${FP}`, reason: 'multi_ip_replay' });
    expect(s.apply(`token:${FP}`, null, T0 + 2)).toBe('removed');
    expect(s.check({ fps: [FP] }, T0 + 3)).toEqual({ allow: true, identifiers: 1 });
    expect(s.apply(`token:${FP}`, null, T0 + 4)).toBe('ignored');
    s.apply(`token:${FP}`, record('token', FP, { revocation_id: 'second' }), T0 + 5);
    expect(s.check({ fps: [FP] }, T0 + 6)).toMatchObject({ allow: false, revocation_id: 'second' });
    expect(s.size).toBe(1);
  });

  it('drops expired entries: on arrival, at the exact expiry on lookup, and on sweep', () => {
    const s = new DenylistStore();
    expect(s.apply(`token:${FP}`, record('token', FP, { expires_at: new Date(T0).toISOString() }), T0)).toBe('expired');
    expect(s.size).toBe(0);
    // an already-expired newer record also ends a live one
    s.apply('family:sess-1', record('family', 'sess-1'), T0);
    expect(s.apply('family:sess-1', record('family', 'sess-1', { expires_at: new Date(T0 - 1).toISOString() }), T0)).toBe('expired');
    expect(s.size).toBe(0);

    s.apply('family:sess-2', record('family', 'sess-2', { expires_at: new Date(T0 + 1_000).toISOString() }), T0);
    expect(s.check({ sids: ['sess-2'] }, T0 + 999).allow).toBe(false);
    expect(s.check({ sids: ['sess-2'] }, T0 + 1_000).allow).toBe(true);
    expect(s.size).toBe(0);
    expect(s.expiredDropped).toBe(1);

    s.apply('api_key:k1', record('api_key', 'k1', { expires_at: new Date(T0 + 5_000).toISOString() }), T0);
    s.apply('api_key:k2', record('api_key', 'k2', { expires_at: new Date(T0 + 50_000).toISOString() }), T0);
    expect(s.sweep(T0 + 4_999)).toBe(0);
    expect(s.sweep(T0 + 5_000)).toBe(1);
    expect(s.countsByScope()).toEqual({ token: 0, family: 0, api_key: 1, subject: 0 });
    expect(s.expiredDropped).toBe(2);
  });

  it('ignores values that are not v1 records of their key', () => {
    const s = new DenylistStore();
    expect(s.apply(`token:${FP}`, 'not json', T0)).toBe('invalid');
    expect(s.apply(`token:${FP}`, JSON.stringify({ v: 2, scope: 'token', id: FP }), T0)).toBe('invalid');
    expect(s.apply('token:other-fingerprint-000', record('token', FP), T0)).toBe('invalid');
    expect(s.apply(`token:${FP}`, record('token', FP, { expires_at: 'soon' }), T0)).toBe('invalid');
    expect(s.apply(null, record('token', FP), T0)).toBe('ignored');
    expect(s.size).toBe(0);
  });

  it('matches sessions, API keys, and subjects by issued-at (not-before)', () => {
    const s = new DenylistStore();
    s.apply('family:sess-42', record('family', 'sess-42'), T0);
    s.apply('api_key:key-7', record('api_key', 'key-7'), T0);
    s.apply('subject:user-9', record('subject', 'user-9'), T0);
    expect(s.check({ sids: ['sess-42'] }, T0)).toMatchObject({ allow: false, scope: 'family' });
    expect(s.check({ keyIds: ['key-7'] }, T0)).toMatchObject({ allow: false, scope: 'api_key' });
    expect(s.check({ keyIds: ['key-8'], sids: ['sess-43'] }, T0)).toEqual({ allow: true, identifiers: 2 });
    // issued before (or in the same second as) the subject's revocation: denied; after: allowed
    expect(s.check({ subs: ['user-9'], iatSec: T0 / 1000 - 60 }, T0)).toMatchObject({ allow: false, scope: 'subject' });
    expect(s.check({ subs: ['user-9'], iatSec: T0 / 1000 }, T0)).toMatchObject({ allow: false });
    expect(s.check({ subs: ['user-9'], iatSec: T0 / 1000 + 1 }, T0).allow).toBe(true);
    expect(s.check({ subs: ['user-9'] }, T0).allow).toBe(true);
    expect(s.check({}, T0)).toEqual({ allow: true, identifiers: 0 });
  });

  it('denies when any identifier is revoked, so an extra header cannot rescue a revoked credential', () => {
    const s = new DenylistStore();
    s.apply(`token:${FP}`, record('token', FP), T0);
    expect(s.check({ fps: ['tfp1:BBBBBBBBBBBBBBBBBBBBBB', FP], sids: ['fresh'] }, T0).allow).toBe(false);
  });
});

describe('request → identifiers', () => {
  it('fingerprints Authorization and X-API-Key with the tfp1 key (scheme stripped) and never returns them', () => {
    const q = toQuery({ authorization: 'Bearer abc.def.ghi', apiKey: 'sk_test_123' }, KEY);
    expect(q.fps).toEqual([fingerprint('abc.def.ghi', KEY), fingerprint('sk_test_123', KEY)]);
    expect(JSON.stringify(q)).not.toContain('abc.def.ghi');
    expect(q.unfingerprinted).toBe(0);
  });

  it('without a key, raw credentials are counted and skipped; gateway fingerprints still count', () => {
    const q = toQuery({ authorization: 'Bearer abc', fp: FP }, undefined);
    expect(q.fps).toEqual([FP]);
    expect(q.unfingerprinted).toBe(1);
  });

  it('splits joined header values and takes the earliest issued-at', () => {
    const q = toQuery({ fp: [`tfp1:XXXXXXXXXXXXXXXXXXXXXX, ${FP}`], sid: 'a, b', iat: ['1900000000, 1700000000', 'junk'] }, undefined);
    expect(q.fps).toContain(FP);
    expect(q.sids).toEqual(['a, b', 'a', 'b']);
    expect(q.iatSec).toBe(1_700_000_000);
    expect(toQuery({ iat: 'soon' }, undefined).iatSec).toBeUndefined();
    expect(toQuery({ authorization: 'Bearer ' }, KEY).fps).toEqual([]);
  });
});

const quiet = pino({ level: 'silent' });
let checker: DenylistChecker | undefined;
let server: Server | undefined;
afterEach(async () => {
  server?.close();
  server = undefined;
  await checker?.close();
  checker = undefined;
});

const tick = () => new Promise((r) => setTimeout(r, 20));

describe('denylist checker over a bus', () => {
  it('is ready only once the existing records are applied; then follows tombstones and expiry', async () => {
    const bus = new FakeBus();
    bus.append(0, `token:${FP}`, record('token', FP));
    bus.append(1, 'family:sess-1', record('family', 'sess-1', { expires_at: new Date(T0 + 2_000).toISOString() }));
    let now = T0;
    const metrics = new Metrics();
    checker = createDenylistChecker({ brokers: [], bus, topic: 't', fpKey: KEY, log: quiet, metrics, now: () => now, sweepIntervalMs: 10 });
    await tick();
    expect(checker.isReady()).toBe(false);
    expect(bus.ensured).toEqual(['t']);
    await bus.flush();
    await checker.ready;
    expect(checker.isReady()).toBe(true);
    expect(metrics.value('tokenwatch_bridge_ready')).toBe(1);
    expect(checker.check({ fp: FP })).toMatchObject({ allow: false, scope: 'token' });
    expect(checker.check({ sid: 'sess-1' })).toMatchObject({ allow: false, scope: 'family' });

    bus.append(0, `token:${FP}`, null);
    await bus.flush();
    expect(checker.check({ fp: FP }).allow).toBe(true);

    now = T0 + 2_000;
    await tick();
    expect(checker.size).toBe(0);
    expect(metrics.value('tokenwatch_bridge_expired_total')).toBe(1);
    expect(metrics.value('tokenwatch_bridge_entries', { scope: 'family' })).toBe(0);
    expect(metrics.value('tokenwatch_bridge_records_total', { outcome: 'removed' })).toBe(1);
    expect(metrics.value('tokenwatch_bridge_checks_total', { result: 'deny' })).toBe(2);
  });

  it('an empty topic is caught up at once; a tail that delivers nothing (markers) after an idle pause', async () => {
    const empty = new FakeBus();
    checker = createDenylistChecker({ brokers: [], bus: empty, topic: 't', log: quiet });
    await checker.ready;
    await checker.close();

    const bus = new FakeBus();
    bus.append(2, `token:${FP}`, record('token', FP));
    bus.hidden = 1; // the end offset is one past the last record: a commit marker
    checker = createDenylistChecker({ brokers: [], bus, topic: 't', log: quiet, now: () => T0 });
    await tick();
    await bus.flush();
    await tick();
    expect(checker.isReady()).toBe(false);
    const t = Date.now();
    await checker.ready;
    expect(Date.now() - t).toBeGreaterThan(1_000);
    expect(checker.check({ fp: FP }).allow).toBe(false);
  });

  it('rejects a short fp key without showing it', () => {
    expect(() => createDenylistChecker({ brokers: [], bus: new FakeBus(), fpKey: 'short' })).toThrow(/at least 16 bytes/);
  });
});

describe('bridge HTTP server', () => {
  async function start(lines: string[]) {
    const bus = new FakeBus();
    const bearer = 'opaque-access-token-value-123456';
    bus.append(0, `token:${fingerprint(bearer, KEY)}`, record('token', fingerprint(bearer, KEY)));
    bus.append(1, 'family:sess-1', record('family', 'sess-1'));
    const log = pino({ level: 'debug' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const metrics = new Metrics();
    checker = createDenylistChecker({ brokers: [], bus, topic: 't', fpKey: KEY, log, metrics, now: () => T0 });
    server = await serveBridge({ checker, host: '127.0.0.1', port: 0, metrics, log });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { bus, bearer, url };
  }

  it('fails closed until caught up, then 204 / 403 for auth_request and 200 / 403 for ext_authz', async () => {
    const lines: string[] = [];
    const { bus, bearer, url } = await start(lines);
    expect((await fetch(`${url}/v1/check`)).status).toBe(503);
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await tick();
    await bus.flush();
    await checker!.ready;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    expect((await fetch(`${url}/v1/check`, { headers: { authorization: 'Bearer some-other-token-000000' } })).status).toBe(204);
    const denied = await fetch(`${url}/v1/check`, { headers: { authorization: `Bearer ${bearer}` } });
    expect(denied.status).toBe(403);
    const body = (await denied.json()) as { revocation_id: string };
    expect(body).toEqual({ revocation_id: `rid-token-${fingerprint(bearer, KEY)}`, scope: 'token', reason: 'multi_ip_replay' });
    expect(denied.headers.get('x-tokenwatch-revocation-id')).toBe(body.revocation_id);
    expect(denied.headers.get('x-tokenwatch-scope')).toBe('token');
    expect((await fetch(`${url}/v1/check`, { headers: { 'x-api-key': bearer } })).status).toBe(403);
    expect((await fetch(`${url}/v1/check`, { headers: { 'x-tokenwatch-sid': 'sess-1' } })).status).toBe(403);
    expect((await fetch(`${url}/v1/check`, { method: 'POST', body: 'ignored', headers: { 'x-tokenwatch-fp': fingerprint(bearer, KEY) } })).status).toBe(403);

    expect((await fetch(`${url}/v1/ext_authz/orders/17?x=1`, { headers: { 'x-tokenwatch-sid': 'sess-2' } })).status).toBe(200);
    expect((await fetch(`${url}/v1/ext_authz/orders/17`, { headers: { 'x-tokenwatch-sid': 'sess-1' } })).status).toBe(403);
    expect((await fetch(`${url}/v1/nope`)).status).toBe(404);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/tokenwatch_bridge_checks_total\{result="deny"\} 5/);
    expect(metrics).toMatch(/tokenwatch_bridge_checks_total\{result="not_ready"\} 1/);
    expect(metrics).toMatch(/tokenwatch_bridge_entries\{scope="token"\} 1/);
    expect(lines.join('')).toContain('denied a revoked credential');
    expect(lines.join('')).not.toContain(bearer);
  });
});
