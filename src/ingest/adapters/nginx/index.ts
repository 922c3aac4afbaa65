/**
 * NGINX JSON access log (`log_format tokenwatch escape=json '{…}'`, README.md), with the `$tw_*`
 * variables set by the tokenwatch njs snippet through `js_set`.
 */
import { build, epochMs, flatFacts, get, headerText, ip, method, requestId, routeOf, safeAdapter, scanNamed, scanQuery, status, timeMs } from '../common.js';
import type { GatewayAdapter } from '../types.js';
import { cases } from './cases.js';

const FP_HELP =
  'no tw_fp: load the tokenwatch njs snippet (js_set $tw_fp) and add "tw_fp":"$tw_fp" to log_format tokenwatch';

const adapt = safeAdapter((r, ctx, secrets) => {
  scanNamed(r, '', (k) => `log_format tokenwatch: remove the "${k}" key`, secrets);
  scanQuery(get(r, 'uri'), 'uri', 'log_format tokenwatch: log $uri (no query string), not $request_uri', secrets);
  const facts = flatFacts(r, FP_HELP);
  if ('ok' in facts) return facts;
  // $msec and $time_iso8601 are taken when the log line is written (end of the request); an
  // optional "request_time":"$request_time" moves the time back to when the request arrived.
  const msec = get(r, 'msec');
  const hasMsec = msec !== undefined && msec !== null && msec !== '' && msec !== '-';
  let ts = hasMsec ? timeMs(msec, 's') : timeMs(get(r, 'time'), 's');
  const took = epochMs(get(r, 'request_time'), 's');
  if (typeof ts === 'number' && typeof took === 'number' && took <= ts) ts -= took;
  return build(
    'nginx',
    {
      id: requestId(get(r, 'request_id')),
      ts,
      ip: ip(get(r, 'remote_addr')),
      method: method(get(r, 'request_method')),
      route: routeOf(get(r, 'uri')),
      status: status(get(r, 'status')),
      ua: headerText(get(r, 'http_user_agent')),
    },
    { id: 'request_id', ts: hasMsec ? 'msec' : 'time', ip: 'remote_addr', method: 'request_method', route: 'uri', status: 'status' },
    facts,
    ctx,
  );
});

const nginx: GatewayAdapter = {
  name: 'nginx',
  title: 'NGINX JSON access log (log_format escape=json + njs js_set)',
  references: [
    'https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format',
    'https://nginx.org/en/docs/varindex.html',
    'https://nginx.org/en/docs/http/ngx_http_realip_module.html',
    'https://nginx.org/en/docs/http/ngx_http_js_module.html#js_set',
  ],
  defaultPayloadSecrets: false,
  adapt,
  cases,
};

export default nginx;
