/**
 * HAProxy cases: objects as the recommended `log-format "%{+json}o %(name)…"` writes them
 * (README.md; named items become keys, numeric aliases such as %ST stay numbers), fake values.
 */
import type { AdapterCase } from '../types.js';

const FP = 'tfp1:GG_BChrFsyKpnRIW_qCa_c';
const T0 = Date.UTC(2026, 10, 30, 10, 0, 0, 42);

const base = {
  request_id: '1c7b3a9e-0d4f-4b6a-8e2c-5f9a0b1c2d3e',
  time_ms: T0,
  client_ip: '203.0.113.7',
  method: 'GET',
  path: '/v1/orders/42',
  status: 200,
  host: 'api.example.com',
  user_agent: 'okhttp/4.12.0',
  frontend: 'api',
  backend: 'orders',
  hostname: 'lb-1',
  tw_fp: FP,
  tw_cred_type: 'api_key',
  tw_sub: '-',
  tw_sid: '-',
  tw_client_id: '-',
  tw_key_id: 'key-7f3a',
  tw_jti: '-',
  tw_exp: '-',
  tw_tenant: 'acme',
  tw_route: '-',
  tw_issued_fp: '-',
  tw_issued_access_fp: '-',
};

export const cases: AdapterCase[] = [
  {
    name: 'recommended log-format: every field mapped, unset txn vars ("-") absent',
    record: base,
    expect: {
      event: {
        v: 1,
        id: '1c7b3a9e-0d4f-4b6a-8e2c-5f9a0b1c2d3e',
        ts: T0,
        ip: '203.0.113.7',
        method: 'GET',
        route: '/v1/orders/42',
        status: 200,
        gateway: 'haproxy',
        tenant: 'acme',
        ua: 'okhttp/4.12.0',
        cred: { type: 'api_key', fp: FP, key_id: 'key-7f3a' },
      },
    },
  },
  {
    name: 'older format with %(ts)Ts and %(ms)ms instead of request_date(ms)',
    record: { ...base, time_ms: undefined, ts: 1796032800, ms: '042' },
    expect: { event: { ts: T0 } },
  },
  {
    name: 'values forced to strings (%(status:str)ST), tw_route set, empty-string vars absent',
    record: { ...base, status: '404', tw_route: '/v1/orders/{id}', tw_key_id: '', tw_cred_type: '' },
    expect: { event: { status: 404, route: '/v1/orders/{id}', cred: { type: 'access_token', fp: FP } } },
  },
  {
    name: 'null for an absent sample in JSON encoding; no unique-id-format: deterministic id',
    record: { ...base, request_id: null, tw_key_id: null },
    expect: { event: { id: 'kafka:gateway.access-logs:3:1042', cred: { type: 'api_key', fp: FP } } },
  },
  {
    name: 'status -1 (no response: the client aborted) becomes 499',
    record: { ...base, status: -1 },
    expect: { event: { status: 499 } },
  },
  {
    name: 'raw credential: %HU (URI with query) logged as path, with ?api_key=',
    record: { ...base, path: '/v1/orders/42?api_key=fake-key-for-tests' },
    expect: { event: { route: '/v1/orders/42' }, rawSecrets: ['path?api_key'] },
  },
  {
    name: 'raw credential: a captured X-Api-Key header added as an item',
    record: { ...base, x_api_key: 'fake-key-for-tests' },
    expect: { event: { status: 200 }, rawSecrets: ['x_api_key'] },
  },
  {
    name: 'missing: txn.tw_fp not set (snippet not loaded)',
    record: { ...base, tw_fp: '-' },
    expect: { field: 'tw_fp' },
  },
  {
    name: 'missing: no client_ip item',
    record: { ...base, client_ip: undefined },
    expect: { field: 'client_ip' },
  },
  {
    name: 'unreadable: %ms is not 1-3 digits',
    record: { ...base, time_ms: undefined, ts: 1796032800, ms: 'x42' },
    expect: { field: 'ms' },
  },
  {
    name: 'missing: no time items and no Kafka timestamp',
    record: { ...base, time_ms: undefined },
    expect: { field: 'ts' },
  },
  {
    name: 'unreadable: a TCP-mode log line (no method)',
    record: { ...base, method: '-', path: '-', status: '-' },
    expect: { field: 'method' },
  },
];
