/**
 * What the tests run: the processor in-process (the same object `tokenwatch run` builds), the
 * gateway bridge in-process, `bin/tokenwatch.js` as a child process (long-running, killable with
 * SIGKILL, its JSON log parsed) or as a one-shot CLI command. Everything started here is stopped
 * at teardown (services.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectors } from '../../detectors/index.js';
import type { Config } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/log.js';
import { kafkaBus, type Bus } from '../../src/io/kafka.js';
import { AlertStore } from '../../src/io/clickhouse.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Processor } from '../../src/pipeline/index.js';
import { createDenylistChecker, serveBridge, type DenylistChecker } from '../../src/bridge/index.js';
import { onTeardown, uid, type TestEnv } from './services.js';
import { ChildDied, FailNow, waitFor } from './waiting.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** Child logs go here (one file per child), so a failure can be investigated after the run. */
export const LOG_DIR = join(tmpdir(), 'tokenwatch-faults');

// ------------------------------------------------------------------------------------------------
// in-process

export interface Running {
  processor: Processor;
  bus: Bus;
  store: AlertStore;
  metrics: Metrics;
  /** stops the processor and closes its clients (once; later calls wait for the first) */
  stop(): Promise<void>;
}

/** Starts an in-process processor and waits until it has joined its consumer group. */
export async function startProcessor(t: TestEnv, overrides: Partial<Config> = {}): Promise<Running> {
  // every in-process instance is its own (the default, the host name, is shared by all of them)
  const config = { ...t.config, instanceId: uid('inst'), ...overrides };
  const log = createLogger({ level: t.env.LOG_LEVEL });
  const bus = kafkaBus(config.kafka.brokers, 'tokenwatch-test', log);
  const store = new AlertStore(config.clickhouse, log);
  const metrics = new Metrics();
  const processor = new Processor({ config, detectors, bus, store, log, metrics });
  let stopped: Promise<void> | undefined;
  const running: Running = {
    processor,
    bus,
    store,
    metrics,
    stop() {
      stopped ??= (async () => {
        await processor.stop();
        await bus.close();
        await store.close();
      })();
      return stopped;
    },
  };
  onTeardown(() => running.stop());
  let failed: unknown;
  processor.start().catch((e) => (failed = e));
  await waitFor(() => {
    if (failed) throw new FailNow(`the processor failed to start: ${String(failed)}`, { cause: failed });
    return processor.isReady();
  }, 60_000, 'processor to join its consumer group');
  return running;
}

export interface Bridge {
  url: string;
  metrics: Metrics;
  checker: DenylistChecker;
}

/** The gateway bridge (denylist checker + HTTP server on a free port) following the test's denylist, once it has read the topic. */
export async function startBridge(t: TestEnv, opts: { fpKey?: string } = {}): Promise<Bridge> {
  const log = createLogger({ level: t.env.LOG_LEVEL });
  const metrics = new Metrics();
  const checker = createDenylistChecker({ brokers: t.config.kafka.brokers, topic: t.denylist, fpKey: opts.fpKey, log, metrics });
  onTeardown(() => checker.close());
  const server: Server = await serveBridge({ checker, host: '127.0.0.1', port: 0, metrics, log });
  onTeardown(() => void server.close());
  await checker.ready;
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, metrics, checker };
}

/** The bridge's answer to a check: 204 allowed, 403 denied. */
export const bridgeStatus = async (url: string, headers: Record<string, string>) => (await fetch(`${url}/v1/check`, { headers })).status;

// ------------------------------------------------------------------------------------------------
// `bin/tokenwatch.js` as a child process

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export class Child {
  readonly proc: ChildProcess;
  readonly logs: LogLine[] = [];
  readonly logFile: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** everything it wrote to stdout and stderr, as text */
  output = '';
  private readonly out: WriteStream;
  private partial = '';

  constructor(
    readonly name: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    mkdirSync(LOG_DIR, { recursive: true });
    this.logFile = join(LOG_DIR, `${name}.log`);
    this.out = createWriteStream(this.logFile);
    this.proc = spawn(process.execPath, [join(ROOT, 'bin/tokenwatch.js'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // its own process group: only the signals this suite sends reach it
      detached: true,
    });
    const onData = (d: Buffer) => {
      this.out.write(d);
      const text = d.toString('utf8');
      this.output += text;
      const lines = (this.partial + text).split('\n');
      this.partial = lines.pop() ?? '';
      for (const l of lines) {
        if (!l.startsWith('{')) continue;
        try {
          this.logs.push(JSON.parse(l) as LogLine);
        } catch {
          // a line cut by SIGKILL
        }
      }
    };
    this.proc.stdout!.on('data', onData);
    this.proc.stderr!.on('data', onData);
    this.exited = new Promise((r) =>
      this.proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.out.end();
        r({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  find(msg: string | RegExp): LogLine[] {
    return this.logs.filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg)));
  }

  /** Waits for a log line; fails early (with the log's tail) when the child exits first. */
  async waitLog(msg: string | RegExp, timeoutMs: number, pred: (l: LogLine) => boolean = () => true, after = 0): Promise<LogLine> {
    return waitFor(() => {
      const hit = this.find(msg).slice(after).find(pred);
      if (hit) return hit;
      if (!this.alive) throw new ChildDied(`${this.name} exited (${this.why()}) before logging "${String(msg)}"; log ${this.logFile}:\n${this.tail()}`);
      return undefined;
    }, timeoutMs, `${this.name} to log "${String(msg)}" (log: ${this.logFile})`);
  }

  /** Consuming with at least one partition (ready); for `tokenwatch run`. */
  async ready(timeoutMs = 60_000): Promise<void> {
    await this.waitLog('partitions assigned', timeoutMs, (l) => Array.isArray(l.partitions) && l.partitions.length > 0);
  }

  /** How the child ended, saying so when the signal did not come from this suite. */
  why(): string {
    if (!this.exit) return 'running';
    const { code, signal } = this.exit;
    if (signal && !this.sent.includes(signal)) return `killed by ${signal}, which this suite did not send (another process signalled it)`;
    return signal ? `killed by ${signal}` : `exit code ${code}`;
  }

  tail(n = 15): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-n).join('\n');
    } catch {
      return '';
    }
  }

  /** signals this suite sent (an exit by any other signal came from outside the test) */
  readonly sent: NodeJS.Signals[] = [];

  private signal(s: NodeJS.Signals): void {
    this.sent.push(s);
    this.proc.kill(s);
  }

  async kill9(): Promise<void> {
    if (!this.alive) return;
    this.signal('SIGKILL');
    await this.exited;
  }

  /** Graceful stop (SIGTERM: finish the batch, flush, commit, leave the group); SIGKILL after `timeoutMs`. */
  async term(timeoutMs = 40_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.alive) return this.exit!;
    this.signal('SIGTERM');
    const t = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }

  stop(): void {
    this.signal('SIGSTOP');
  }

  cont(): void {
    this.signal('SIGCONT');
  }

  /** Peak resident set (VmHWM) and current RSS from /proc, kB. */
  memory(): { rssKb: number; peakKb: number } | undefined {
    try {
      const s = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
      return { rssKb: kb('VmRSS'), peakKb: kb('VmHWM') };
    } catch {
      return undefined;
    }
  }
}

/** Every child still to be swept. */
const children = new Set<Child>();
// children run in their own process group: take them down with the test process whatever happens
process.on('exit', () => {
  for (const c of children) if (c.alive) c.proc.kill('SIGKILL');
});

/** Starts `node bin/tokenwatch.js <args>` with the test env (env only: PATH, HOME, the test's settings and `extra`); killed at teardown (services.ts). */
export function spawnTokenwatch(t: TestEnv, name: string, args: string[], extra: NodeJS.ProcessEnv = {}): Child {
  const c = new Child(`${name}-${uid('p')}`, args, { ...t.env, ...extra });
  children.add(c);
  onTeardown(async () => {
    if (c.alive) {
      c.cont();
      await c.kill9();
    }
    children.delete(c);
  });
  return c;
}

/** Starts `tokenwatch run` with the test env (logs at info, JSON, to a file). */
export function spawnRun(t: TestEnv, name: string, extra: NodeJS.ProcessEnv = {}): Child {
  return spawnTokenwatch(t, name, ['run'], { LOG_LEVEL: 'info', ...extra });
}

/** Runs one `tokenwatch <args>` command to its end with the test env on top of this process's. */
export function runCli(t: TestEnv, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['bin/tokenwatch.js', ...args], { env: { ...process.env, ...t.env }, cwd: process.cwd() });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A free TCP port (for a child's metrics or bridge endpoint; TOKENWATCH_METRICS_PORT=0 disables metrics). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Scrapes a child's /metrics into name{labels} -> value. */
export async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const out = new Map<string, number>();
  for (const l of text.split('\n')) {
    if (!l || l.startsWith('#')) continue;
    const i = l.lastIndexOf(' ');
    out.set(l.slice(0, i), Number(l.slice(i + 1)));
  }
  return out;
}
