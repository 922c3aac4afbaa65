/**
 * Apache APISIX kafka-logger (also http-logger, file-logger: same log-util.lua entry). Two shapes:
 *
 * - the default payload (`meta_format: "default"`, no `log_format`): `get_full_log()` with the
 *   `tw_*` facts added on top by `log_format_extra`. It logs request headers and query arguments
 *   RAW, so a record that carries a credential is reported in `rawSecrets`;
 * - the recommended custom `log_format` (plugin metadata): flat keys, no headers (README.md).
 */
import { build, epochMs, flatFacts, get, headerText, ip, isRecord, method, requestId, routeOf, safeAdapter, scanNamed, scanQuery, status, timeMs, type Rec } from '../common.js';
import type { AdaptContext, AdaptResult, GatewayAdapter, RawSecret } from '../types.js';
import { cases } from './cases.js';

const FP_HELP_DEFAULT =
  'no tw_fp: enable the tokenwatch APISIX snippet (registers $tw_fp) and add "tw_fp": "$tw_fp" to kafka-logger log_format_extra (or log_format)';
const FP_HELP_CUSTOM = 'no tw_fp: enable the tokenwatch APISIX snippet (registers $tw_fp) and add "tw_fp": "$tw_fp" to kafka-logger log_format';
const USE_LOG_FORMAT = 'kafka-logger log_format (plugin metadata) instead of the default payload';

function fullLog(r: Rec, ctx: AdaptContext, secrets: RawSecret[]): AdaptResult {
  const request = get(r, 'request');
  const response = get(r, 'response');
  const headers = get(request, 'headers');
  scanNamed(headers, 'request.headers.', (h) => `data-mask {"type":"header","name":"${h}","action":"remove"}, or ${USE_LOG_FORMAT}`, secrets);
  scanNamed(get(request, 'querystring'), 'request.querystring.', (q) => `data-mask {"type":"query","name":"${q}","action":"remove"}, or ${USE_LOG_FORMAT}`, secrets);
  scanQuery(get(request, 'uri'), 'request.uri', `data-mask {"type":"query","name":"<name>","action":"remove"}, or ${USE_LOG_FORMAT}`, secrets);
  scanQuery(get(request, 'url'), 'request.url', `data-mask {"type":"query","name":"<name>","action":"remove"}, or ${USE_LOG_FORMAT}`, secrets);
  if (get(request, 'body') !== undefined) secrets.push({ field: 'request.body', setting: 'kafka-logger include_req_body: false' });
  if (get(response, 'body') !== undefined) secrets.push({ field: 'response.body', setting: 'kafka-logger include_resp_body: false' });
  scanNamed(get(response, 'headers'), 'response.headers.', () => USE_LOG_FORMAT, secrets);
  scanNamed(r, '', (k) => `kafka-logger log_format_extra: remove "${k}"`, secrets);

  const facts = flatFacts(r, FP_HELP_DEFAULT);
  if ('ok' in facts) return facts;
  return build(
    'apisix',
    {
      // the request-id plugin sets X-Request-Id on the request (it keeps a client-sent one)
      id: requestId(get(headers, 'x-request-id')),
      ts: epochMs(get(r, 'start_time'), 'ms'),
      ip: ip(get(r, 'client_ip')),
      method: method(get(request, 'method')),
      route: routeOf(get(request, 'uri')),
      status: status(get(response, 'status')),
      ua: headerText(get(headers, 'user-agent')),
    },
    { id: 'request.headers.x-request-id', ts: 'start_time', ip: 'client_ip', method: 'request.method', route: 'request.uri', status: 'response.status' },
    facts,
    ctx,
  );
}

function customLog(r: Rec, ctx: AdaptContext, secrets: RawSecret[]): AdaptResult {
  scanNamed(r, '', (k) => `kafka-logger log_format: remove "${k}"`, secrets);
  scanQuery(get(r, 'uri'), 'uri', 'kafka-logger log_format: log "$uri", not "$request_uri"', secrets);
  const facts = flatFacts(r, FP_HELP_CUSTOM);
  if ('ok' in facts) return facts;
  const msec = get(r, 'msec');
  const hasMsec = msec !== undefined && msec !== null && msec !== '' && msec !== '-';
  return build(
    'apisix',
    {
      id: requestId(get(r, 'request_id')),
      ts: hasMsec ? timeMs(msec, 's') : timeMs(get(r, '@timestamp'), 's'),
      ip: ip(get(r, 'client_ip')),
      method: method(get(r, 'request_method')),
      route: routeOf(get(r, 'uri')),
      status: status(get(r, 'status')),
      ua: headerText(get(r, 'http_user_agent')),
    },
    { id: 'request_id', ts: hasMsec ? 'msec' : '@timestamp', ip: 'client_ip', method: 'request_method', route: 'uri', status: 'status' },
    facts,
    ctx,
  );
}

const adapt = safeAdapter((r, ctx, secrets) => (isRecord(get(r, 'request')) ? fullLog(r, ctx, secrets) : customLog(r, ctx, secrets)));

const apisix: GatewayAdapter = {
  name: 'apisix',
  title: 'Apache APISIX kafka-logger (default payload or custom log_format)',
  references: [
    'https://github.com/apache/apisix/blob/master/apisix/utils/log-util.lua',
    'https://github.com/apache/apisix/blob/master/docs/en/latest/plugins/kafka-logger.md',
    'https://github.com/apache/apisix/blob/master/docs/en/latest/plugins/data-mask.md',
    'https://github.com/apache/apisix/blob/master/docs/en/latest/apisix-variable.md',
    'https://github.com/apache/apisix/blob/master/apisix/plugins/data-mask.lua',
  ],
  defaultPayloadSecrets: true,
  // kafka-logger encodes the whole batch as one array when batch_max_size > 1 (its default is 1000)
  batches: true,
  adapt,
  cases,
};

export default apisix;
