#!/usr/bin/env node
// The upstream behind the closed-loop NGINX (scripts/gateway.sh): answers every request with
// 200 and a small JSON body, /healthz with "ok". It never echoes request headers (they carry
// credentials). Usage: node gateway/loop/upstream.mjs <port> [host]
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? process.env.TOKENWATCH_UPSTREAM_PORT ?? 8087);
const host = process.argv[3] ?? '127.0.0.1';
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`upstream: port must be 1-65535, got ${process.argv[2]}`);
  process.exit(2);
}

const server = createServer((req, res) => {
  req.resume();
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  const body = JSON.stringify({ ok: true, method: req.method, path: (req.url ?? '/').split('?')[0] });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(port, host, () => console.log(`upstream listening on http://${host}:${port}`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
