/**
 * API Gateway cases: records of the recommended access-log format (README.md; key names of the AWS
 * docs' JSON example plus the tw_* authorizer context), fake values. API Gateway substitutes every
 * $context variable as text and logs "-" when it has no value.
 */
import type { AdapterCase } from '../types.js';

const FP = 'tfp1:5fjEjV2v5jyOO3wpQ3g4fX';
const T0 = Date.UTC(2026, 10, 30, 10, 0, 0, 123);

const rest = {
  requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
  extendedRequestId: 'Lg4bXFeWIAMEYjQ=',
  ip: '203.0.113.7',
  caller: '-',
  user: '-',
  requestTime: '30/Nov/2026:10:00:00 +0000',
  requestTimeEpoch: String(T0),
  httpMethod: 'GET',
  resourcePath: '/orders/{orderId}',
  path: '/prod/orders/42',
  status: '200',
  protocol: 'HTTP/1.1',
  responseLength: '812',
  userAgent: 'okhttp/4.12.0',
  domainName: 'api.example.com',
  stage: 'prod',
  apiKeyId: 'k3y1d9x2',
  tw_fp: FP,
  tw_cred_type: 'api_key',
  tw_sub: '-',
  tw_sid: '-',
  tw_client_id: '-',
  tw_key_id: '-',
  tw_jti: '-',
  tw_exp: '-',
  tw_tenant: 'acme',
  tw_route: '-',
  tw_issued_fp: '-',
  tw_issued_access_fp: '-',
};

export const cases: AdapterCase[] = [
  {
    name: 'REST API, recommended format: extendedRequestId, templated resourcePath, apiKeyId as key id',
    record: rest,
    expect: {
      event: {
        v: 1,
        id: 'Lg4bXFeWIAMEYjQ=',
        ts: T0,
        ip: '203.0.113.7',
        method: 'GET',
        route: '/orders/{orderId}',
        status: 200,
        gateway: 'aws-apigw',
        tenant: 'acme',
        ua: 'okhttp/4.12.0',
        cred: { type: 'api_key', fp: FP, key_id: 'k3y1d9x2' },
      },
    },
  },
  {
    name: 'the AWS docs JSON example only (requestTime in CLF, requestId), plus tw_fp',
    record: {
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      ip: '203.0.113.7',
      caller: '-',
      user: '-',
      requestTime: '30/Nov/2026:11:00:00 +0100',
      httpMethod: 'POST',
      resourcePath: '/orders',
      status: '201',
      protocol: 'HTTP/1.1',
      responseLength: '48',
      tw_fp: FP,
    },
    expect: {
      event: { id: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef', ts: Date.UTC(2026, 10, 30, 10, 0, 0), method: 'POST', route: '/orders', status: 201, cred: { type: 'access_token', fp: FP } },
    },
  },
  {
    name: 'HTTP API: routeKey "GET /orders/{orderId}" gives the template, JWT claims as tw_sub',
    record: {
      requestId: 'JTHoQgr2oAMEPMg=',
      extendedRequestId: 'JTHoQgr2oAMEPMg=',
      ip: '2001:db8::7',
      requestTime: '30/Nov/2026:10:00:00 +0000',
      requestTimeEpoch: '1796032800',
      httpMethod: 'GET',
      routeKey: 'GET /orders/{orderId}',
      path: '/orders/42',
      status: '200',
      protocol: 'HTTP/1.1',
      responseLength: '812',
      tw_fp: FP,
      tw_sub: 'user-42',
      tw_client_id: '3n4b5urk1ft4fl3mg5e62d9ado',
    },
    expect: {
      event: {
        ip: '2001:db8::7',
        ts: Date.UTC(2026, 10, 30, 10, 0, 0),
        route: '/orders/{orderId}',
        cred: { type: 'access_token', fp: FP, sub: 'user-42', client_id: '3n4b5urk1ft4fl3mg5e62d9ado' },
      },
    },
  },
  {
    name: 'HTTP API $default route: the request path',
    record: { ...rest, resourcePath: undefined, routeKey: '$default', path: '/orders/42' },
    expect: { event: { route: '/orders/42' } },
  },
  {
    name: 'raw credential: $context.identity.apiKey in the format is the raw API key',
    record: { ...rest, apiKey: 'fake-key-for-tests' },
    expect: { event: { cred: { type: 'api_key', fp: FP, key_id: 'k3y1d9x2' } }, rawSecrets: ['apiKey'] },
  },
  {
    name: 'raw credential: the "all variables" style key identity.apiKey',
    record: { ...rest, 'identity.apiKey': 'fake-key-for-tests', 'identity.apiKeyId': 'k3y1d9x2' },
    expect: { event: { status: 200 }, rawSecrets: ['identity.apiKey'] },
  },
  {
    name: 'method without API key: $context.identity.apiKey logs "-" (not a credential)',
    record: { ...rest, apiKey: '-', apiKeyId: '-', tw_cred_type: 'access_token' },
    expect: { event: { cred: { type: 'access_token', fp: FP } } },
  },
  {
    name: 'missing: authorizer does not return tw_fp ($context.authorizer.tw_fp logs "-")',
    record: { ...rest, tw_fp: '-' },
    expect: { field: 'tw_fp' },
  },
  {
    name: 'missing: no ip key in the format',
    record: { ...rest, ip: undefined },
    expect: { field: 'ip' },
  },
  {
    name: 'unreadable: requestTime not in CLF and no requestTimeEpoch',
    record: { ...rest, requestTimeEpoch: undefined, requestTime: '2026-11-30 10:00' },
    expect: { field: 'requestTime' },
  },
  {
    name: 'missing: a WebSocket API record (no httpMethod)',
    record: { ...rest, httpMethod: '-', resourcePath: '-', routeKey: '$connect' },
    expect: { field: 'httpMethod' },
  },
];
