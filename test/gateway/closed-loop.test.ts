/**
 * The whole closed loop, every piece a real process: NGINX + njs → UDP syslog → rsyslog omkafka
 * (lz4) → Kafka → `tokenwatch run` (nginx adapter, bundled GeoIP / ASN databases, detectors) →
 * ClickHouse alert + denylist revocation → `tokenwatch denylist-server` → NGINX auth_request 403.
 *
 * A benign owner token is used from London; a stolen token is used alternately from London
 * (AS20712) and Stockholm (AS29518): multi_ip_replay fires and revokes it. The stolen token must
 * then be denied at the gateway (the request → 403 latency is printed) while the owner's other
 * tokens keep working, the alert must be in ClickHouse under the stolen token's tfp1, and no raw
 * token (nor its payload or signature segment) may appear in any topic or child output.
 *
 * Kafka: KAFKA_BROKERS, else 127.0.0.1:9092; ClickHouse: CLICKHOUSE_URL, else http://127.0.0.1:8123.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { fingerprint } from '../../schemas/fingerprint.js';
import { changelogTopic } from '../../src/pipeline/topics.js';
import { freePort, need, rawRequest, ROOT, run, start, stop, stopAll, waitFor } from './helpers.js';

const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const CLICKHOUSE = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
const KEY = 'loop-' + randomBytes(16).toString('hex');
const RUN = randomBytes(4).toString('hex');
const TOPIC = `gateway.nginx.closed-${RUN}`;
const DENYLIST = `auth.denylist.closed-${RUN}`;
const DLQ = `tokenwatch.dlq.closed-${RUN}`;
const CONTROL = `tokenwatch.control.closed-${RUN}`;
const GROUP = `tw-closed-${RUN}`;
const DB = `tw_loop_${RUN}`;
const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-closed-'));
const GATEWAY = join(ROOT, 'scripts/gateway.sh');
const TW = join(ROOT, 'bin/tokenwatch.js');

const LONDON = '81.2.69.160'; // AS20712
const STOCKHOLM = '89.160.20.112'; // AS29518

async function freeUdpPort(): Promise<number> {
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
/** A JWT-shaped fake access token (random signature, never valid anywhere). */
function fakeJwt(claims: Record<string, unknown>): string {
  return `${b64u('{"alg":"RS256","kid":"loop-test"}')}.${b64u(JSON.stringify(claims))}.${randomBytes(32).toString('base64url')}`;
}

const exp = Math.floor(Date.now() / 1000) + 3600;
const token = (sid: string) => fakeJwt({ sub: `alice-${RUN}`, sid: `${sid}-${RUN}`, jti: randomBytes(8).toString('hex'), exp, client_id: 'loop-app', tenant: 'acme' });
const OWNER = token('owner');
const STOLEN = token('stolen');
const OTHER = token('other');
const STOLEN_FP = fingerprint(STOLEN, KEY);

let env: NodeJS.ProcessEnv;
let ports: { nginx: number; bridge: number; syslog: number; upstream: number; metrics: number };
let bridge: ReturnType<typeof start> | undefined;
let tw: ReturnType<typeof start> | undefined;
const t0 = performance.now();

function gateway(cmd: string): string {
  return run('bash', [GATEWAY, cmd], { env, timeoutMs: 120_000 });
}

async function use(raw: string, xff: string, path = '/v1/orders/1'): Promise<number> {
  return (await rawRequest(ports.nginx, path, [['X-Forwarded-For', xff], ['User-Agent', 'loop-test/1'], ['Authorization', `Bearer ${raw}`]])).status;
}

async function clickhouse(sql: string): Promise<string> {
  const r = await fetch(`${CLICKHOUSE}/`, { method: 'POST', body: sql });
  const text = await r.text();
  if (!r.ok) throw new Error(`ClickHouse ${r.status}: ${text}`);
  return text;
}

/** Every record of a topic (key TAB value per line); '' when the topic does not exist. */
function consumeAll(topic: string): string {
  const r = spawnSync('kcat', ['-C', '-b', BROKERS, '-t', topic, '-o', 'beginning', '-e', '-u', '-q', '-f', '%k\\t%s\\n'], { encoding: 'utf8', timeout: 30_000 });
  return (r.stdout ?? '') + (r.status === 0 ? '' : `\n[kcat ${topic} exited ${r.status}: ${r.stderr}]`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  need('kcat', 'apt-get install -y kcat (scripts/services.sh installs it)');
  run('bash', [GATEWAY, 'install'], { timeoutMs: 900_000 });
  ports = { nginx: await freePort(), bridge: await freePort(), syslog: await freeUdpPort(), upstream: await freePort(), metrics: await freePort() };
  env = {
    ...process.env,
    PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
    TOKENWATCH_SERVICES_DIR: dir,
    TOKENWATCH_FP_KEY: KEY,
    KAFKA_BROKERS: BROKERS,
    TOKENWATCH_GATEWAY_TOPIC: TOPIC,
    TOKENWATCH_DENYLIST_TOPIC: DENYLIST,
    TOKENWATCH_NGINX_PORT: String(ports.nginx),
    TOKENWATCH_BRIDGE_PORT: String(ports.bridge),
    TOKENWATCH_BRIDGE_LISTEN: `127.0.0.1:${ports.bridge}`,
    TOKENWATCH_SYSLOG_PORT: String(ports.syslog),
    TOKENWATCH_UPSTREAM_PORT: String(ports.upstream),
    LOG_LEVEL: 'warn',
  };
  bridge = start('node', [TW, 'denylist-server'], { env });
  await waitFor('denylist-server', 30_000, async () => (await rawRequest(ports.bridge, '/readyz', [])).status === 200, () => bridge?.output() ?? '');
  gateway('up');
  tw = start('node', [TW, 'run'], {
    env: {
      ...env,
      LOG_LEVEL: 'info',
      TOKENWATCH_INPUT_TOPIC: TOPIC,
      TOKENWATCH_INPUT_FORMAT: 'nginx',
      TOKENWATCH_GROUP_ID: GROUP,
      TOKENWATCH_INSTANCE_ID: `closed-${RUN}`,
      TOKENWATCH_DLQ_TOPIC: DLQ,
      TOKENWATCH_CONTROL_TOPIC: CONTROL,
      TOKENWATCH_METRICS_PORT: String(ports.metrics),
      CLICKHOUSE_URL: CLICKHOUSE,
      CLICKHOUSE_DATABASE: DB,
    },
  });
  await waitFor('tokenwatch run /readyz', 90_000, async () => {
    if (tw?.exitCode !== null) throw new Error('exited');
    return (await rawRequest(ports.metrics, '/readyz', [])).status === 200;
  }, () => tw?.output() ?? '');
}, 900_000);

afterAll(async () => {
  try {
    if (tw) await stop(tw);
    if (env) gateway('down');
  } finally {
    await stopAll();
    await clickhouse(`DROP DATABASE IF EXISTS ${DB}`).catch(() => undefined);
    const admin = new kafkajs.Kafka({ brokers: BROKERS.split(','), logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin
      .connect()
      .then(async () => {
        const existing = new Set(await admin.listTopics());
        const mine = [TOPIC, DENYLIST, DLQ, CONTROL].concat([...existing].filter((t) => t.startsWith(`tokenwatch.${GROUP}.`) || t === changelogTopic(GROUP)));
        await admin.deleteTopics({ topics: [...new Set(mine)].filter((t) => existing.has(t)) });
      })
      .catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    console.log(`closed loop suite: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}, 120_000);

describe('closed loop: NGINX → Kafka → tokenwatch run → denylist → NGINX 403', () => {
  it('revokes a replayed stolen token at the gateway, alerts in ClickHouse, and leaks no raw token', async () => {
    // (1) benign: the owner's token from one place
    for (let i = 0; i < 3; i++) expect(await use(OWNER, LONDON, `/v1/orders/${i}`)).toBe(200);

    // (2) attack: the stolen token alternately from London and Stockholm, 6 requests 300 ms
    // apart. Between them the stolen token is polled through NGINX every 50 ms from the address of
    // the attack request just made (so the polls add no alternation) until it is denied; the
    // attack requests go on regardless (a denied request still counts for the detectors).
    const sent: Array<{ at: number; status: number }> = [];
    let deniedAt = 0;
    const poll = async (xff: string, until: number) => {
      while (!deniedAt && Date.now() < until) {
        await sleep(50);
        if ((await use(STOLEN, xff, '/v1/export/poll')) === 403) deniedAt = Date.now();
      }
    };
    for (let i = 0; i < 6; i++) {
      const xff = i % 2 === 0 ? LONDON : STOCKHOLM;
      const at = Date.now();
      const status = await use(STOLEN, xff, `/v1/export/${i}`);
      sent.push({ at, status });
      if (status === 403 && !deniedAt) deniedAt = Date.now();
      if (i < 5) await poll(xff, at + 300);
      else await poll(xff, at + 30_000);
    }
    expect(deniedAt, `the stolen token was not denied within 30 s\nrun:\n${tw?.output()}\nbridge:\n${bridge?.output()}`).toBeGreaterThan(0);
    expect(sent[0]!.status).toBe(200);
    const denied = await rawRequest(ports.nginx, '/v1/export/again', [['X-Forwarded-For', LONDON], ['Authorization', `Bearer ${STOLEN}`]]);
    expect(denied.status).toBe(403);
    expect(denied.headers['x-tokenwatch-revocation-id']).toMatch(/\S/);

    // the owner's other token (same subject) and the benign token still work
    expect(await use(OTHER, LONDON)).toBe(200);
    expect(await use(OWNER, LONDON)).toBe(200);

    // (3) the alerts in ClickHouse, under the stolen token's tfp1
    type Row = { detector: string; credential_fp: string; action: string; revocation_ids: string[]; asns: number[]; event_time_ms: string };
    let rows: Row[] = [];
    const select = `SELECT detector, toString(credential_fp) AS credential_fp, action, revocation_ids, asns, event_time_ms FROM ${DB}.alerts FORMAT JSONEachRow`;
    await waitFor('the multi_ip_replay alert in ClickHouse', 30_000, async () => {
      rows = (await clickhouse(select)).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
      return rows.some((r) => r.detector === 'multi_ip_replay' && r.credential_fp === STOLEN_FP);
    }, () => JSON.stringify(rows));
    const replay = rows.find((r) => r.detector === 'multi_ip_replay' && r.credential_fp === STOLEN_FP)!;
    expect(replay.action).toBe('revoke');
    expect([...replay.asns].sort()).toEqual([20712, 29518]);
    const revoking = rows.filter((r) => r.credential_fp === STOLEN_FP && r.action === 'revoke').sort((x, y) => Number(x.event_time_ms) - Number(y.event_time_ms));
    expect(revoking.flatMap((r) => r.revocation_ids)).toContain(denied.headers['x-tokenwatch-revocation-id']);
    for (const raw of [OWNER, OTHER]) expect(rows.some((r) => r.credential_fp === fingerprint(raw, KEY) && r.action === 'revoke')).toBe(false);

    // latency: from the attack request that triggered the first revocation (its NGINX time is the
    // alert's event time; same host clock) to the first 403 seen
    const first = revoking[0]!;
    const triggerMs = Number(first.event_time_ms);
    const trigger = sent.filter((s) => s.at <= triggerMs).at(-1) ?? sent[0]!;
    console.log(
      `attack request → 403: ${deniedAt - trigger.at} ms (request sent → first 403 seen; ${deniedAt - triggerMs} ms after its NGINX log time; ` +
        `first revoking detector ${first.detector}; alerts for the stolen token: ${rows.filter((r) => r.credential_fp === STOLEN_FP).map((r) => `${r.detector}/${r.action}`).join(', ')}; ` +
        `attack statuses ${sent.map((s) => s.status).join(' ')})`,
    );
    expect(deniedAt - trigger.at).toBeLessThan(30_000);

    // (4) no raw token, payload or signature segment anywhere
    const gatewayTopic = consumeAll(TOPIC);
    const denylist = consumeAll(DENYLIST);
    expect(gatewayTopic).toContain(STOLEN_FP);
    expect(denylist).toContain(`token:${STOLEN_FP}`);
    const places: Record<string, string> = {
      'gateway topic': gatewayTopic,
      'denylist topic': denylist,
      'DLQ topic': consumeAll(DLQ),
      'tokenwatch run output': tw?.output() ?? '',
      'denylist-server output': bridge?.output() ?? '',
    };
    for (const raw of [OWNER, STOLEN, OTHER]) {
      for (const part of [raw, ...raw.split('.').slice(1)]) {
        for (const [where, text] of Object.entries(places)) expect(text.includes(part), `a raw token reached the ${where}`).toBe(false);
      }
    }
  }, 120_000);
});
