/**
 * Kong Gateway: the `kong.log.serialize()` table that the http-log, file-log, tcp-log, udp-log and
 * (Enterprise) kafka-log plugins send, with the `tw_*` facts added as top-level keys by the log
 * plugin's `custom_fields_by_lua` (README.md).
 */
import { BAD, build, epochMs, flatFacts, get, headerText, ip, method, requestId, routeOf, safeAdapter, scanNamed, scanQuery, status, text } from '../common.js';
import type { GatewayAdapter } from '../types.js';
import { cases } from './cases.js';

const FP_HELP =
  'no tw_fp: add the tokenwatch Kong snippet to the log plugin: custom_fields_by_lua {"tw_fp": ...} (and the other tw_* keys)';
const NO_QUERY_SETTING =
  'custom_fields_by_lua: {"request.uri": "return kong.request.get_path()", "request.url": "return nil", "upstream_uri": "return nil"}';

const adapt = safeAdapter((r, ctx, secrets) => {
  const request = get(r, 'request');
  const response = get(r, 'response');
  // kong.log.serialize() redacts only request.headers.authorization and proxy-authorization.
  scanNamed(get(request, 'headers'), 'request.headers.', (h) => `custom_fields_by_lua: {"request.headers.${h}": "return nil"}`, secrets);
  scanNamed(get(request, 'querystring'), 'request.querystring.', () => 'custom_fields_by_lua: {"request.querystring": "return nil"}', secrets);
  scanQuery(get(request, 'uri'), 'request.uri', NO_QUERY_SETTING, secrets);
  scanQuery(get(request, 'url'), 'request.url', NO_QUERY_SETTING, secrets);
  scanQuery(get(r, 'upstream_uri'), 'upstream_uri', NO_QUERY_SETTING, secrets);
  scanNamed(get(response, 'headers'), 'response.headers.', (h) => `custom_fields_by_lua: {"response.headers.${h}": "return nil"}`, secrets);
  scanNamed(r, '', (k) => `custom_fields_by_lua: {"${k}": "return nil"}`, secrets);

  const facts = flatFacts(r, FP_HELP);
  if ('ok' in facts) return facts;
  // With key-auth, authenticated_entity.id is the key credential's id: a public key id.
  if (facts.cred.type === 'api_key' && facts.cred.key_id === undefined) {
    const keyId = text(get(get(r, 'authenticated_entity'), 'id'));
    if (keyId !== undefined && keyId !== BAD && keyId.length <= 256) facts.cred.key_id = keyId;
  }
  return build(
    'kong',
    {
      id: requestId(get(request, 'id')) ?? requestId(get(get(response, 'headers'), 'x-kong-request-id')),
      ts: epochMs(get(r, 'started_at'), 'ms'),
      ip: ip(get(r, 'client_ip')),
      method: method(get(request, 'method')),
      route: routeOf(get(request, 'uri')),
      status: status(get(response, 'status')),
      ua: headerText(get(get(request, 'headers'), 'user-agent')),
    },
    { id: 'request.id', ts: 'started_at', ip: 'client_ip', method: 'request.method', route: 'request.uri', status: 'response.status' },
    facts,
    ctx,
  );
});

const kong: GatewayAdapter = {
  name: 'kong',
  title: 'Kong Gateway log plugins (kong.log.serialize(): http-log, file-log, kafka-log, ...)',
  references: [
    'https://github.com/Kong/kong/blob/master/kong/pdk/log.lua',
    'https://github.com/Kong/kong/blob/master/kong/plugins/http-log/handler.lua',
    'https://github.com/Kong/kong/blob/master/kong/plugins/file-log/schema.lua',
    'https://github.com/Kong/kong/blob/master/kong/plugins/key-auth/schema.lua',
    'https://developer.konghq.com/plugins/kafka-log',
    'https://developer.konghq.com/plugins/file-log/',
  ],
  defaultPayloadSecrets: true,
  adapt,
  cases,
};

export default kong;
