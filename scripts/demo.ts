/**
 * `npm run demo`: the whole product in one command, on real services.
 *
 *   1. starts Kafka and ClickHouse natively (scripts/services.sh up)
 *   2. starts `tokenwatch run` as a child process and waits until it is ready
 *   3. sends an hour of simulated gateway traffic (users, API keys, labelled attacks) to Kafka
 *   4. waits until the processor has committed everything, and reports its throughput
 *   5. prints the alerts read back from ClickHouse and the revocations read back from the denylist
 *
 *   6. with --gateway: the closed loop with a real NGINX (scripts/gateway.sh): NGINX + njs logs
 *      through rsyslog/omkafka to Kafka, tokenwatch reads those lines with the NGINX adapter, a
 *      token replayed from two networks is revoked, and NGINX itself answers 403 for it through
 *      `tokenwatch denylist-server` (auth_request) while its owner's other token still gets 200
 *
 * Options: --users N --keys N --seed N (defaults 150, 40, time-based), --gateway.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
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
  const { values } = parseArgs({ options: { users: { type: 'string' }, keys: { type: 'string' }, seed: { type: 'string' }, gateway: { type: 'boolean' } } });
  const steps = values.gateway ? 6 : 5;
  say(`== 1/${steps} services (native Kafka + ClickHouse; first run downloads the Kafka jars and installs ClickHouse)`);
  execFileSync('bash', [`${root}/scripts/services.sh`, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    CLICKHOUSE_URL: process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123',
    TOKENWATCH_FP_KEY: process.env.TOKENWATCH_FP_KEY ?? `demo-${randomBytes(16).toString('hex')}`,
    TOKENWATCH_METRICS_PORT: process.env.TOKENWATCH_METRICS_PORT ?? '9464',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    // with --gateway the processor also reads the NGINX lines the loop ships (the NGINX adapter)
    ...(values.gateway
      ? { TOKENWATCH_INPUT_TOPIC: `gateway.access-logs,${GATEWAY.topic}`, TOKENWATCH_INPUT_FORMAT: `${GATEWAY.topic}=nginx`, TOKENWATCH_BRIDGE_LISTEN: `127.0.0.1:${GATEWAY.bridge}` }
      : {}),
  };
  const config = loadConfig(detectors, env);
  const log = createLogger({ level: 'warn' });

  say(`\n== 2/${steps} tokenwatch run`);
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
    say(`\n== 3/${steps} simulated gateway traffic → ${config.topics.input}`);
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

    say(`\n== 4/${steps} waiting for tokenwatch to process and commit everything`);
    const target = await bus.endOffsets(config.topics.input);
    await waitFor(async () => {
      const c = await bus.committedOffsets(config.groupId, config.topics.input);
      return Object.entries(target).every(([p, end]) => BigInt(c[Number(p)] ?? '-1') >= BigInt(end));
    }, 300_000, 'the processor to catch up');
    const doneAt = Date.now();
    const seconds = (doneAt - demoStartMs) / 1000;
    say(`processed ${sent} events in ${seconds.toFixed(1)} s end to end (send ${((sentAt - demoStartMs) / 1000).toFixed(1)} s): ${Math.round(sent / seconds)} events/s`);

    say(`\n== 5/${steps} results`);
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
    // the topic is compacted: several findings revoking one key leave its latest record
    const latest = [...new Map(deny.map((d) => [d.key, d])).values()];
    deny.length = 0;
    deny.push(...latest);
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
    if (values.gateway) await gatewayLoop(env, `${steps}/${steps}`);
  } finally {
    await bus.close();
    await store.close();
    child.kill('SIGTERM');
    await waitFor(async () => exited !== null, 40_000, 'tokenwatch run to stop').catch(() => child.kill('SIGKILL'));
    say(`\ntokenwatch run stopped (SIGTERM, exit ${exited}). Services keep running: npm run services -- down`);
  }
}

/** Where the demo's own gateway loop listens (not the ports `npm run services` may use for its loop). */
const GATEWAY = { topic: 'gateway.nginx.demo', nginx: 18088, bridge: 18089, syslog: 15514, upstream: 18087, dir: `${root}/.services/demo-gateway` };

const b64u = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
/** A JWT-shaped fake access token: random signature, valid nowhere. */
const fakeJwt = (sub: string) =>
  `${b64u('{"alg":"RS256","kid":"demo"}')}.${b64u(JSON.stringify({ sub, sid: `demo-${randomBytes(4).toString('hex')}`, exp: Math.floor(Date.now() / 1000) + 3600 }))}.${randomBytes(32).toString('base64url')}`;

/**
 * The closed loop with a real NGINX: its JSON access log goes through rsyslog/omkafka to Kafka,
 * tokenwatch reads it with the NGINX adapter, and NGINX asks `tokenwatch denylist-server` before
 * every request. A token replayed from two networks (X-Forwarded-For, trusted from 127.0.0.1)
 * ends in 403 from NGINX; the owner's other token and another user's still get 200.
 */
async function gatewayLoop(env: NodeJS.ProcessEnv, step: string): Promise<void> {
  say(`\n== ${step} a real gateway: NGINX → rsyslog omkafka → Kafka → tokenwatch → denylist → NGINX auth_request`);
  const genv: NodeJS.ProcessEnv = {
    ...env,
    TOKENWATCH_SERVICES_DIR: GATEWAY.dir,
    TOKENWATCH_GATEWAY_TOPIC: GATEWAY.topic,
    TOKENWATCH_NGINX_PORT: String(GATEWAY.nginx),
    TOKENWATCH_BRIDGE_PORT: String(GATEWAY.bridge),
    TOKENWATCH_SYSLOG_PORT: String(GATEWAY.syslog),
    TOKENWATCH_UPSTREAM_PORT: String(GATEWAY.upstream),
    TOKENWATCH_METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
  };
  execFileSync('bash', [`${root}/scripts/gateway.sh`, 'install'], { stdio: ['ignore', 'inherit', 'inherit'], env: genv });
  let bridge: ChildProcess | undefined;
  try {
    bridge = spawn(process.execPath, [`${root}/bin/tokenwatch.js`, 'denylist-server'], { env: genv, stdio: ['ignore', 'ignore', 'pipe'] });
    bridge.stderr!.pipe(createWriteStream(`${root}/.services/demo-bridge.log`));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${GATEWAY.bridge}/readyz`)).ok, 60_000, 'the denylist-server to read the denylist');
    execFileSync('bash', [`${root}/scripts/gateway.sh`, 'up'], { stdio: ['ignore', 'ignore', 'inherit'], env: genv });
    const get = async (token: string, from: string) =>
      (await fetch(`http://127.0.0.1:${GATEWAY.nginx}/v1/orders/42`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': from, 'user-agent': 'demo/1' } })).status;
    const owner = fakeJwt('user-1'), ownerOther = fakeJwt('user-1'), other = fakeJwt('user-2');
    const LONDON = '81.2.69.160', STOCKHOLM = '89.160.20.112';
    say(`requests through NGINX on http://127.0.0.1:${GATEWAY.nginx} (client addresses by X-Forwarded-For):`);
    say(`  user-2's token from ${LONDON}: ${await get(other, LONDON)}`);
    // the owner in London and a copy in Stockholm take turns; the first request from the second
    // network is what gives the copy away (1,400 km in a fraction of a second, two networks)
    let secondNetworkAt = 0;
    let deniedAt = 0;
    for (let i = 0; i < 8 && !deniedAt; i++) {
      const from = i % 2 === 0 ? LONDON : STOCKHOLM;
      const sentAt = performance.now();
      if (i === 1) secondNetworkAt = sentAt;
      const status = await get(owner, from);
      if (status === 403) deniedAt = sentAt;
      say(`  user-1's token from ${from} (${i % 2 === 0 ? 'the owner, London' : 'a copy, Stockholm'}): ${status}`);
      await sleep(100);
    }
    if (!deniedAt) {
      await waitFor(async () => (await get(owner, LONDON)) === 403, 60_000, 'NGINX to deny the replayed token');
      deniedAt = performance.now();
    }
    say(`  user-1's token is denied by NGINX ${Math.round(deniedAt - secondNetworkAt)} ms after the first request from the second network`);
    say(`  user-1's other token: ${await get(ownerOther, LONDON)}; user-2's token: ${await get(other, LONDON)}`);
    say(`the NGINX config is gateway/nginx/, the fingerprint snippet gateway/nginx/tokenwatch.js; stop the loop with: TOKENWATCH_SERVICES_DIR=${GATEWAY.dir} bash scripts/gateway.sh down`);
  } finally {
    try {
      execFileSync('bash', [`${root}/scripts/gateway.sh`, 'down'], { stdio: ['ignore', 'ignore', 'inherit'], env: genv });
    } catch {
      // reported by the script itself
    }
    bridge?.kill('SIGTERM');
  }
}

main().catch((e) => {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  process.exit(1);
});
