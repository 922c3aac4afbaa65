/**
 * Latency phase: event appended to the input topic → revocation appended to the denylist.
 *
 * While benign traffic (bench/traffic.ts) is produced at a sustained rate, a known replay attack
 * (test/fixtures/events.ts `replayAttack`: a copied access token alternating between its owner's
 * ISP and a cloud host) is started every `attackEveryMs` on a fresh token. Its first three events
 * are sent first; the fourth — the one that completes three alternations — is sent on its own, and
 * its append time is the broker's LogAppendTime from the produce response. The revocation's append
 * time is the LogAppendTime of the first `token:<fp>` record on the denylist (both topics are
 * created by the bench with message.timestamp.type=LogAppendTime, so both are broker clocks).
 */
import { readFileSync } from 'node:fs';
import type { AccessEventInput } from '../schemas/event.js';
import { replayAttack } from '../test/fixtures/events.js';
import type { LoadProducer } from './kafka.js';
import { metricSum, percentile, progress, sleep } from './lib.js';
import type { ProcessorChild } from './processor.js';
import { BenignTraffic, benchFingerprint, poolsForRate } from './traffic.js';

export interface LatencyRun {
  target_rate_eps: number;
  /** rate the producer achieved over warm-up + measurement */
  achieved_rate_eps: number;
  /** rate the processor made durable over the same span */
  processed_eps: number;
  /** events produced but not yet processed when producing stopped */
  backlog_at_end: number;
  /** the processor kept up: backlog at the end under one second of input */
  kept_up: boolean;
  warmup_sec: number;
  measured_sec: number;
  attacks: number;
  observed: number;
  /** attacks with no revocation within the drain timeout (counted as +∞ in the percentiles) */
  censored: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  min: number | null;
  max: number | null;
  /** findings other than the injected attacks' (benign traffic that alerted) */
  other_findings: number;
  /** failed sink writes during the run (tokenwatch_sink_errors_total), by sink; the processor retries them */
  sink_errors: Record<string, number>;
  /** the first sink error the processor logged during the run, if any */
  sink_error_message?: string;
  pools: { tokens: number; keys: number };
  /** per attack: [append time of its 4th event (epoch ms), latency ms or null when censored] */
  samples: Array<[number | null, number | null]>;
}

interface Attack {
  fp: string;
  appendMs?: number;
}

export async function latencyRun(opts: {
  producer: LoadProducer;
  proc: ProcessorChild;
  /** first denylist append time by record key, filled by the caller's follower */
  denylist: Map<string, number>;
  rateEps: number;
  warmupMs: number;
  durationMs: number;
  attackEveryMs: number;
  drainTimeoutMs: number;
  idPrefix: string;
  /** average requests/s of each benign access token and API key */
  perCredential: { tokenEps: number; keyEps: number };
}): Promise<LatencyRun> {
  const { producer, proc } = opts;
  const pools = poolsForRate(opts.rateEps, opts.perCredential);
  const traffic = new BenignTraffic({ ...pools, keyShare: 0.9, tenants: 5, idPrefix: opts.idPrefix });
  const metrics0 = await proc.scrape();
  const findings0 = metricSum(metrics0, 'tokenwatch_findings_total');
  const m0 = metricSum(metrics0, 'tokenwatch_messages_total');
  const attacks: Attack[] = [];
  let attackSends = 0;
  const started = performance.now();
  const measureFrom = started + opts.warmupMs;
  const endAt = measureFrom + opts.durationMs;

  const attackTasks: Array<Promise<void>> = [];
  const attackLoop = (async () => {
    await sleep(opts.warmupMs);
    for (let j = 0; performance.now() < endAt - 300; j++) {
      const slot = measureFrom + j * opts.attackEveryMs;
      const wait = slot - performance.now();
      if (wait > 0) await sleep(wait);
      if (performance.now() >= endAt - 300) break;
      attackTasks.push(runAttack(j));
    }
  })();

  async function runAttack(j: number): Promise<void> {
    const a: Attack = { fp: benchFingerprint(`${opts.idPrefix}:attack:${j}`) };
    attacks.push(a);
    const t4 = Date.now() + 200;
    const sid = `bench-atk-sess-${opts.idPrefix}-${j}`;
    const evs = replayAttack(a.fp, t4 - 21_000, `${opts.idPrefix}-atk${j}`).map(
      (e): AccessEventInput => ({ ...e, tenant: `tenant-${j % 5}`, cred: { ...e.cred, sub: `bench-atk-user-${opts.idPrefix}-${j}`, sid } }),
    );
    for (let k = 0; k < 3; k++) await producer.sendOne({ key: sid, value: JSON.stringify(evs[k]) });
    const wait = t4 - Date.now();
    if (wait > 0) await sleep(wait);
    const meta = await producer.sendOne({ key: sid, value: JSON.stringify(evs[3]) });
    attackSends += 4;
    a.appendMs = meta.appendMs;
  }

  let mMeasure = m0;
  let sentAtMeasure = 0;
  const load = await producer.pace({
    rateEps: opts.rateEps,
    durationMs: opts.warmupMs + opts.durationMs,
    make: (n, now) => {
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = traffic.next(now);
      return out;
    },
    chunk: Math.max(200, Math.ceil(opts.rateEps / 25)),
    onTick: (sent, elapsedMs) => {
      if (sentAtMeasure === 0 && elapsedMs >= opts.warmupMs) {
        sentAtMeasure = sent;
        void proc.messages().then((m) => (mMeasure = m));
      }
    },
  });
  await attackLoop;
  await Promise.all(attackTasks);
  const producedAll = load.sent + attackSends;
  const mEnd = await proc.messages();
  const backlog = Math.max(0, producedAll - (mEnd - m0));
  progress(
    `  produced ${load.sent} events in ${load.seconds.toFixed(1)} s (${Math.round(load.eps)}/s, pacing debt max ${load.maxBehindMs} ms), ` +
      `${attacks.length} attacks; processor made ${mEnd - m0} durable (backlog ${backlog})`,
  );

  // wait for every attack's revocation (or the drain timeout); a processor whose state-changelog
  // transaction keeps failing retries the same transaction forever and never drains
  const changelogFailing = sinkErrorCount(await proc.scrape(), 'changelog') > sinkErrorCount(metrics0, 'changelog');
  if (changelogFailing) progress('  the processor is failing its state-changelog commits (see its log); not waiting for it to drain');
  const drainEnd = Date.now() + (changelogFailing ? 1000 : opts.drainTimeoutMs);
  while (Date.now() < drainEnd && attacks.some((a) => !opts.denylist.has(`token:${a.fp}`))) await sleep(100);
  const lat: number[] = [];
  let censored = 0;
  for (const a of attacks) {
    const d = opts.denylist.get(`token:${a.fp}`);
    if (d === undefined || a.appendMs === undefined) {
      censored++;
      lat.push(Number.POSITIVE_INFINITY);
    } else lat.push(d - a.appendMs);
  }
  lat.sort((x, y) => x - y);
  const fin = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : Math.round(v));
  const measuredSec = opts.durationMs / 1000;
  const processedEps = (mEnd - mMeasure) / (load.seconds - opts.warmupMs / 1000);
  const metrics1 = await proc.scrape();
  const other = metricSum(metrics1, 'tokenwatch_findings_total') - findings0 - (attacks.length - censored);
  const sinkErrors: Record<string, number> = {};
  for (const sink of ['changelog', 'kafka', 'clickhouse']) {
    const d = sinkErrorCount(metrics1, sink) - sinkErrorCount(metrics0, sink);
    if (d > 0) sinkErrors[sink] = d;
  }
  const sinkErrorMessage = Object.keys(sinkErrors).length ? firstSinkError(proc.logPath) : undefined;
  return {
    target_rate_eps: opts.rateEps,
    achieved_rate_eps: Math.round(load.eps),
    processed_eps: Math.round(processedEps),
    backlog_at_end: backlog,
    // under a second of input behind when producing stopped (durable counts move per fetched batch)
    kept_up: backlog <= Math.max(load.eps, 2000) && censored === 0,
    warmup_sec: opts.warmupMs / 1000,
    measured_sec: measuredSec,
    attacks: attacks.length,
    observed: attacks.length - censored,
    censored,
    p50: fin(percentile(lat, 0.5)),
    p95: fin(percentile(lat, 0.95)),
    p99: fin(percentile(lat, 0.99)),
    min: fin(lat[0]),
    max: fin(lat.filter(Number.isFinite).pop()),
    other_findings: Math.max(0, other),
    sink_errors: sinkErrors,
    ...(sinkErrorMessage ? { sink_error_message: sinkErrorMessage } : {}),
    pools,
    samples: attacks.map((a) => {
      const d = opts.denylist.get(`token:${a.fp}`);
      return [a.appendMs ?? null, d !== undefined && a.appendMs !== undefined ? d - a.appendMs : null];
    }),
  };
}

function firstSinkError(logPath: string): string | undefined {
  try {
    for (const line of readFileSync(logPath, 'utf8').split('\n')) {
      if (!line.includes('failed; retrying')) continue;
      const j = JSON.parse(line) as { msg?: string; err?: string };
      return `${j.msg}: ${j.err}`;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function sinkErrorCount(text: string, sink: string): number {
  const m = text.match(new RegExp(`^tokenwatch_sink_errors_total\\{[^}]*sink="${sink}"[^}]*\\} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}
