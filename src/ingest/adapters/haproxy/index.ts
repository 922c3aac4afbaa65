/**
 * HAProxy JSON log (HAProxy >= 3.0 `log-format "%{+json}o %(name)…"` named items, README.md).
 * The `tw_*` facts are transaction variables set by the tokenwatch HAProxy snippet
 * (`%(tw_fp)[var(txn.tw_fp)]`). Values of unset variables are logged as "-", "" or null.
 */
import { build, epochMs, flatFacts, get, headerText, ip, method, requestId, routeOf, safeAdapter, scanNamed, scanQuery, status, text, BAD } from '../common.js';
import type { GatewayAdapter } from '../types.js';
import { cases } from './cases.js';

const MS_RE = /^\d{1,3}$/;
const FP_HELP = 'no tw_fp: load the tokenwatch HAProxy snippet (sets txn.tw_fp) and add %(tw_fp)[var(txn.tw_fp)] to log-format';

/** `time_ms` (request_date(ms)); else `ts` (%Ts, seconds) plus `ms` (%ms, "042"). */
function timeOf(r: Record<string, unknown>): [ReturnType<typeof epochMs>, string] {
  const timeMs = get(r, 'time_ms');
  if (text(timeMs) !== undefined) return [epochMs(timeMs, 'ms'), 'time_ms'];
  const seconds = epochMs(get(r, 'ts'), 's');
  if (seconds === undefined || seconds === BAD) return [seconds, 'ts'];
  const ms = text(get(r, 'ms'));
  if (ms === undefined) return [seconds, 'ts'];
  if (ms === BAD || !MS_RE.test(ms)) return [BAD, 'ms'];
  return [seconds + Number(ms), 'ts'];
}

const adapt = safeAdapter((r, ctx, secrets) => {
  scanNamed(r, '', (k) => `log-format: remove the %(${k}) item`, secrets);
  scanQuery(get(r, 'path'), 'path', 'log-format: log %(path)HPO (path only), not %HU or %r', secrets);
  const facts = flatFacts(r, FP_HELP);
  if ('ok' in facts) return facts;
  const [ts, tsField] = timeOf(r);
  return build(
    'haproxy',
    {
      id: requestId(get(r, 'request_id')),
      ts,
      ip: ip(get(r, 'client_ip')),
      method: method(get(r, 'method')),
      route: routeOf(get(r, 'path')),
      status: status(get(r, 'status')),
      ua: headerText(get(r, 'user_agent')),
    },
    { id: 'request_id', ts: tsField, ip: 'client_ip', method: 'method', route: 'path', status: 'status' },
    facts,
    ctx,
  );
});

const haproxy: GatewayAdapter = {
  name: 'haproxy',
  title: 'HAProxy JSON log-format (%{+json}o with named items, HAProxy 3.0+)',
  references: [
    'https://docs.haproxy.org/3.2/configuration.html#8.2.6',
    'https://github.com/haproxy/haproxy/blob/master/doc/configuration.txt',
    'https://www.haproxy.com/blog/encoding-haproxy-logs-in-machine-readable-json-or-cbor',
    'https://docs.haproxy.org/3.2/configuration.html#4.2-unique-id-format',
  ],
  defaultPayloadSecrets: false,
  adapt,
  cases,
};

export default haproxy;
