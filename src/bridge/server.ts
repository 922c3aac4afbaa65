/**
 * The HTTP face of the denylist bridge (`tokenwatch denylist-server`), for gateways that cannot read
 * Kafka themselves:
 *
 * - `/v1/check…` for NGINX `auth_request` (and anything that treats 2xx as allow): 204 allow,
 *   403 deny.
 * - `/v1/ext_authz…` for Envoy's HTTP `ext_authz` service (which allows only on 200): 200 allow,
 *   403 deny. Envoy appends the original path to its `path_prefix`, so any sub-path works.
 * - Deny: `403 {"revocation_id","scope","reason"}` plus the same in `X-Tokenwatch-Revocation-Id`,
 *   `-Scope`, `-Reason` headers (NGINX `auth_request_set` can log them).
 * - Until the denylist topic was read to its end, checks answer 503 (fail closed) and /readyz 503.
 * - `/healthz`, `/readyz`, `/metrics` (Prometheus).
 *
 * Any method is accepted on the check paths (proxies forward the original one); a request body is
 * ignored. Credentials in headers are fingerprinted and dropped; nothing here logs a header.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Logger } from '../telemetry/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { CheckInput, DenylistChecker } from './checker.js';
import { METRICS } from '../telemetry/catalogue.js';

/** The request headers a check reads (lower-case names). */
export const CHECK_HEADERS = {
  authorization: 'authorization',
  apiKey: 'x-api-key',
  fp: 'x-tokenwatch-fp',
  sid: 'x-tokenwatch-sid',
  keyId: 'x-tokenwatch-key-id',
  sub: 'x-tokenwatch-sub',
  iat: 'x-tokenwatch-iat',
} as const;

/** Credential headers: fingerprinted over their UTF-8 text, as the gateway snippets do. */
const CREDENTIAL_FIELDS: ReadonlySet<string> = new Set(['authorization', 'apiKey']);

/**
 * Every value of every check header, repeated headers included. Node reads header bytes as
 * latin1; a credential's bytes are read back as the UTF-8 the gateway saw, so a non-ASCII token
 * has the same tfp1 here as in the gateway's log line (gateway/vectors.json).
 */
export function checkInputFromRequest(req: IncomingMessage): CheckInput {
  const h = req.headersDistinct;
  const input: CheckInput = {};
  for (const [field, name] of Object.entries(CHECK_HEADERS) as Array<[keyof typeof CHECK_HEADERS, string]>) {
    const v = h[name];
    if (!v?.length) continue;
    input[field] = CREDENTIAL_FIELDS.has(field) ? v.map((x) => Buffer.from(x, 'latin1').toString('utf8')) : v;
  }
  return input;
}

export interface BridgeServerOptions {
  checker: DenylistChecker;
  host: string;
  /** 0 picks a free port (see `server.address()`) */
  port: number;
  metrics: Metrics;
  log: Logger;
}

export function serveBridge(opts: BridgeServerOptions): Promise<Server> {
  const { checker, metrics, log } = opts;
  const server = createServer((req, res) => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const isCheck = path === '/v1/check' || path.startsWith('/v1/check/');
    const isEnvoy = path === '/v1/ext_authz' || path.startsWith('/v1/ext_authz/');
    if (isCheck || isEnvoy) {
      res.setHeader('cache-control', 'no-store');
      if (!checker.isReady()) {
        metrics.inc(METRICS.bridge_checks_total, { result: 'not_ready' });
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"not_ready","detail":"still reading the denylist topic"}\n');
        return;
      }
      const r = checker.check(checkInputFromRequest(req));
      if (r.allow) {
        res.writeHead(isEnvoy ? 200 : 204).end();
        return;
      }
      log.debug({ revocation_id: r.revocation_id, scope: r.scope, reason: r.reason }, 'denied a revoked credential');
      res
        .writeHead(403, {
          'content-type': 'application/json',
          'x-tokenwatch-revocation-id': r.revocation_id,
          'x-tokenwatch-scope': r.scope,
          'x-tokenwatch-reason': r.reason,
        })
        .end(JSON.stringify({ revocation_id: r.revocation_id, scope: r.scope, reason: r.reason }) + '\n');
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ok = checker.isReady();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready: reading the denylist topic\n');
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics.render());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /v1/check, /v1/ext_authz, /healthz, /readyz, /metrics\n');
    }
  });
  // proxies keep upstream connections open longer than Node's 5 s default
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
