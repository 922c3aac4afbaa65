/**
 * Envoy JSON access log (`log_format.json_format` / `typed_json_format`). Envoy has no default
 * JSON key names: the recommended json_format is in README.md; the snake_case names of Istio's
 * JSON access log and the header-style names of Envoy Gateway's default JSON format are accepted
 * too. `tw_*` come from the tokenwatch Envoy Lua snippet through `%DYNAMIC_METADATA(tokenwatch:tw_*)%`.
 */
import { build, flatFacts, get, headerText, ip, method, requestId, routeOf, safeAdapter, scanNamed, scanQuery, status, timeMs } from '../common.js';
import type { GatewayAdapter } from '../types.js';
import { cases } from './cases.js';

const FP_HELP =
  'no tw_fp: enable the tokenwatch Envoy Lua snippet and add tw_fp: "%DYNAMIC_METADATA(tokenwatch:tw_fp)%" to json_format';
const NO_QUERY = 'json_format: log %REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)% (formatter envoy.formatter.req_without_query)';

/** The first present key of `keys` (Envoy logs "-" or null for an unset operator), with its name. */
function first(r: Record<string, unknown>, keys: readonly string[]): [unknown, string] {
  for (const k of keys) {
    const v = get(r, k);
    if (v !== undefined && v !== null && v !== '-' && v !== '') return [v, k];
  }
  return [undefined, keys[0]!];
}

const ID_KEYS = ['request_id', 'x-request-id'] as const;
const PATH_KEYS = ['path', 'x-envoy-origin-path'] as const;
const UA_KEYS = ['user_agent', 'user-agent'] as const;

const adapt = safeAdapter((r, ctx, secrets) => {
  scanNamed(r, '', (k) => `json_format: remove "${k}"`, secrets);
  for (const k of PATH_KEYS) scanQuery(get(r, k), k, NO_QUERY, secrets);
  const facts = flatFacts(r, FP_HELP);
  if ('ok' in facts) return facts;
  const [idValue, idKey] = first(r, ID_KEYS);
  const [pathValue, pathKey] = first(r, PATH_KEYS);
  const [uaValue] = first(r, UA_KEYS);
  return build(
    'envoy',
    {
      id: requestId(idValue),
      ts: timeMs(get(r, 'start_time'), 's'),
      ip: ip(get(r, 'downstream_remote_address')),
      method: method(get(r, 'method')),
      route: routeOf(pathValue),
      status: status(get(r, 'response_code')),
      ua: headerText(uaValue),
    },
    { id: idKey, ts: 'start_time', ip: 'downstream_remote_address', method: 'method', route: pathKey, status: 'response_code' },
    facts,
    ctx,
  );
});

const envoy: GatewayAdapter = {
  name: 'envoy',
  title: 'Envoy JSON access log (json_format / typed_json_format, Istio and Envoy Gateway names)',
  references: [
    'https://github.com/envoyproxy/envoy/blob/main/docs/root/configuration/observability/access_log/usage.rst',
    'https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage',
    'https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/formatter/req_without_query/v3/req_without_query.proto',
    'https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-for',
    'https://istio.io/latest/docs/tasks/observability/logs/access-log/',
    'https://gateway.envoyproxy.io/latest/tasks/observability/proxy-observability/',
  ],
  defaultPayloadSecrets: false,
  adapt,
  cases,
};

export default envoy;
