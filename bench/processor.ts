/**
 * A `tokenwatch run` child process for the bench, started the way `npm run demo` starts it
 * (bin/tokenwatch.js, configured only through the environment) on its own consumer group,
 * ClickHouse database and denylist / DLQ / control topics, with its metrics on a free port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { ROOT, freePort, metricSum, sleep, vmHwmBytes, waitFor } from './lib.js';

export interface ProcessorIds {
  group: string;
  database: string;
  input: string;
  denylist: string;
  dlq: string;
  control: string;
}

export interface ProcessorChild {
  pid: number;
  ids: ProcessorIds;
  metricsUrl: string;
  logPath: string;
  /** the Prometheus text of /metrics */
  scrape(): Promise<string>;
  /** input messages processed and made durable (tokenwatch_messages_total) */
  messages(): Promise<number>;
  /** peak RSS so far (VmHWM), bytes */
  peakRss(): number | undefined;
  /** SIGTERM, wait up to `graceMs` for the graceful stop, else SIGKILL; returns the exit code and the peak RSS just before */
  stop(graceMs?: number): Promise<{ code: number | null; peakRssBytes: number | undefined }>;
}

export async function startProcessor(opts: {
  ids: ProcessorIds;
  brokers: string;
  clickhouseUrl: string;
  configPath: string;
  logPath: string;
  nodeArgs?: string[];
}): Promise<ProcessorChild> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: opts.brokers,
    CLICKHOUSE_URL: opts.clickhouseUrl,
    CLICKHOUSE_DATABASE: opts.ids.database,
    TOKENWATCH_INPUT_TOPIC: opts.ids.input,
    TOKENWATCH_DENYLIST_TOPIC: opts.ids.denylist,
    TOKENWATCH_DLQ_TOPIC: opts.ids.dlq,
    TOKENWATCH_CONTROL_TOPIC: opts.ids.control,
    TOKENWATCH_GROUP_ID: opts.ids.group,
    TOKENWATCH_METRICS_PORT: String(port),
    TOKENWATCH_CONFIG: opts.configPath,
    TOKENWATCH_SHADOW: 'false',
    LOG_LEVEL: 'info',
  };
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), `${ROOT}bin/tokenwatch.js`, 'run'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(opts.logPath);
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      exited = code;
      r(code);
    }),
  );
  const metricsUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (exited !== undefined) throw Object.assign(new Error(`tokenwatch run exited with ${exited}; see ${opts.logPath}`), { fatal: true });
      return (await fetch(`${metricsUrl}/readyz`)).ok;
    },
    120_000,
    'tokenwatch run to become ready',
    100,
  ).catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
  const scrape = async () => (await fetch(`${metricsUrl}/metrics`)).text();
  return {
    pid: child.pid!,
    ids: opts.ids,
    metricsUrl,
    logPath: opts.logPath,
    scrape,
    async messages() {
      return metricSum(await scrape(), 'tokenwatch_messages_total');
    },
    peakRss: () => vmHwmBytes(child.pid!),
    async stop(graceMs = 45_000) {
      const peakRssBytes = vmHwmBytes(child.pid!);
      if (exited === undefined) child.kill('SIGTERM');
      const code = await Promise.race([exit, sleep(graceMs).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        await exit;
      }
      log.end();
      return { code: code === 'timeout' ? null : code, peakRssBytes };
    },
  };
}
