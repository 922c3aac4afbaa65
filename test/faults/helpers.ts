/**
 * Fault-suite helpers: the event scenarios (attacks + benign traffic), the expected outcome of an
 * uninterrupted run (`replay()` over the same NDJSON), the fault tests' environment, and a few raw
 * Kafka requests kafkajs does not expose (high watermark next to the last stable offset; removing
 * a dead member from the consumer group). Services, waiting and processes: test/support/.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { Partitioners } from 'kafkajs';
import type { AccessEventInput } from '../../schemas/event.js';
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/log.js';
import { openGeoLookup } from '../../src/ingest/geoip/index.js';
import { replay } from '../../src/pipeline/replay.js';
import { handOff, replayAttack } from '../fixtures/events.js';
import { T0, testEnv, type TestEnv } from '../support/services.js';
import { createInput, withAdmin } from '../support/kafka.js';
import { LOG_DIR } from '../support/processes.js';


/** `TOKENWATCH_SOAK=1`: longer streams, 1M events through Kafka, dead members wait out their session. */
export const SOAK = process.env.TOKENWATCH_SOAK === '1';

/** Input partitions of the fault tests' streams. */
export const PARTITIONS = 4;

/** Seeded PRNG (mulberry32), so a failing run can be repeated with the seed it printed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A tfp1-shaped fingerprint derived from a tag (never a credential). */
export function fp(tag: string): string {
  return `tfp1:${createHash('sha256').update(tag).digest('base64url').slice(0, 22)}`;
}

// ------------------------------------------------------------------------------------------------
// scenarios

const LONDON_HOME = { ip: '81.2.69.160', geo: { lat: 51.5142, lon: -0.0931, accuracy_km: 20, asn: 64496, country: 'GB' } };
const LONDON_MOBILE = { ip: '203.0.113.57', geo: { lat: 51.5072, lon: -0.1276, accuracy_km: 20, asn: 64511, country: 'GB' } };
const STOCKHOLM_THIEF = { ip: '89.160.20.112', geo: { lat: 59.3294, lon: 18.0686, accuracy_km: 20, asn: 64500, country: 'SE' } };

let ids = 0;
const nextId = (prefix: string) => `${prefix}-${(++ids).toString(36)}`;

interface Where {
  ip: string;
  geo: AccessEventInput['geo'];
}

/** A token-endpoint exchange presenting refresh token `presented` (rotating it when `issued` is given). */
function exchange(ts: number, where: Where, sid: string, presented: string, issued?: { rt: string; at: string }, status = 200): AccessEventInput {
  return {
    v: 1,
    id: nextId(sid),
    ts,
    ip: where.ip,
    geo: where.geo,
    method: 'POST',
    route: '/oauth/token',
    status,
    tenant: 'acme',
    gateway: 'kong-eu-1',
    ua: 'orders-mobile/5.1',
    cred: { type: 'refresh_token', fp: presented, sub: `u-${sid}`, sid, client_id: 'orders-mobile' },
    ...(issued ? { refresh: { issued_fp: issued.rt, issued_access_fp: issued.at } } : {}),
  };
}

function apiCall(ts: number, where: Where, sid: string, accessFp: string): AccessEventInput {
  return {
    v: 1,
    id: nextId(sid),
    ts,
    ip: where.ip,
    geo: where.geo,
    method: 'GET',
    route: '/v1/orders',
    status: 200,
    tenant: 'acme',
    ua: 'orders-mobile/5.1',
    cred: { type: 'access_token', fp: accessFp, sub: `u-${sid}`, sid, exp: Math.floor(ts / 1000) + 3600 },
  };
}

export const rt = (sid: string, n: number | string) => fp(`${sid}/rt/${n}`);
export const at = (sid: string, n: number | string) => fp(`${sid}/at/${n}`);

/** Owner rotates rt0→rt1 (t), rt1→rt2 (t+60 s) at home; the thief presents the rotated rt1 from Stockholm (t+120 s). */
export function refreshTheft(sid: string, startMs: number): AccessEventInput[] {
  return [...refreshTheftBefore(sid, startMs), ...refreshTheftAfter(sid, startMs)];
}

/** The part of {@link refreshTheft} that only rotates (no finding yet). */
export function refreshTheftBefore(sid: string, startMs: number): AccessEventInput[] {
  return [
    exchange(startMs, LONDON_HOME, sid, rt(sid, 0), { rt: rt(sid, 1), at: at(sid, 1) }),
    apiCall(startMs + 5_000, LONDON_HOME, sid, at(sid, 1)),
    exchange(startMs + 60_000, LONDON_HOME, sid, rt(sid, 1), { rt: rt(sid, 2), at: at(sid, 2) }),
    apiCall(startMs + 65_000, LONDON_HOME, sid, at(sid, 2)),
  ];
}

/** The thief's reuse of rt1 that completes {@link refreshTheft}. */
export function refreshTheftAfter(sid: string, startMs: number): AccessEventInput[] {
  return [exchange(startMs + 120_000, STOCKHOLM_THIEF, sid, rt(sid, 1), { rt: rt(`${sid}/thief`, 2), at: at(`${sid}/thief`, 2) })];
}

/** Four healthy rotations a minute apart, home and mobile in London: must stay quiet. */
export function healthyChain(sid: string, startMs: number): AccessEventInput[] {
  const out: AccessEventInput[] = [];
  for (let n = 0; n < 4; n++) {
    const where = n % 2 ? LONDON_MOBILE : LONDON_HOME;
    out.push(exchange(startMs + n * 60_000, where, sid, rt(sid, n), { rt: rt(sid, n + 1), at: at(sid, n + 1) }));
    out.push(apiCall(startMs + n * 60_000 + 3_000, where, sid, at(sid, n + 1)));
  }
  return out;
}

/** Gives a fixture's events their own session and subject, so each family keys to its own partition. */
function relabel(events: AccessEventInput[], sid: string): AccessEventInput[] {
  return events.map((e) => ({ ...e, cred: { ...e.cred, sid, sub: `u-${sid}` } }));
}

/** One benign request with a fresh random fingerprint (no session, no subject: keyed by fp). */
export function noiseEvent(r: () => number, ts: number, tag: string): AccessEventInput {
  const octet = 1 + Math.floor(r() * 250);
  return {
    v: 1,
    id: nextId(`n${tag}`),
    ts,
    ip: `81.2.${69 + Math.floor(r() * 3)}.${octet}`,
    geo: { lat: 52.52, lon: 13.405, accuracy_km: 20, country: 'DE', asn: 3320 },
    method: 'GET',
    route: '/v1/orders/{id}',
    status: 200,
    tenant: 'acme',
    cred: { type: 'access_token', fp: fp(`noise/${tag}/${r()}`) },
  };
}

export interface ScenarioOptions {
  seed: number;
  /** a tag that keeps this scenario's identities apart from other tests' */
  tag: string;
  replays: number;
  refreshThefts: number;
  handOffs: number;
  healthyChains: number;
  /** benign single-use / double-use requests with random fingerprints */
  noise: number;
  /** event-time span of the scenario, ms (kept under the 6 min state TTL of multi_ip_replay) */
  spanMs: number;
}

/** Attacks and benign traffic interleaved in event-time order. */
export function buildScenario(o: ScenarioOptions): AccessEventInput[] {
  const r = rng(o.seed);
  const start = () => T0 + Math.floor(r() * Math.max(1, o.spanMs - 150_000));
  const groups: AccessEventInput[][] = [];
  for (let i = 0; i < o.replays; i++) groups.push(relabel(replayAttack(fp(`${o.tag}/replay/${i}`), start(), `${o.tag}r${i}`), `${o.tag}-rs${i}`));
  for (let i = 0; i < o.refreshThefts; i++) groups.push(refreshTheft(`${o.tag}-theft${i}`, start()));
  for (let i = 0; i < o.handOffs; i++) groups.push(relabel(handOff(fp(`${o.tag}/handoff/${i}`), start(), `${o.tag}h${i}`), `${o.tag}-hs${i}`));
  for (let i = 0; i < o.healthyChains; i++) groups.push(healthyChain(`${o.tag}-ok${i}`, start()));
  const noise: AccessEventInput[] = [];
  for (let i = 0; i < o.noise; i++) {
    const ts = T0 + Math.floor(r() * o.spanMs);
    const e = noiseEvent(r, ts, `${o.tag}${i}`);
    noise.push(e);
    // a third of the noise fingerprints are used twice, a few seconds apart, from the same network
    if (r() < 0.33) noise.push({ ...e, id: `${e.id}b`, ts: ts + 1_000 + Math.floor(r() * 20_000) });
  }
  const events = [...groups.flat(), ...noise].map((e, i) => ({ e, i }));
  events.sort((a, b) => Number(a.e.ts) - Number(b.e.ts) || a.i - b.i);
  return events.map((x) => x.e);
}

// ------------------------------------------------------------------------------------------------
// the expected outcome: an uninterrupted in-process run over the same NDJSON

export interface Outcome {
  alertIds: Set<string>;
  denyKeys: Set<string>;
  byDetector: Record<string, number>;
  /** alert id -> id of the event that triggered it */
  trigger: Map<string, string>;
}

/** Writes the events as NDJSON next to the child logs (for `tokenwatch replay` after a failure); returns the path. */
export function writeNdjson(name: string, events: AccessEventInput[]): string {
  mkdirSync(LOG_DIR, { recursive: true });
  const path = join(LOG_DIR, `${name}.ndjson`);
  writeFileSync(path, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  return path;
}

/** `replay()` (the same BatchProcessor `tokenwatch run` uses) over the events, with the test env's config. */
export async function expectedOutcome(t: TestEnv, events: AccessEventInput[]): Promise<Outcome> {
  const config = loadConfig(detectors, { ...t.env, LOG_LEVEL: 'silent' });
  const log = createLogger({ level: 'silent' });
  const geo = await openGeoLookup(config.geoip).catch(() => undefined);
  const lines: string[] = [];
  const output = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  await replay({ config, detectors, log, geo, input: Readable.from(events.map((e) => JSON.stringify(e) + '\n')), output, batchLines: 500 });
  const out: Outcome = { alertIds: new Set(), denyKeys: new Set(), byDetector: {}, trigger: new Map() };
  for (const l of lines) {
    const rec = JSON.parse(l) as Record<string, unknown>;
    if (rec.type === 'alert') {
      const id = String(rec.alert_id);
      out.alertIds.add(id);
      out.byDetector[String(rec.detector)] = (out.byDetector[String(rec.detector)] ?? 0) + 1;
      const line = Number(String(rec.source).split('/').pop());
      if (Number.isInteger(line) && events[line - 1]) out.trigger.set(id, String(events[line - 1]!.id));
    } else if (rec.type === 'revocation') {
      out.denyKeys.add(String(rec.key));
    } else if (rec.type === 'dlq') {
      throw new Error(`scenario event dead-lettered in the reference run: ${l.slice(0, 300)}`);
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// the fault tests' environment and Kafka's view of it

/**
 * A test env for a fault run: {@link PARTITIONS} input partitions (created before the processor
 * starts), a state flush every 100 ms and a breaker that never trips; `extra` on top.
 */
export async function faultEnv(name: string, extra: NodeJS.ProcessEnv = {}): Promise<TestEnv> {
  const t = await testEnv(name, {
    TOKENWATCH_INPUT_PARTITIONS: String(PARTITIONS),
    TOKENWATCH_STATE_FLUSH_MS: '100',
    TOKENWATCH_CONFIG: permissiveConfigFile(),
    ...extra,
  });
  await createInput(t, PARTITIONS);
  return t;
}

const defaultPartitioner = Partitioners.DefaultPartitioner();
/** The partition kafkajs' default (Java-compatible murmur2) partitioner picks for a key. */
export function partitionOf(key: string, partitions: number): number {
  return defaultPartitioner({
    topic: 't',
    partitionMetadata: Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 1, replicas: [1], isr: [1] })) as never,
    message: { key, value: null },
  });
}

export function setDiff<T>(a: Set<T>, b: Set<T>): T[] {
  return [...a].filter((x) => !b.has(x));
}

// ------------------------------------------------------------------------------------------------
// raw Kafka requests (header v1, non-flexible versions; enough for a single test broker)

class Enc {
  private parts: Buffer[] = [];
  private fixed(size: number, write: (b: Buffer) => unknown) {
    const b = Buffer.alloc(size);
    write(b);
    this.parts.push(b);
    return this;
  }
  i8(v: number) {
    return this.fixed(1, (b) => b.writeInt8(v));
  }
  i16(v: number) {
    return this.fixed(2, (b) => b.writeInt16BE(v));
  }
  i32(v: number) {
    return this.fixed(4, (b) => b.writeInt32BE(v));
  }
  i64(v: bigint) {
    return this.fixed(8, (b) => b.writeBigInt64BE(v));
  }
  str(v: string | null) {
    if (v === null) return this.i16(-1);
    const s = Buffer.from(v, 'utf8');
    this.i16(s.length);
    this.parts.push(s);
    return this;
  }
  buf() {
    return Buffer.concat(this.parts);
  }
}

class Dec {
  private o = 0;
  constructor(private readonly b: Buffer) {}
  i8() {
    return this.b.readInt8((this.o += 1) - 1);
  }
  i16() {
    return this.b.readInt16BE((this.o += 2) - 2);
  }
  i32() {
    return this.b.readInt32BE((this.o += 4) - 4);
  }
  i64() {
    return this.b.readBigInt64BE((this.o += 8) - 8);
  }
  str(): string | null {
    const n = this.i16();
    if (n < 0) return null;
    const s = this.b.toString('utf8', this.o, this.o + n);
    this.o += n;
    return s;
  }
}

let correlation = 1;
async function rawRequest(broker: string, apiKey: number, version: number, body: Buffer): Promise<Dec> {
  const [host, port] = [broker.slice(0, broker.lastIndexOf(':')), Number(broker.slice(broker.lastIndexOf(':') + 1))];
  const corr = correlation++;
  const header = new Enc().i16(apiKey).i16(version).i32(corr).str('tokenwatch-faults').buf();
  const payload = Buffer.concat([header, body]);
  const frame = Buffer.concat([new Enc().i32(payload.length).buf(), payload]);
  return new Promise<Dec>((resolveP, reject) => {
    const s = new Socket();
    let acc = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`raw Kafka request ${apiKey} timed out`));
    }, 10_000);
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('data', (d) => {
      acc = Buffer.concat([acc, d]);
      if (acc.length >= 4 && acc.length >= 4 + acc.readInt32BE(0)) {
        clearTimeout(timer);
        s.end();
        const dec = new Dec(acc.subarray(4, 4 + acc.readInt32BE(0)));
        if (dec.i32() !== corr) reject(new Error('raw Kafka request: correlation id mismatch'));
        else resolveP(dec);
      }
    });
    s.connect(port, host, () => s.write(frame));
  });
}

/**
 * Per partition: the high watermark and the last stable offset (ListOffsets v2, read_uncommitted vs
 * read_committed). LSO < HW means a transaction is open on that partition.
 */
export async function watermarks(broker: string, topic: string, partitions: number): Promise<Array<{ partition: number; hw: bigint; lso: bigint }>> {
  const ask = async (isolation: number) => {
    const body = new Enc().i32(-1).i8(isolation).i32(1).str(topic).i32(partitions);
    for (let p = 0; p < partitions; p++) body.i32(p).i64(-1n);
    const d = await rawRequest(broker, 2, 2, body.buf());
    d.i32(); // throttle
    const out = new Map<number, bigint>();
    const nt = d.i32();
    for (let i = 0; i < nt; i++) {
      d.str();
      const np = d.i32();
      for (let j = 0; j < np; j++) {
        const partition = d.i32();
        const err = d.i16();
        d.i64();
        const offset = d.i64();
        if (err !== 0) throw new Error(`ListOffsets ${topic}/${partition}: error ${err}`);
        out.set(partition, offset);
      }
    }
    return out;
  };
  const [hw, lso] = await Promise.all([ask(0), ask(1)]);
  return [...hw].map(([partition, h]) => ({ partition, hw: h, lso: lso.get(partition) ?? h }));
}

/**
 * Removes members from a consumer group (LeaveGroup v3 on their behalf). After a SIGKILL the dead
 * member would otherwise hold its partitions until its 30 s session times out (the processor's
 * session timeout is not configurable); this does what the coordinator does at that timeout,
 * sooner. Soak runs skip it and wait the timeout out.
 */
export async function removeMembers(t: TestEnv, groupId: string, memberIds: string[]): Promise<void> {
  if (memberIds.length === 0) return;
  const broker = t.ep.brokers.split(',')[0]!;
  const fc = await rawRequest(broker, 10, 1, new Enc().str(groupId).i8(0).buf());
  fc.i32();
  const err = fc.i16();
  fc.str();
  fc.i32();
  const host = fc.str();
  const port = fc.i32();
  if (err !== 0) throw new Error(`FindCoordinator(${groupId}): error ${err}`);
  const body = new Enc().str(groupId).i32(memberIds.length);
  for (const m of memberIds) body.str(m).str(null);
  const lg = await rawRequest(`${host}:${port}`, 13, 3, body.buf());
  lg.i32();
  const top = lg.i16();
  // 25 = UNKNOWN_MEMBER_ID: already gone
  if (top !== 0 && top !== 25) throw new Error(`LeaveGroup(${groupId}): error ${top}`);
}

/** Member ids currently in the group. */
export async function groupMembers(t: TestEnv, groupId: string): Promise<string[]> {
  return withAdmin(t, async (a) => {
    const d = await a.describeGroups([groupId]);
    return d.groups[0]?.members.map((m) => m.memberId) ?? [];
  });
}

/** A config file whose breaker never trips (the faults under test are elsewhere; trips depend on wall-clock rates). */
export function permissiveConfigFile(): string {
  mkdirSync(LOG_DIR, { recursive: true });
  const path = join(LOG_DIR, 'permissive-breaker.json');
  writeFileSync(path, JSON.stringify({ response: { breaker: { maxRevocationsPerMin: 1_000_000, maxRevocationsPerTenantPerMin: 1_000_000, coolDownSec: 0 } } }));
  return path;
}

