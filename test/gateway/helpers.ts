/**
 * Helpers for the gateway suites: real processes (NGINX, HAProxy, interpreters) on 127.0.0.1,
 * raw HTTP requests (header values as UTF-8 bytes, which Node's http client refuses), and
 * process bookkeeping so every suite stops what it started.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The ports of one gateway loop (scripts/gateway.sh): NGINX, the denylist-server, syslog (UDP), the upstream. */
export interface LoopPorts {
  nginx: number;
  bridge: number;
  syslog: number;
  upstream: number;
}

/** The environment scripts/gateway.sh and the loop's processes run with (this process's, plus the loop's own). */
export function loopEnv(o: { dir: string; fpKey: string; brokers: string; topic: string; denylist: string; ports: LoopPorts }, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
    TOKENWATCH_SERVICES_DIR: o.dir,
    TOKENWATCH_FP_KEY: o.fpKey,
    KAFKA_BROKERS: o.brokers,
    TOKENWATCH_GATEWAY_TOPIC: o.topic,
    TOKENWATCH_DENYLIST_TOPIC: o.denylist,
    TOKENWATCH_NGINX_PORT: String(o.ports.nginx),
    TOKENWATCH_BRIDGE_PORT: String(o.ports.bridge),
    TOKENWATCH_SYSLOG_PORT: String(o.ports.syslog),
    TOKENWATCH_UPSTREAM_PORT: String(o.ports.upstream),
    ...extra,
  };
}

/** Fails (never skips) when a runtime the suite needs is missing. */
export function need(cmd: string, hint: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (r.status !== 0 || !path) throw new Error(`${cmd} is not installed: ${hint}`);
  return path;
}

/** Runs a command to completion; throws with its output on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
  });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Children started by a suite, stopped by {@link stopAll} (afterAll). */
const children = new Set<ChildProcess>();

export function start(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess & { output: () => string } {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return Object.assign(child, { output: () => out });
}

export async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => stop(c)));
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP/1.1 GET over a fresh connection; header values are sent as UTF-8 bytes. */
export async function rawRequest(port: number, path: string, headers: Array<[string, string]>): Promise<RawResponse> {
  return rawExchange(port, 'GET', path, headers, '');
}

/** One form POST (application/x-www-form-urlencoded). */
export async function rawPost(port: number, path: string, body: string, headers: Array<[string, string]> = []): Promise<RawResponse> {
  return rawExchange(port, 'POST', path, [['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Length', String(Buffer.byteLength(body))], ...headers], body);
}

async function rawExchange(port: number, method: string, path: string, headers: Array<[string, string]>, body: string): Promise<RawResponse> {
  const head = Buffer.concat([
    Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n`, 'latin1'),
    ...headers.map(([k, v]) => Buffer.concat([Buffer.from(`${k}: `, 'latin1'), Buffer.from(v, 'utf8'), Buffer.from('\r\n', 'latin1')])),
    Buffer.from('\r\n', 'latin1'),
    Buffer.from(body, 'utf8'),
  ]);
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.setTimeout(10_000, () => sock.destroy(new Error(`no answer from 127.0.0.1:${port}${path}`)));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const lines = head.split('\r\n');
      const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const hdrs: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) hdrs[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status, headers: hdrs, body: rest.join('\r\n\r\n') });
    });
    sock.write(head);
  });
}

export async function waitFor(what: string, ms: number, probe: () => Promise<boolean> | boolean, why: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${ms} ms\n${why()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Credentials a log must never contain: the stripped values long enough not to occur by chance. */
export function secretsOf(credentials: string[]): string[] {
  return credentials.map((c) => c.trim().replace(/^bearer(?:\s+|$)/i, '').trim()).filter((c) => c.length >= 8);
}

/** A free UDP port on 127.0.0.1 (the syslog listener of the loop). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const b64u = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

/** A JWT-shaped fake access token (random kid and signature): valid nowhere, fingerprinted like a real one. */
export function fakeJwt(claims: Record<string, unknown>): string {
  const header = b64u(JSON.stringify({ alg: 'RS256', kid: `loop-${randomBytes(6).toString('hex')}` }));
  return `${header}.${b64u(JSON.stringify(claims))}.${randomBytes(32).toString('base64url')}`;
}

/** A live kcat tail of a topic: each record (Kafka timestamp, key, value) with `clock()` when it arrived here. */
export interface KafkaTail {
  records: Array<{ at: number; ts: number; key: string; value: string }>;
  output: () => string;
}

export function kcatTail(topic: string, opts: { brokers: string; env?: NodeJS.ProcessEnv; clock?: () => number }): KafkaTail {
  const clock = opts.clock ?? Date.now;
  const records: KafkaTail['records'] = [];
  const k = start('kcat', ['-C', '-b', opts.brokers, '-t', topic, '-o', 'beginning', '-u', '-q', '-f', '%T\\t%k\\t%s\\n'], { env: opts.env });
  let buffered = '';
  k.stdout?.on('data', (d: Buffer) => {
    const at = clock();
    buffered += d.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const [ts = '', key = '', ...rest] = line.split('\t');
      records.push({ at, ts: Number(ts), key, value: rest.join('\t') });
    }
  });
  return { records, output: () => k.output() };
}
