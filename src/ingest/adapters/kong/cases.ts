/**
 * Kong cases: records shaped like `kong.log.serialize()` output (kong/pdk/log.lua, and the sample
 * log object of the file-log / kafka-log plugin docs) plus the tw_* custom fields, fake values.
 */
import type { AdapterCase } from '../types.js';

const FP = 'tfp1:5fjEjV2v5jyOO3wpQ3g4fX';
const T0 = Date.UTC(2026, 10, 30, 10, 0, 0, 30);

const request = {
  id: '2f6946328ffc4946b8c9120704a4a155',
  uri: '/v1/orders/42',
  url: 'https://api.example.com:8443/v1/orders/42',
  querystring: {},
  method: 'GET',
  headers: {
    host: 'api.example.com',
    'user-agent': 'okhttp/4.12.0',
    accept: 'application/json',
    authorization: 'REDACTED',
    'x-forwarded-for': '203.0.113.7',
  },
  size: 145,
  tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', client_verify: 'NONE' },
};

const base = {
  request,
  upstream_uri: '/v1/orders/42',
  upstream_status: '200',
  response: {
    status: 200,
    size: 934,
    headers: {
      'content-type': 'application/json',
      'content-length': '812',
      via: '1.1 kong/3.9.1',
      'x-kong-upstream-latency': '12',
      'x-kong-proxy-latency': '1',
      'x-kong-request-id': '2f6946328ffc4946b8c9120704a4a155',
    },
  },
  latencies: { kong: 1, proxy: 12, request: 14, receive: 0 },
  tries: [{ balancer_start: T0 + 1, ip: '10.0.3.21', port: 8080, balancer_latency: 0 }],
  authenticated_entity: { id: '4f8d2a7e-1b3c-4d5e-9f60-7a8b9c0d1e2f', consumer_id: 'a1b2c3d4-0000-4000-8000-000000000001' },
  route: { id: '8c1e0c44-2b41-4c7e-a1b8-5d2b7f0e9a11', name: 'orders', paths: ['/v1/orders'], protocols: ['https'], strip_path: false },
  service: { id: '0e7b5e21-6c5d-4a0e-9b3f-2d6f1c8e4a70', name: 'orders-svc', host: 'orders.internal', port: 8080, protocol: 'http' },
  consumer: { id: 'a1b2c3d4-0000-4000-8000-000000000001', username: 'mobile-app' },
  client_ip: '203.0.113.7',
  started_at: T0,
  source: 'upstream',
  workspace: '0dc5a8c3-3a4b-4a3c-8f0e-1b2c3d4e5f60',
  workspace_name: 'default',
  tw_fp: FP,
  tw_cred_type: 'access_token',
  tw_sub: 'user-42',
  tw_client_id: 'mobile-app',
  tw_exp: 1796036400,
  tw_tenant: 'acme',
  tw_route: '/v1/orders/{id}',
};

export const cases: AdapterCase[] = [
  {
    name: 'serialize() with custom fields: every field mapped, Authorization already REDACTED by Kong',
    record: base,
    expect: {
      event: {
        v: 1,
        id: '2f6946328ffc4946b8c9120704a4a155',
        ts: T0,
        ip: '203.0.113.7',
        method: 'GET',
        route: '/v1/orders/{id}',
        status: 200,
        gateway: 'kong',
        tenant: 'acme',
        ua: 'okhttp/4.12.0',
        cred: { type: 'access_token', fp: FP, sub: 'user-42', client_id: 'mobile-app', exp: 1796036400 },
      },
    },
  },
  {
    name: 'key-auth with hide_credentials: api_key, key id from authenticated_entity.id, path as route',
    record: { ...base, tw_cred_type: 'api_key', tw_sub: undefined, tw_client_id: undefined, tw_exp: undefined, tw_route: undefined },
    expect: {
      event: { route: '/v1/orders/42', cred: { type: 'api_key', fp: FP, key_id: '4f8d2a7e-1b3c-4d5e-9f60-7a8b9c0d1e2f' } },
    },
  },
  {
    name: 'Kong before 3.5 (no request.id, no x-kong-request-id): deterministic id',
    record: {
      ...base,
      request: { ...request, id: undefined },
      response: { ...base.response, headers: { 'content-type': 'application/json' } },
    },
    expect: { event: { id: 'kafka:gateway.access-logs:3:1042' } },
  },
  {
    name: 'request.id empty (no request id module): x-kong-request-id response header',
    record: { ...base, request: { ...request, id: '' } },
    expect: { event: { id: '2f6946328ffc4946b8c9120704a4a155' } },
  },
  {
    name: 'raw credential: key-auth apikey header is NOT redacted by serialize()',
    record: { ...base, tw_cred_type: 'api_key', request: { ...request, headers: { ...request.headers, apikey: 'fake-key-for-tests' } } },
    expect: { event: { cred: { type: 'api_key', fp: FP, sub: 'user-42', client_id: 'mobile-app', key_id: '4f8d2a7e-1b3c-4d5e-9f60-7a8b9c0d1e2f', exp: 1796036400 } }, rawSecrets: ['request.headers.apikey'] },
  },
  {
    name: 'raw credential: ?apikey= in the query string, logged raw in querystring, uri, url and upstream_uri',
    record: {
      ...base,
      request: {
        ...request,
        uri: '/v1/orders/42?apikey=fake-key-for-tests',
        url: 'https://api.example.com:8443/v1/orders/42?apikey=fake-key-for-tests',
        querystring: { apikey: 'fake-key-for-tests' },
      },
      upstream_uri: '/v1/orders/42?apikey=fake-key-for-tests',
      tw_route: undefined,
    },
    expect: {
      event: { route: '/v1/orders/42' },
      rawSecrets: ['request.querystring.apikey', 'request.uri?apikey', 'request.url?apikey', 'upstream_uri?apikey'],
    },
  },
  {
    name: 'raw credential: a session cookie in the request and a Set-Cookie in the response',
    record: {
      ...base,
      request: { ...request, headers: { ...request.headers, cookie: 'sid=fake-session-for-tests' } },
      response: { ...base.response, headers: { ...base.response.headers, 'set-cookie': ['sid=fake-session-for-tests; HttpOnly'] } },
    },
    expect: { event: { status: 200 }, rawSecrets: ['request.headers.cookie', 'response.headers.set-cookie'] },
  },
  {
    name: 'no started_at: Kafka message timestamp',
    record: { ...base, started_at: undefined },
    ctx: { timestampMs: T0 + 500 },
    expect: { event: { ts: T0 + 500 } },
  },
  {
    name: 'missing: custom_fields_by_lua not configured, no tw_fp',
    record: { ...base, tw_fp: undefined, tw_cred_type: undefined },
    expect: { field: 'tw_fp' },
  },
  {
    name: 'missing: client_ip',
    record: { ...base, client_ip: undefined },
    expect: { field: 'client_ip' },
  },
  {
    name: 'missing: stream-subsystem record (session, no request/response)',
    record: { session: { status: 200, received: 12, sent: 40 }, client_ip: '203.0.113.7', started_at: T0, tw_fp: FP },
    expect: { field: 'request.method' },
  },
  {
    name: 'unreadable: response.status out of range',
    record: { ...base, response: { ...base.response, status: 1200 } },
    expect: { field: 'response.status' },
  },
  {
    name: 'unreadable: a kafka-log batch (max_batch_size > 1) is a JSON array',
    record: [base, base],
    expect: { field: 'record' },
  },
];
