#!/usr/bin/env node
/**
 * The `tokenwatch` command line (DESIGN §7).
 */
import { parseArgs } from 'node:util';
import { createWriteStream } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { detectors } from '../../detectors/index.js';
import { loadConfig, ENV_SETTINGS, type Config } from '../config/index.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { TokenwatchError, describeError } from '../../schemas/errors.js';
import { kafkaBus } from '../io/kafka.js';
import { AlertStore } from '../io/clickhouse.js';
import { Metrics, serveMetrics } from '../telemetry/metrics.js';
import { Processor } from '../pipeline/processor.js';
import { openInput, replay } from '../pipeline/replay.js';
import { fingerprint } from '../../schemas/fingerprint.js';
import { openGeoLookup } from '../ingest/geoip/index.js';
import type { GeoLookup } from '../ingest/enrich.js';
import { unrevoke, withServices } from './unrevoke.js';
import { simulateCommand } from './simulate.js';
import { quietKnownWarnings } from '../telemetry/warnings.js';
import { breakerResetRecord, breakerResetRow, controlTopicSpec, readBreakerState } from '../respond/breaker-control.js';
import { createDenylistChecker, serveBridge } from '../bridge/index.js';

const USAGE = `tokenwatch — detect abused API credentials in gateway logs and revoke them

usage: tokenwatch <command> [options]

commands:
  run                       the stream processor: Kafka input → detectors → ClickHouse alerts + denylist
  replay <file|->           the same detectors over an NDJSON file of canonical events, no services;
                            writes alerts and revocations as NDJSON  [--out FILE]
  simulate                  realistic gateway traffic with labelled attacks (tokenwatch simulate --help)
  migrate                   create / upgrade the ClickHouse schema
  unrevoke <scope:id>       lift a revocation (tombstone on the denylist)  --reason TEXT
  breaker-reset             close the revocation circuit breaker on every instance  --reason TEXT
  denylist-server           gateway bridge: follows the denylist topic, answers GET /v1/check (NGINX
                            auth_request) and /v1/ext_authz (Envoy); listens on TOKENWATCH_BRIDGE_LISTEN
  fingerprint               read a credential on stdin, print its tfp1 fingerprint (needs TOKENWATCH_FP_KEY)
  config                    validate the configuration and print the effective settings (no secrets)

environment:
${ENV_SETTINGS.map((s) => `  ${s.name.padEnd(30)} ${s.description}${s.default !== undefined ? ` (default: ${s.default || '""'})` : ''}`).join('\n')}
`;

async function openGeo(config: Config, log: Logger): Promise<GeoLookup | undefined> {
  try {
    return await openGeoLookup(config.geoip);
  } catch (e) {
    if (config.geoip.cityDbPath || config.geoip.asnDbPath) throw e;
    log.warn({ err: describeError(e) }, 'GeoIP databases unavailable; only events with a geo field form locations');
    return undefined;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function cmdRun(): Promise<void> {
  const config = loadConfig(detectors);
  const log = createLogger({ level: config.logLevel });
  const geo = await openGeo(config, log);
  const metrics = new Metrics();
  const bus = kafkaBus(config.kafka.brokers, config.kafka.clientId, log);
  const store = new AlertStore(config.clickhouse, log);
  const processor = new Processor({ config, detectors, bus, store, log, metrics, geo });
  const server = config.metricsPort ? await serveMetrics(metrics, config.metricsPort, () => processor.isReady()) : undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing the batch, flushing, committing');
    const force = setTimeout(() => {
      log.error('graceful stop took longer than 30 s; exiting (uncommitted input is re-read on restart)');
      process.exit(1);
    }, 30_000);
    force.unref();
    await processor.stop();
    await bus.close();
    await store.close();
    server?.close();
    log.info('stopped');
    log.flush?.();
    setTimeout(() => process.exit(0), 50);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  await processor.start();
}

async function cmdMigrate(): Promise<void> {
  const config = loadConfig(detectors);
  const log = createLogger({ level: config.logLevel });
  const store = new AlertStore(config.clickhouse, log);
  try {
    await store.ping();
    const r = await store.migrate(365);
    process.stdout.write(
      `ClickHouse ${store.version.join('.')} at ${config.clickhouse.url}, database ${config.clickhouse.database}: ` +
        `${r.applied.length ? `applied migrations ${r.applied.join(', ')}` : 'schema up to date'}` +
        `${r.skipped.length ? `; skipped ${r.skipped.join(', ')} (server too old, retention falls back to dropping partitions)` : ''}\n`,
    );
  } finally {
    await store.close();
  }
}

async function cmdReplay(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string', short: 'o' }, quiet: { type: 'boolean', short: 'q' } } });
  const path = positionals[0];
  if (!path) throw new TokenwatchError('USAGE', 'replay needs an NDJSON file or - for stdin: tokenwatch replay events.ndjson [--out alerts.ndjson]');
  const config = loadConfig(detectors, { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const log = createLogger({ level: config.logLevel });
  const geo = await openGeo(config, log);
  const output = values.out ? createWriteStream(values.out) : process.stdout;
  await replay({
    config,
    detectors,
    log,
    geo,
    input: openInput(path),
    output,
    progress: values.quiet ? undefined : (l) => process.stderr.write(l + '\n'),
  });
  if (values.out) await new Promise<void>((r) => (output as ReturnType<typeof createWriteStream>).end(r));
}

async function cmdFingerprint(): Promise<void> {
  const key = process.env.TOKENWATCH_FP_KEY;
  if (!key) throw new TokenwatchError('CONFIG_INVALID', 'TOKENWATCH_FP_KEY must be set to the shared tfp1 key (at least 16 bytes) to fingerprint a credential');
  if (process.stdin.isTTY) process.stderr.write('credential (read from stdin, end with Ctrl-D): ');
  const lines = (await readStdin()).split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new TokenwatchError('USAGE', 'no credential on stdin: echo "$TOKEN" | tokenwatch fingerprint');
  for (const l of lines) process.stdout.write(fingerprint(l, key) + '\n');
}

async function cmdBreakerReset(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { reason: { type: 'string' }, actor: { type: 'string' } } });
  const reason = values.reason?.trim();
  if (!reason) throw new TokenwatchError('USAGE', 'breaker-reset needs --reason "why revocations may resume" (it is recorded in ClickHouse)');
  await withServices(async ({ config, bus, store, log }) => {
    await bus.ensureTopics([controlTopicSpec(config.topics.control)]);
    const previous = await readBreakerState(bus, config.topics.control, log);
    const actor = values.actor ?? process.env.USER ?? 'cli';
    const now = Date.now();
    const producer = await bus.producer();
    await producer.send([breakerResetRecord(config.topics.control, actor, reason, now)]);
    await producer.close();
    await store.insertAlerts([breakerResetRow(actor, reason, now, previous)]);
    const was = previous?.state === 'open' ? `it was open since ${previous.at}: ${previous.reason}` : 'it was not open';
    process.stdout.write(`breaker reset (${was}); closed record written to ${config.topics.control}, recorded in ${config.clickhouse.database}.alerts\n`);
  });
}

async function cmdDenylistServer(): Promise<void> {
  const config = loadConfig(detectors);
  const log = createLogger({ level: config.logLevel });
  const metrics = new Metrics();
  if (!config.fpKey) log.warn('TOKENWATCH_FP_KEY is not set: Authorization / X-API-Key credentials cannot be fingerprinted; only X-Tokenwatch-* headers are checked');
  const checker = createDenylistChecker({
    brokers: config.kafka.brokers,
    topic: config.topics.denylist,
    fpKey: config.fpKey,
    clientId: 'tokenwatch-bridge',
    log: log.child({ component: 'bridge' }),
    metrics,
  });
  const server = await serveBridge({ checker, host: config.bridge.host, port: config.bridge.port, metrics, log });
  const bound = server.address() as AddressInfo;
  log.info({ listen: `${config.bridge.host}:${bound.port}`, topic: config.topics.denylist }, 'denylist bridge listening; reading the denylist topic');
  checker.ready.then(
    () => log.info({ entries: checker.size }, 'denylist bridge ready'),
    (e) => {
      log.fatal({ err: describeError(e) }, 'denylist bridge cannot follow the denylist topic');
      log.flush?.();
      setTimeout(() => process.exit(1), 50);
    },
  );
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping the denylist bridge');
    server.close();
    await checker.close();
    log.flush?.();
    setTimeout(() => process.exit(0), 50);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

async function cmdConfig(): Promise<void> {
  const config = loadConfig(detectors);
  const shown = { ...config, fpKey: config.fpKey ? '[set]' : '[not set]', clickhouse: { ...config.clickhouse, password: config.clickhouse.password ? '[set]' : '' } };
  process.stdout.write(JSON.stringify(shown, null, 2) + '\n');
}

export async function main(argv: string[]): Promise<number> {
  quietKnownWarnings();
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'run':
        await cmdRun();
        return -1;
      case 'replay':
        await cmdReplay(rest);
        return 0;
      case 'simulate':
        await simulateCommand(rest);
        return 0;
      case 'migrate':
        await cmdMigrate();
        return 0;
      case 'unrevoke':
        await unrevoke(rest);
        return 0;
      case 'breaker-reset':
        await cmdBreakerReset(rest);
        return 0;
      case 'denylist-server':
        await cmdDenylistServer();
        return -1;
      case 'fingerprint':
        await cmdFingerprint();
        return 0;
      case 'config':
        await cmdConfig();
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        process.stderr.write(`tokenwatch: unknown command "${cmd}"\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    const code = e instanceof TokenwatchError ? e.code : 'ERROR';
    process.stderr.write(`tokenwatch ${cmd}: ${describeError(e)}\n`);
    return code === 'USAGE' ? 2 : 1;
  }
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''));
if (isMain) {
  main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exitCode = code;
  });
}
