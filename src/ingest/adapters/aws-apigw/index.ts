/**
 * Amazon API Gateway access logs (REST and HTTP APIs), JSON format. Users choose the key names in
 * the stage's access-log format; the recommended format (README.md) extends the JSON example of the
 * AWS docs. The `tw_*` facts come from the tokenwatch Lambda authorizer's context map
 * (`"tw_fp": "$context.authorizer.tw_fp"`).
 */
import { BAD, build, clfMs, epochMs, flatFacts, get, headerText, ip, method, pathOnly, requestId, routeOf, safeAdapter, scanNamed, status as statusOf, text, type Read } from '../common.js';
import type { GatewayAdapter } from '../types.js';
import { cases } from './cases.js';

const FP_HELP =
  'no tw_fp: return tw_fp in the tokenwatch Lambda authorizer context and add "tw_fp": "$context.authorizer.tw_fp" to the access-log format';

/** HTTP API `$context.routeKey` is "GET /pets/{id}" (or "$default"): its path part is the template. */
function routeKeyPath(v: unknown): string | undefined {
  const t = text(v);
  if (t === undefined || t === BAD) return undefined;
  const space = t.indexOf(' ');
  const path = space < 0 ? t : t.slice(space + 1);
  return path.startsWith('/') ? pathOnly(path) : undefined;
}

const adapt = safeAdapter((r, ctx, secrets) => {
  // $context.identity.apiKey is the raw API key; also any other credential-named key in the format
  scanNamed(r, '', (k) => `remove "${k}" ($context.identity.apiKey or similar) from the stage accessLogSettings format`, secrets);
  const facts = flatFacts(r, FP_HELP);
  if ('ok' in facts) return facts;
  if (facts.cred.key_id === undefined) {
    const keyId = text(get(r, 'apiKeyId'));
    if (keyId !== undefined && keyId !== BAD && keyId.length <= 256) facts.cred.key_id = keyId;
  }

  // extendedRequestId cannot be set by the caller; requestId can (any UUID in x-amzn-RequestId)
  const ext = requestId(get(r, 'extendedRequestId'));
  const [id, idField]: [Read<string>, string] = ext !== undefined ? [ext, 'extendedRequestId'] : [requestId(get(r, 'requestId')), 'requestId'];
  const epoch = get(r, 'requestTimeEpoch');
  const clf = text(get(r, 'requestTime'));
  const [ts, tsField]: [Read<number>, string] =
    text(epoch) !== undefined
      ? [epochMs(epoch, 'auto'), 'requestTimeEpoch']
      : [clf === undefined || clf === BAD ? clf : clfMs(clf), 'requestTime'];
  const templated = routeOf(get(r, 'resourcePath'));
  const route = templated !== undefined ? templated : (routeKeyPath(get(r, 'routeKey')) ?? routeOf(get(r, 'path')));
  return build(
    'aws-apigw',
    {
      id,
      ts,
      ip: ip(get(r, 'ip')),
      method: method(get(r, 'httpMethod')),
      route,
      status: statusOf(get(r, 'status')),
      ua: headerText(get(r, 'userAgent')),
    },
    { id: idField, ts: tsField, ip: 'ip', method: 'httpMethod', route: templated !== undefined ? 'resourcePath' : 'path', status: 'status' },
    facts,
    ctx,
  );
});

const awsApigw: GatewayAdapter = {
  name: 'aws-apigw',
  title: 'Amazon API Gateway access logs (REST and HTTP APIs, JSON format)',
  references: [
    'https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-access-logging.html',
    'https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-variables-for-access-logging.html',
    'https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html',
    'https://github.com/awsdocs/amazon-api-gateway-developer-guide/blob/main/doc_source/api-gateway-mapping-template-reference.md',
    'https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html',
  ],
  defaultPayloadSecrets: true,
  adapt,
  cases,
};

export default awsApigw;
