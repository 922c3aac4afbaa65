/**
 * `tokenwatch simulate`: realistic gateway traffic in the canonical format, with labelled attacks,
 * to Kafka or to an NDJSON file, rate-controlled and deterministic from a seed; the ground truth
 * goes to a JSON file. Progress on stderr.
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { detectors } from '../../detectors/index.js';
import type { AccessEventInput } from '../../schemas/event.js';
import { producerKey } from '../../schemas/keys.js';
import { loadConfig } from '../config/index.js';
import { TokenwatchError } from '../../schemas/errors.js';
import { kafkaBus, type BusProducer } from '../io/kafka.js';
import { createLogger } from '../telemetry/log.js';
import { ATTACK_KINDS, createSimulation, type AttackKind, type Simulation } from '../simulate/index.js';

const HELP = `usage: tokenwatch simulate [options]

  --to kafka|FILE|-        where events go: the input topic (default), an NDJSON file, or stdout
  --truth FILE             write the labelled attacks (ground truth) as JSON
  --seed N                 PRNG seed (default 1): same seed and options → the same events
  --duration SEC           simulated span in event time (default 3600)
  --start ISO|now          event time of the first event (default 2026-11-30T00:00:00Z)
  --users N                benign users (default 200)      --keys N     benign API keys (default 50)
  --tenants N              tenants (default 5)
  --attacks all|none|LIST  attack classes, e.g. refresh_reuse,key_spike (default all)
  --attacks-per-kind N     variants per attack class (default 5)
  --rate EPS               events per second to send (default 0: as fast as possible)
  --disorder-ms MS         delivery jitter: events arrive up to MS late (default 0)

Needs TOKENWATCH_FP_KEY (the tfp1 key): the simulator fingerprints the credentials it invents.
Messages are keyed as producers are asked to (DESIGN §3): cred.sid ?? cred.sub ?? cred.key_id ?? cred.fp.
`;

export interface SendProgress {
  sent: number;
  seconds: number;
  eps: number;
}

/**
 * Sends a simulation's events to a topic through our Bus producer (acks from all replicas), paced
 * at `rateEps` (0 = unpaced). Returns the number of events sent and the per-event send times when
 * `onSent` is given.
 */
export async function sendEvents(
  events: Iterable<AccessEventInput>,
  producer: BusProducer,
  topic: string,
  opts: { rateEps?: number; batch?: number; onProgress?: (p: SendProgress) => void; onSent?: (e: AccessEventInput, atMs: number) => void } = {},
): Promise<number> {
  const batchSize = opts.batch ?? 500;
  const rate = opts.rateEps ?? 0;
  const t0 = performance.now();
  let sent = 0;
  let lastProgress = t0;
  let batch: AccessEventInput[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    if (rate > 0) {
      const due = t0 + ((sent + batch.length) / rate) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await producer.send(batch.map((e) => ({ topic, key: producerKey(e.cred), value: JSON.stringify(e) })));
    const at = Date.now();
    if (opts.onSent) for (const e of batch) opts.onSent(e, at);
    sent += batch.length;
    batch = [];
    const now = performance.now();
    if (opts.onProgress && now - lastProgress >= 1000) {
      lastProgress = now;
      opts.onProgress({ sent, seconds: (now - t0) / 1000, eps: Math.round(sent / ((now - t0) / 1000)) });
    }
  };
  // with a rate, send small batches so the pacing is smooth
  const size = rate > 0 ? Math.max(1, Math.min(batchSize, Math.ceil(rate / 50))) : batchSize;
  for (const e of events) {
    batch.push(e);
    if (batch.length >= size) await flush();
  }
  await flush();
  return sent;
}

function parseAttacks(v: string | undefined): boolean | AttackKind[] {
  if (v === undefined || v === 'all') return true;
  if (v === 'none') return false;
  const kinds = v.split(',').map((s) => s.trim());
  for (const k of kinds) {
    if (!(ATTACK_KINDS as readonly string[]).includes(k)) {
      throw new TokenwatchError('USAGE', `--attacks must be all, none or a list of ${ATTACK_KINDS.join(', ')} (got "${k}")`);
    }
  }
  return kinds as AttackKind[];
}

function num(name: string, v: string | undefined, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new TokenwatchError('USAGE', `--${name} must be a non-negative number (got "${v}")`);
  return n;
}

export function simulationFromArgs(values: Record<string, string | boolean | undefined>, fpKey: string): Simulation {
  const start = values.start as string | undefined;
  const startMs = start === undefined ? undefined : start === 'now' ? Date.now() : Date.parse(start);
  if (startMs !== undefined && Number.isNaN(startMs)) throw new TokenwatchError('USAGE', `--start must be an RFC 3339 time or "now" (got "${start}")`);
  try {
    return createSimulation({
      seed: num('seed', values.seed as string | undefined, 1),
      durationSec: num('duration', values.duration as string | undefined, 3600),
      users: num('users', values.users as string | undefined, 200),
      apiKeys: num('keys', values.keys as string | undefined, 50),
      tenants: num('tenants', values.tenants as string | undefined, 5),
      attacks: parseAttacks(values.attacks as string | undefined),
      attacksPerKind: num('attacks-per-kind', values['attacks-per-kind'] as string | undefined, 5),
      maxDisorderMs: num('disorder-ms', values['disorder-ms'] as string | undefined, 0),
      fpKey,
      ...(startMs !== undefined ? { startMs } : {}),
    });
  } catch (e) {
    if (e && typeof e === 'object' && 'issues' in e) {
      const issues = (e as { issues: Array<{ path: PropertyKey[]; message: string }> }).issues;
      throw new TokenwatchError('USAGE', `simulate: ${issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ')}`);
    }
    throw e;
  }
}

export const SIMULATE_OPTIONS = {
  to: { type: 'string' },
  truth: { type: 'string' },
  seed: { type: 'string' },
  duration: { type: 'string' },
  start: { type: 'string' },
  users: { type: 'string' },
  keys: { type: 'string' },
  tenants: { type: 'string' },
  attacks: { type: 'string' },
  'attacks-per-kind': { type: 'string' },
  rate: { type: 'string' },
  'disorder-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function simulateCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: SIMULATE_OPTIONS });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const fpKey = process.env.TOKENWATCH_FP_KEY;
  if (!fpKey || Buffer.byteLength(fpKey) < 16) {
    throw new TokenwatchError('CONFIG_INVALID', 'TOKENWATCH_FP_KEY must be set (at least 16 bytes): the simulator fingerprints the credentials it invents with it');
  }
  const sim = simulationFromArgs(values, fpKey);
  const to = values.to ?? 'kafka';
  const progress = (p: SendProgress) => process.stderr.write(`simulate: ${p.sent} events sent in ${p.seconds.toFixed(1)} s (${p.eps}/s)\n`);
  let sent: number;
  const t0 = performance.now();
  if (to === 'kafka') {
    const config = loadConfig(detectors);
    const log = createLogger({ level: config.logLevel });
    const bus = kafkaBus(config.kafka.brokers, 'tokenwatch-simulate', log);
    try {
      await bus.ping();
      await bus.ensureTopics([{ topic: config.topics.input, partitions: config.topics.inputPartitions }]);
      const producer = await bus.producer();
      sent = await sendEvents(sim.events(), producer, config.topics.input, { rateEps: num('rate', values.rate, 0), onProgress: progress });
      await producer.close();
      process.stderr.write(`simulate: ${sent} events → ${config.topics.input} at ${config.kafka.brokers.join(',')}\n`);
    } finally {
      await bus.close();
    }
  } else {
    const out: Writable = to === '-' ? process.stdout : createWriteStream(to);
    sent = 0;
    let last = performance.now();
    for (const e of sim.events()) {
      if (!out.write(JSON.stringify(e) + '\n')) await new Promise((r) => out.once('drain', r));
      sent++;
      if ((sent & 0xfff) === 0 && performance.now() - last > 1000) {
        last = performance.now();
        progress({ sent, seconds: (last - t0) / 1000, eps: Math.round(sent / ((last - t0) / 1000)) });
      }
    }
    if (out !== process.stdout) await new Promise<void>((r) => out.end(r));
    process.stderr.write(`simulate: ${sent} events → ${to}\n`);
  }
  if (values.truth) {
    writeFileSync(values.truth, JSON.stringify(sim.truth, null, 2) + '\n');
    process.stderr.write(`simulate: ${sim.truth.length} labelled attacks → ${values.truth}\n`);
  }
}
