/**
 * APISIX cases: the default payload as `get_full_log()` builds it (apisix/utils/log-util.lua and
 * the kafka-logger docs' meta_format example) plus log_format_extra keys, and the flat record of
 * the recommended custom log_format. Fake values.
 */
import type { AdapterCase } from '../types.js';

const FP = 'tfp1:3uVXCLjrN671xDcTvMHHXj';
const T0 = Date.UTC(2026, 10, 30, 10, 0, 0, 550);

const headers = {
  host: 'api.example.com',
  'user-agent': 'okhttp/4.12.0',
  accept: '*/*',
  'x-request-id': '5f2b8a0e-4c1d-4e6f-9a7b-3c2d1e0f9a8b',
  'x-forwarded-proto': 'https',
};

const full = {
  upstream: '10.0.3.21:8080',
  start_time: T0,
  client_ip: '203.0.113.7',
  service_id: '',
  route_id: 'orders',
  request: {
    querystring: {},
    size: 90,
    uri: '/v1/orders/42',
    url: 'https://api.example.com:9443/v1/orders/42',
    headers,
    method: 'GET',
  },
  response: {
    headers: { 'content-type': 'application/json', server: 'APISIX/3.16.0' },
    size: 190,
    status: 200,
  },
  server: { hostname: 'apisix-7c9d', version: '3.16.0' },
  latency: 18.000013,
  upstream_latency: 12,
  apisix_latency: 6.000013,
  tw_fp: FP,
  tw_cred_type: 'access_token',
  tw_sub: 'user-42',
  tw_tenant: 'acme',
  tw_route: '/v1/orders/{id}',
};

const custom = {
  '@timestamp': '2026-11-30T10:00:00+00:00',
  msec: '1796032800.550',
  request_id: 'd2c7a6f0e3b94c1a8f5e6d7c8b9a0f1e',
  client_ip: '203.0.113.7',
  request_method: 'GET',
  uri: '/v1/orders/42',
  status: '200',
  host: 'api.example.com',
  http_user_agent: 'okhttp/4.12.0',
  route_id: 'orders',
  tw_fp: FP,
  tw_cred_type: 'access_token',
  tw_sub: 'user-42',
  tw_tenant: 'acme',
  tw_route: '/v1/orders/{id}',
};

export const cases: AdapterCase[] = [
  {
    name: 'default payload + log_format_extra, no credential header (request-id plugin on)',
    record: full,
    expect: {
      event: {
        v: 1,
        id: '5f2b8a0e-4c1d-4e6f-9a7b-3c2d1e0f9a8b',
        ts: T0,
        ip: '203.0.113.7',
        method: 'GET',
        route: '/v1/orders/{id}',
        status: 200,
        gateway: 'apisix',
        tenant: 'acme',
        ua: 'okhttp/4.12.0',
        cred: { type: 'access_token', fp: FP, sub: 'user-42' },
      },
    },
  },
  {
    name: 'raw credential: default payload logs the Authorization header raw',
    record: { ...full, request: { ...full.request, headers: { ...headers, authorization: 'Bearer fake-token-for-tests' } } },
    expect: { event: { id: '5f2b8a0e-4c1d-4e6f-9a7b-3c2d1e0f9a8b' }, rawSecrets: ['request.headers.authorization'] },
  },
  {
    name: 'raw credential: key-auth apikey header and ?api_key= query argument',
    record: {
      ...full,
      request: {
        ...full.request,
        headers: { ...headers, apikey: 'fake-key-for-tests' },
        querystring: { api_key: 'fake-key-for-tests', page: '2' },
        uri: '/v1/orders/42?api_key=fake-key-for-tests&page=2',
        url: 'https://api.example.com:9443/v1/orders/42?api_key=fake-key-for-tests&page=2',
      },
      tw_route: undefined,
    },
    expect: {
      event: { route: '/v1/orders/42' },
      rawSecrets: ['request.headers.apikey', 'request.querystring.api_key', 'request.uri?api_key', 'request.url?api_key'],
    },
  },
  {
    name: 'raw credential: include_req_body on the token endpoint logs the refresh token',
    record: {
      ...full,
      request: { ...full.request, method: 'POST', uri: '/oauth/token', body: 'grant_type=refresh_token&refresh_token=fake-refresh-for-tests' },
      tw_cred_type: 'refresh_token',
      tw_route: undefined,
    },
    expect: { event: { method: 'POST', route: '/oauth/token' }, rawSecrets: ['request.body'] },
  },
  {
    name: 'headers masked by data-mask ("*****" placeholder) are not raw credentials',
    record: { ...full, request: { ...full.request, headers: { ...headers, authorization: '*****' } } },
    expect: { event: { status: 200 } },
  },
  {
    name: 'no request-id plugin: deterministic id from topic/partition/offset',
    record: { ...full, request: { ...full.request, headers: { host: 'api.example.com' } } },
    expect: { event: { id: 'kafka:gateway.access-logs:3:1042' } },
  },
  {
    name: 'recommended custom log_format: flat record, $msec to the millisecond',
    record: custom,
    expect: {
      event: {
        id: 'd2c7a6f0e3b94c1a8f5e6d7c8b9a0f1e',
        ts: T0,
        ip: '203.0.113.7',
        method: 'GET',
        route: '/v1/orders/{id}',
        status: 200,
        gateway: 'apisix',
        tenant: 'acme',
        ua: 'okhttp/4.12.0',
        cred: { type: 'access_token', fp: FP, sub: 'user-42' },
      },
    },
  },
  {
    name: 'custom log_format with only @timestamp ($time_iso8601, seconds)',
    record: { ...custom, msec: undefined },
    expect: { event: { ts: Date.UTC(2026, 10, 30, 10, 0, 0) } },
  },
  {
    name: 'raw credential: custom log_format that logs "$http_authorization"',
    record: { ...custom, http_authorization: 'Bearer fake-token-for-tests' },
    expect: { event: { status: 200 }, rawSecrets: ['http_authorization'] },
  },
  {
    name: 'missing: default payload without log_format_extra (no tw_fp), Authorization still reported',
    record: {
      ...full,
      tw_fp: undefined,
      request: { ...full.request, headers: { ...headers, authorization: 'Bearer fake-token-for-tests' } },
    },
    expect: { field: 'tw_fp', rawSecrets: ['request.headers.authorization'] },
  },
  {
    name: 'missing: custom log_format without "tw_fp": "$tw_fp"',
    record: { ...custom, tw_fp: undefined },
    expect: { field: 'tw_fp' },
  },
  {
    name: 'missing: default payload without response (request aborted before a response)',
    record: { ...full, response: undefined },
    expect: { field: 'response.status' },
  },
  {
    name: 'unreadable: client_ip is not an address',
    record: { ...custom, client_ip: 'unknown' },
    expect: { field: 'client_ip' },
  },
];
