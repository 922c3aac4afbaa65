/**
 * `npm run demo`: the whole product in one command, on real services.
 *
 *   1. starts Kafka and ClickHouse natively (scripts/services.sh up)
 *   2. starts `tokenwatch run` as a child process and waits until it is ready
 *   3. sends an hour of simulated gateway traffic (users, API keys, labelled attacks) to Kafka
 *   4. waits until the processor has committed everything, and reports its throughput
 *   5. prints the alerts read back from ClickHouse and the revocations read back from the denylist
 *
 * Options: --users N --keys N --seed N (defaults 150, 40, time-based).
 */
import { spawn, execFileSync } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { detectors } from '../detectors/index.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/telemetry/log.js';
import { kafkaBus } from '../src/io/kafka.js';
import { AlertStore } from '../src/io/clickhouse.js';
import { createSimulation } from '../src/simulate/index.js';
import { sendEvents } from '../src/cli/simulate.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const say = (s: string) => process.stdout.write(s + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(probe: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows];
  const w = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { users: { type: 'string' }, keys: { type: 'string' }, seed: { type: 'string' } } });
  say('== 1/5 services (native Kafka + ClickHouse; first run downloads the Kafka jars and installs ClickHouse)');
  execFileSync('bash', [`${root}/scripts/services.sh`, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    CLICKHOUSE_URL: process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123',
    TOKENWATCH_FP_KEY: process.env.TOKENWATCH_FP_KEY ?? `demo-${randomBytes(16).toString('hex')}`,
    TOKENWATCH_METRICS_PORT: process.env.TOKENWATCH_METRICS_PORT ?? '9464',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  };
  const config = loadConfig(detectors, env);
  const log = createLogger({ level: 'warn' });

  say('\n== 2/5 tokenwatch run');
  mkdirSync(`${root}/.services`, { recursive: true });
  const logPath = `${root}/.services/demo-processor.log`;
  const child = spawn(process.execPath, [`${root}/bin/tokenwatch.js`, 'run'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.pipe(createWriteStream(logPath));
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? 0));
  const metricsUrl = `http://127.0.0.1:${config.metricsPort}`;
  await waitFor(async () => {
    if (exited !== null) throw new Error(`tokenwatch run exited with ${exited}; see ${logPath}`);
    return (await fetch(`${metricsUrl}/readyz`)).ok;
  }, 90_000, 'tokenwatch run to become ready');
  say(`processor ready (pid ${child.pid}); metrics at ${metricsUrl}/metrics; log in ${logPath}`);

  const bus = kafkaBus(config.kafka.brokers, 'tokenwatch-demo', log);
  const store = new AlertStore(config.clickhouse, log);
  try {
    say('\n== 3/5 simulated gateway traffic → ' + config.topics.input);
    const durationSec = 3600;
    const sim = createSimulation({
      seed: Number(values.seed ?? Date.now() % 1_000_000),
      startMs: Date.now() - durationSec * 1000,
      durationSec,
      users: Number(values.users ?? 150),
      apiKeys: Number(values.keys ?? 40),
      tenants: 4,
      attacksPerKind: 3,
      fpKey: env.TOKENWATCH_FP_KEY!,
    });
    const demoStartMs = Date.now();
    const producer = await bus.producer();
    const sent = await sendEvents(sim.events(), producer, config.topics.input, {
      onProgress: (p) => say(`  sent ${p.sent} events (${p.eps}/s)`),
    });
    await producer.close();
    const sentAt = Date.now();
    say(`sent ${sent} events (one hour of traffic: ${sim.truth.length} labelled attacks among ordinary users, devices and API keys)`);

    say('\n== 4/5 waiting for tokenwatch to process and commit everything');
    const target = await bus.endOffsets(config.topics.input);
    await waitFor(async () => {
      const c = await bus.committedOffsets(config.groupId, config.topics.input);
      return Object.entries(target).every(([p, end]) => BigInt(c[Number(p)] ?? '-1') >= BigInt(end));
    }, 300_000, 'the processor to catch up');
    const doneAt = Date.now();
    const seconds = (doneAt - demoStartMs) / 1000;
    say(`processed ${sent} events in ${seconds.toFixed(1)} s end to end (send ${((sentAt - demoStartMs) / 1000).toFixed(1)} s): ${Math.round(sent / seconds)} events/s`);

    say('\n== 5/5 results');
    await waitFor(async () => (await store.query<{ n: string }>(`SELECT count() AS n FROM ${config.clickhouse.database}.alerts`)).length > 0, 10_000, 'ClickHouse');
    const since = new Date(demoStartMs - 1000).toISOString().slice(0, 19).replace('T', ' ');
    const alerts = await store.query<Record<string, string>>(
      `SELECT detector, severity, action, event_time, summary FROM ${config.clickhouse.database}.alerts FINAL ` +
        `WHERE detected_at >= toDateTime('${since}') ORDER BY event_time`,
    );
    say(`\nalerts read back from ClickHouse (${config.clickhouse.database}.alerts): ${alerts.length}`);
    say(table(alerts.map((a) => [a.event_time!, a.detector!, a.severity!, a.action!, a.summary!.length > 110 ? a.summary!.slice(0, 109) + '…' : a.summary!]), ['event_time', 'detector', 'severity', 'action', 'summary']));

    const deny: Array<{ key: string; value: Record<string, string> }> = [];
    await bus.readToEnd(config.topics.denylist, (r) => {
      if (!r.key || !r.value) return;
      const v = JSON.parse(r.value) as Record<string, string>;
      if (Date.parse(v.revoked_at!) >= demoStartMs - 1000) deny.push({ key: r.key, value: v });
    });
    say(`\nrevocations read back from the denylist topic (${config.topics.denylist}): ${deny.length}`);
    say(table(deny.slice(0, 40).map((d) => [d.key.length > 48 ? d.key.slice(0, 47) + '…' : d.key, d.value.reason!, d.value.severity!, d.value.expires_at!]), ['key', 'reason', 'severity', 'expires_at']));
    if (deny.length > 40) say(`… and ${deny.length - 40} more`);

    const byDetector = new Map<string, number>();
    for (const a of alerts) byDetector.set(a.detector!, (byDetector.get(a.detector!) ?? 0) + 1);
    const injected = new Map<string, number>();
    for (const t of sim.truth) injected.set(t.kind, (injected.get(t.kind) ?? 0) + 1);
    say(`\nlabelled attacks injected: ${[...injected].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
    say(`alerts by detector: ${[...byDetector].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}`);
    say(`\nquery them yourself:\n  clickhouse-client --query "SELECT detector, severity, action, summary FROM ${config.clickhouse.database}.alerts FINAL ORDER BY event_time DESC LIMIT 20"`);
    say(`  kcat -C -b ${config.kafka.brokers[0]} -t ${config.topics.denylist} -K '\\t' -e -q`);
    if (alerts.length === 0 || deny.length === 0) throw new Error('the demo produced no alert or no revocation; see ' + logPath);
  } finally {
    await bus.close();
    await store.close();
    child.kill('SIGTERM');
    await waitFor(async () => exited !== null, 40_000, 'tokenwatch run to stop').catch(() => child.kill('SIGKILL'));
    say(`\ntokenwatch run stopped (SIGTERM, exit ${exited}). Services keep running: npm run services -- down`);
  }
}

main().catch((e) => {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  process.exit(1);
});
