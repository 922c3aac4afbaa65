/**
 * NGINX cases: records as `log_format tokenwatch escape=json` writes them (README.md), fake values.
 * With escape=json an unset variable is logged as "" and every variable is a JSON string.
 */
import type { AdapterCase } from '../types.js';

const FP = 'tfp1:Q7IMA2GzB5IIEEx7RYijlP';
const FP_NEW_REFRESH = 'tfp1:ji5bMDAiOPydlJ1JdA-EDf';
const FP_NEW_ACCESS = 'tfp1:GG_BChrFsyKpnRIW_qCa_c';

/** Every key of the recommended log_format, as NGINX writes it. */
const base = {
  time: '2026-11-30T10:00:00+00:00',
  msec: '1796032800.123',
  request_id: '7f9c2ba4e88f827d616045507605853e',
  remote_addr: '203.0.113.7',
  request_method: 'GET',
  uri: '/v1/orders/42',
  status: '200',
  host: 'api.example.com',
  http_user_agent: 'okhttp/4.12.0',
  tw_fp: FP,
  tw_cred_type: 'access_token',
  tw_sub: 'user-42',
  tw_sid: '',
  tw_client_id: 'mobile-app',
  tw_key_id: '',
  tw_jti: 'jti-7d1e',
  tw_exp: '1796036400',
  tw_tenant: 'acme',
  tw_route: '/v1/orders/{id}',
  tw_issued_fp: '',
  tw_issued_access_fp: '',
};

export const cases: AdapterCase[] = [
  {
    name: 'recommended log_format: every field mapped, $msec kept to the millisecond',
    record: base,
    expect: {
      event: {
        v: 1,
        id: '7f9c2ba4e88f827d616045507605853e',
        ts: 1796032800123,
        ip: '203.0.113.7',
        method: 'GET',
        route: '/v1/orders/{id}',
        status: 200,
        gateway: 'nginx',
        tenant: 'acme',
        ua: 'okhttp/4.12.0',
        cred: { type: 'access_token', fp: FP, sub: 'user-42', client_id: 'mobile-app', jti: 'jti-7d1e', exp: 1796036400 },
      },
    },
  },
  {
    name: 'only $time_iso8601 with a local offset; unset tw_* variables ("") are absent; no tw_route: path',
    record: {
      ...base,
      msec: '',
      time: '2026-11-30T11:00:00+01:00',
      tw_cred_type: '',
      tw_sub: '',
      tw_client_id: '',
      tw_jti: '',
      tw_exp: '',
      tw_tenant: '',
      tw_route: '',
    },
    expect: { event: { ts: Date.UTC(2026, 10, 30, 10, 0, 0), route: '/v1/orders/42', cred: { type: 'access_token', fp: FP } } },
  },
  {
    name: 'optional "request_time" moves $msec (log write time) back to the arrival of the request',
    record: { ...base, request_time: '1.500' },
    expect: { event: { ts: 1796032800123 - 1500 } },
  },
  {
    name: 'refresh exchange at the token endpoint carries the issued fingerprints',
    record: {
      ...base,
      request_method: 'POST',
      uri: '/oauth/token',
      tw_route: '',
      tw_cred_type: 'refresh_token',
      tw_sid: 'fam-9',
      tw_issued_fp: FP_NEW_REFRESH,
      tw_issued_access_fp: FP_NEW_ACCESS,
    },
    expect: {
      event: {
        method: 'POST',
        route: '/oauth/token',
        cred: { type: 'refresh_token', fp: FP, sub: 'user-42', sid: 'fam-9', client_id: 'mobile-app', jti: 'jti-7d1e', exp: 1796036400 },
        refresh: { issued_fp: FP_NEW_REFRESH, issued_access_fp: FP_NEW_ACCESS },
      },
    },
  },
  {
    name: 'IPv6 client address and a 499 (client closed request) status',
    record: { ...base, remote_addr: '2001:db8::7', status: '499' },
    expect: { event: { ip: '2001:db8::7', status: 499 } },
  },
  {
    name: 'no $request_id (very old NGINX): deterministic id from topic/partition/offset',
    record: { ...base, request_id: '' },
    expect: { event: { id: 'kafka:gateway.access-logs:3:1042' } },
  },
  {
    name: 'no time in the record: the Kafka message timestamp is used',
    record: { ...base, msec: '', time: '' },
    ctx: { timestampMs: 1796032801000 },
    expect: { event: { ts: 1796032801000 } },
  },
  {
    name: 'missing: njs snippet not loaded, $tw_fp logged as ""',
    record: { ...base, tw_fp: '' },
    expect: { field: 'tw_fp' },
  },
  {
    name: 'missing: the tw_fp key left out of log_format',
    record: (({ tw_fp: _omit, ...rest }) => rest)(base),
    expect: { field: 'tw_fp' },
  },
  {
    name: 'unreadable: tw_fp holds something that is not a tfp1 fingerprint',
    record: { ...base, tw_fp: 'fake-token-for-tests' },
    expect: { field: 'tw_fp' },
  },
  {
    name: 'unreadable: tw_cred_type outside the four types',
    record: { ...base, tw_cred_type: 'jwt' },
    expect: { field: 'tw_cred_type' },
  },
  {
    name: 'unreadable: tw_exp in milliseconds',
    record: { ...base, tw_exp: '1796036400000' },
    expect: { field: 'tw_exp' },
  },
  {
    name: 'missing: no time and no Kafka timestamp',
    record: { ...base, msec: '', time: '' },
    expect: { field: 'time' },
  },
  {
    name: 'unreadable: $msec is not a number',
    record: { ...base, msec: 'yesterday' },
    expect: { field: 'msec' },
  },
  {
    name: 'missing: status',
    record: { ...base, status: '' },
    expect: { field: 'status' },
  },
  {
    name: 'unreadable: remote_addr is a host name',
    record: { ...base, remote_addr: 'proxy.internal' },
    expect: { field: 'remote_addr' },
  },
  {
    name: 'raw credential: $request_uri logged instead of $uri, with ?access_token=',
    record: { ...base, uri: '/v1/orders/42?access_token=fake-token-for-tests&page=2', tw_route: '' },
    expect: { event: { route: '/v1/orders/42' }, rawSecrets: ['uri?access_token'] },
  },
  {
    name: 'raw credential: $http_authorization added to log_format',
    record: { ...base, http_authorization: 'Bearer fake-token-for-tests' },
    expect: { event: { id: '7f9c2ba4e88f827d616045507605853e' }, rawSecrets: ['http_authorization'] },
  },
];
