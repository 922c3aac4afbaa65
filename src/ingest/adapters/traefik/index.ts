/**
 * Traefik Proxy JSON access log (`accessLog.format: json`). Core fields have fixed names
 * (pkg/middlewares/accesslog/logdata.go); request headers appear as `request_<Canonical-Name>` only
 * when `accessLog.fields.headers` keeps them (they are dropped by default). Traefik has no custom
 * log-field mechanism, so the tokenwatch Traefik plugin passes the `tw_*` facts as request headers
 * `X-Tw-*`, kept in the log (`request_X-Tw-Fp`, ...); top-level `tw_*` keys are read first.
 */
import { build, BAD, get, headerText, ip, method, readFacts, requestId, routeOf, safeAdapter, scanNamed, scanQuery, status, text, timeMs, type TwKey, TW_KEYS } from '../common.js';
import type { GatewayAdapter } from '../types.js';
import { cases } from './cases.js';

const FP_HELP =
  'no tw_fp: load the tokenwatch Traefik plugin (sets X-Tw-Fp) and keep the header: accessLog.fields.headers.names.X-Tw-Fp: keep';

/** `tw_cred_type` → `X-Tw-Cred-Type` (Go canonical header form). */
function headerName(key: TwKey): string {
  return `X-${key
    .split('_')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('-')}`;
}

/** Where each fact may sit, in order: top-level key, request header, response header. */
const FACT_KEYS: ReadonlyMap<TwKey, readonly string[]> = new Map(
  TW_KEYS.map((k) => [k, [k, `request_${headerName(k)}`, `downstream_${headerName(k)}`]] as const),
);

/** ClientHost is the X-Forwarded-For value when a trusted proxy sent one: take its last hop. */
function clientHost(v: unknown) {
  const t = text(v);
  if (t === undefined || t === BAD) return t;
  const comma = t.lastIndexOf(',');
  return ip(comma < 0 ? t : t.slice(comma + 1));
}

const adapt = safeAdapter((r, ctx, secrets) => {
  // request_<Header>, origin_<Header>, downstream_<Header>: kept headers; other keys are Traefik's own
  scanNamed(r, '', (k) => `accessLog.fields.headers.names.${k.slice(k.indexOf('_') + 1)}: drop (or redact)`, secrets);
  scanQuery(get(r, 'RequestPath'), 'RequestPath', 'accessLog.fields.queryParameters.defaultMode: drop', secrets);

  const facts = readFacts((k) => {
    for (const name of FACT_KEYS.get(k)!) {
      const v = get(r, name);
      if (v !== undefined && v !== null && v !== '' && v !== '-') return v;
    }
    return undefined;
  }, FP_HELP);
  if ('ok' in facts) return facts;

  const hostSet = text(get(r, 'ClientHost')) !== undefined;
  return build(
    'traefik',
    {
      id: requestId(get(r, 'request_X-Request-Id')),
      ts: timeMs(get(r, 'StartUTC'), 's'),
      ip: hostSet ? clientHost(get(r, 'ClientHost')) : ip(get(r, 'ClientAddr')),
      method: method(get(r, 'RequestMethod')),
      route: routeOf(get(r, 'RequestPath')),
      status: status(get(r, 'DownstreamStatus')),
      ua: headerText(get(r, 'request_User-Agent')),
    },
    {
      id: 'request_X-Request-Id',
      ts: 'StartUTC',
      ip: hostSet ? 'ClientHost' : 'ClientAddr',
      method: 'RequestMethod',
      route: 'RequestPath',
      status: 'DownstreamStatus',
    },
    facts,
    ctx,
  );
});

const traefik: GatewayAdapter = {
  name: 'traefik',
  title: 'Traefik Proxy JSON access log (accessLog.format: json)',
  references: [
    'https://github.com/traefik/traefik/blob/master/pkg/middlewares/accesslog/logdata.go',
    'https://github.com/traefik/traefik/blob/master/pkg/middlewares/accesslog/logger.go',
    'https://github.com/traefik/traefik/blob/master/pkg/observability/types/logs.go',
    'https://github.com/traefik/traefik/blob/master/pkg/middlewares/forwardedheaders/forwarded_header.go',
    'https://doc.traefik.io/traefik/observability/access-logs/',
  ],
  defaultPayloadSecrets: true,
  adapt,
  cases,
};

export default traefik;
