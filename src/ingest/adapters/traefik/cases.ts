/**
 * Traefik cases: JSON access-log records with the core keys of pkg/middlewares/accesslog/logdata.go
 * and the headers kept by the recommended accessLog.fields config (README.md), fake values.
 */
import type { AdapterCase } from '../types.js';

const FP = 'tfp1:Q7IMA2GzB5IIEEx7RYijlP';
const T0 = Date.UTC(2026, 10, 30, 10, 0, 0, 310);

const base = {
  ClientAddr: '198.51.100.10:51234',
  ClientHost: '203.0.113.7',
  ClientPort: '51234',
  ClientUsername: '-',
  DownstreamContentSize: 812,
  DownstreamStatus: 200,
  Duration: 9_412_345,
  OriginContentSize: 812,
  OriginDuration: 8_912_001,
  OriginStatus: 200,
  Overhead: 500_344,
  RequestAddr: 'api.example.com',
  RequestContentSize: 0,
  RequestCount: 4211,
  RequestHost: 'api.example.com',
  RequestMethod: 'GET',
  RequestPath: '/v1/orders/42',
  RequestPort: '-',
  RequestProtocol: 'HTTP/2.0',
  RequestScheme: 'https',
  RetryAttempts: 0,
  RouterName: 'orders@file',
  ServiceAddr: '10.0.3.21:8080',
  ServiceName: 'orders@file',
  ServiceURL: 'http://10.0.3.21:8080',
  StartUTC: '2026-11-30T10:00:00.310123456Z',
  TLSCipher: 'TLS_AES_128_GCM_SHA256',
  TLSVersion: '1.3',
  entryPointName: 'websecure',
  level: 'info',
  msg: '',
  time: '2026-11-30T10:00:00Z',
  'request_User-Agent': 'okhttp/4.12.0',
  'request_X-Request-Id': '3e0b9c1a-7f2d-4a6b-9c8e-1d2f3a4b5c6d',
  'request_X-Tw-Fp': FP,
  'request_X-Tw-Cred-Type': 'access_token',
  'request_X-Tw-Sub': 'user-42',
  'request_X-Tw-Client-Id': 'mobile-app',
  'request_X-Tw-Exp': '1796036400',
  'request_X-Tw-Tenant': 'acme',
  'request_X-Tw-Route': '/v1/orders/{id}',
};

export const cases: AdapterCase[] = [
  {
    name: 'recommended config: core fields and kept X-Tw-* request headers, nanosecond StartUTC',
    record: base,
    expect: {
      event: {
        v: 1,
        id: '3e0b9c1a-7f2d-4a6b-9c8e-1d2f3a4b5c6d',
        ts: T0,
        ip: '203.0.113.7',
        method: 'GET',
        route: '/v1/orders/{id}',
        status: 200,
        gateway: 'traefik',
        tenant: 'acme',
        ua: 'okhttp/4.12.0',
        cred: { type: 'access_token', fp: FP, sub: 'user-42', client_id: 'mobile-app', exp: 1796036400 },
      },
    },
  },
  {
    name: 'ClientHost holds a forwarded chain from a trusted proxy: the last hop is the client',
    record: { ...base, ClientHost: '192.0.2.66, 203.0.113.7' },
    expect: { event: { ip: '203.0.113.7' } },
  },
  {
    name: 'no ClientHost field kept: ClientAddr without its port; no X-Request-Id: deterministic id',
    record: { ...base, ClientHost: undefined, ClientAddr: '[2001:db8::7]:51234', 'request_X-Request-Id': undefined },
    expect: { event: { ip: '2001:db8::7', id: 'kafka:gateway.access-logs:3:1042' } },
  },
  {
    name: 'refresh exchange: issued fingerprints as response headers (downstream_X-Tw-Issued-*)',
    record: {
      ...base,
      RequestMethod: 'POST',
      RequestPath: '/oauth/token',
      'request_X-Tw-Route': undefined,
      'request_X-Tw-Cred-Type': 'refresh_token',
      'request_X-Tw-Sid': 'fam-9',
      'downstream_X-Tw-Issued-Fp': 'tfp1:ji5bMDAiOPydlJ1JdA-EDf',
      'downstream_X-Tw-Issued-Access-Fp': 'tfp1:GG_BChrFsyKpnRIW_qCa_c',
    },
    expect: {
      event: {
        route: '/oauth/token',
        cred: { type: 'refresh_token', fp: FP, sub: 'user-42', sid: 'fam-9', client_id: 'mobile-app', exp: 1796036400 },
        refresh: { issued_fp: 'tfp1:ji5bMDAiOPydlJ1JdA-EDf', issued_access_fp: 'tfp1:GG_BChrFsyKpnRIW_qCa_c' },
      },
    },
  },
  {
    name: 'raw credential: query parameters are kept by default (RequestPath with ?access_token=)',
    record: { ...base, RequestPath: '/v1/orders/42?access_token=fake-token-for-tests', 'request_X-Tw-Route': undefined },
    expect: { event: { route: '/v1/orders/42' }, rawSecrets: ['RequestPath?access_token'] },
  },
  {
    name: 'raw credential: headers.defaultMode keep logs Authorization and Cookie',
    record: { ...base, request_Authorization: 'Bearer fake-token-for-tests', request_Cookie: 'sid=fake-session-for-tests' },
    expect: { event: { status: 200 }, rawSecrets: ['request_Authorization', 'request_Cookie'] },
  },
  {
    name: 'Authorization kept in "redact" mode is logged as REDACTED: not a raw credential',
    record: { ...base, request_Authorization: 'REDACTED' },
    expect: { event: { status: 200 } },
  },
  {
    name: 'missing: headers dropped by default, X-Tw-Fp not kept',
    record: (({ 'request_X-Tw-Fp': _fp, ...rest }) => rest)(base),
    expect: { field: 'tw_fp' },
  },
  {
    name: 'missing: DownstreamStatus dropped by accessLog.fields.names',
    record: { ...base, DownstreamStatus: undefined },
    expect: { field: 'DownstreamStatus' },
  },
  {
    name: 'unreadable: StartUTC without a zone',
    record: { ...base, StartUTC: '2026-11-30 10:00:00' },
    expect: { field: 'StartUTC' },
  },
];
