/**
 * The traffic simulator: realistic API-gateway access events (canonical schema v1) from benign
 * users, devices and API keys — hard look-alikes included — with labelled attacks injected, and the
 * ground truth to score detectors against.
 *
 * Deterministic (same options → byte-identical output), streaming (memory grows with the number of
 * users and keys, not with the simulated span) and fast. Raw credentials exist only in memory while
 * they are fingerprinted; events carry `tfp1` fingerprints only. Emitted events share frozen nested
 * objects (`geo`, `cred`): treat them as read-only.
 *
 * Each attack brings its own victim (a user, session or key of one of the tenants, on top of
 * `users` / `apiKeys`), so the ground truth depends only on the seed, start, duration, tenants and
 * the attack options — not on the size of the benign population.
 *
 * ```ts
 * const sim = createSimulation({ seed: 7, durationSec: 86_400, users: 2000, apiKeys: 200, fpKey });
 * for (const e of sim.events()) produce(JSON.stringify(e));
 * writeFileSync('truth.json', JSON.stringify(sim.truth));
 * ```
 */
import { z } from 'zod';
import type { AccessEventInput } from '../../schemas/event.js';
import { VARIANTS, type AttackEnv, type VariantDef } from './attacks.js';
import { deviceStream, devicesFor, keyStream, makeKey, makeUser } from './benign.js';
import { CredentialMint, EventIds, IsoFormatter, Stream, StreamMerger, type CredentialHook, type SimContext, type SimEvent, type Step } from './emit.js';
import { Rng } from './rng.js';
import { ATTACK_KINDS, TruthRecorder, type AttackKind, type GroundTruthAttack } from './truth.js';
import { World } from './world.js';

export { ATTACK_KINDS, type AttackKind, type GroundTruthAttack } from './truth.js';
export type { CredentialHook } from './emit.js';

/** Default start of simulated time: Monday 2026-11-30T00:00:00Z. */
export const DEFAULT_START_MS = Date.UTC(2026, 10, 30, 0, 0, 0);

/** Attack scenarios need this much simulated time to fit (AT lifetimes, windows, key history). */
export const MIN_DURATION_WITH_ATTACKS_SEC = 3600;

export const SimulateOptionsSchema = z
  .strictObject({
    seed: z.number().int().default(1).describe('PRNG seed: same seed and options → byte-identical output'),
    startMs: z.number().int().min(0).default(DEFAULT_START_MS).describe('event time of the start of the simulation, epoch ms'),
    durationSec: z.number().int().min(60).max(90 * 86_400).default(3600).describe('simulated span, seconds'),
    users: z.number().int().min(0).max(2_000_000).default(200).describe('benign users (each with 1–2 devices and OAuth sessions)'),
    apiKeys: z.number().int().min(0).max(1_000_000).default(50).describe('benign API keys'),
    tenants: z.number().int().min(1).max(100_000).default(5).describe('tenants users and keys belong to'),
    attacks: z
      .union([z.boolean(), z.array(z.enum(ATTACK_KINDS))])
      .default(true)
      .describe('labelled attack classes to inject: true = all, false = none, or a list'),
    attacksPerKind: z.number().int().min(0).max(1000).default(5).describe('attacks per class; instances cycle through the class variants'),
    fpKey: z
      .string()
      .refine((k) => Buffer.byteLength(k, 'utf8') >= 16, 'fpKey (TOKENWATCH_FP_KEY) must be at least 16 bytes')
      .describe('TOKENWATCH_FP_KEY: the tfp1 key used to fingerprint the generated raw credentials'),
    tsFormat: z.enum(['rfc3339', 'epoch_ms']).default('rfc3339').describe('how `ts` is written'),
    maxDisorderMs: z
      .number()
      .int()
      .min(0)
      .max(600_000)
      .default(0)
      .describe('delivery jitter: each event is delayed by up to this many ms, so events arrive slightly out of event-time order'),
  })
  .superRefine((o, ctx) => {
    const attacking = o.attacks !== false && (o.attacks === true || o.attacks.length > 0) && o.attacksPerKind > 0;
    if (attacking && o.durationSec < MIN_DURATION_WITH_ATTACKS_SEC) {
      ctx.addIssue({
        code: 'custom',
        path: ['durationSec'],
        message: `durationSec must be ≥ ${MIN_DURATION_WITH_ATTACKS_SEC} when attacks are injected (attacks/attacksPerKind); got ${o.durationSec}. Set attacks: false for shorter runs`,
      });
    }
  });

/** Options as callers pass them (everything but `fpKey` has a default). */
export type SimulateOptions = z.input<typeof SimulateOptionsSchema>;
export type ResolvedSimulateOptions = z.output<typeof SimulateOptionsSchema>;

export interface SimulationDebug {
  /** called with every raw credential minted (tests use it to prove none reaches the output) */
  onCredential?: CredentialHook;
}

export interface Simulation {
  readonly options: ResolvedSimulateOptions;
  /** A fresh, deterministic event stream on every call, in event-time order (up to maxDisorderMs). */
  events(): Generator<AccessEventInput>;
  /** The labelled attacks; computed on first access by running only the attack scenarios. */
  readonly truth: GroundTruthAttack[];
}

interface PlannedAttack {
  id: string;
  kind: AttackKind;
  def: VariantDef;
  instance: number;
  /** the scenario's main moment, epoch ms */
  M: number;
  stream: number;
}

function planAttacks(o: ResolvedSimulateOptions): PlannedAttack[] {
  const kinds = o.attacks === true ? ATTACK_KINDS : o.attacks === false ? [] : ATTACK_KINDS.filter((k) => (o.attacks as AttackKind[]).includes(k));
  const list: Array<Omit<PlannedAttack, 'M' | 'stream'>> = [];
  for (const kind of kinds) {
    const defs = VARIANTS[kind];
    for (let j = 0; j < o.attacksPerKind; j++) {
      list.push({ id: `atk-${kind}-${String(j + 1).padStart(2, '0')}`, kind, def: defs[j % defs.length]!, instance: Math.floor(j / defs.length) });
    }
  }
  // spread the attacks' main moments over the run in a seed-shuffled order
  const rng = new Rng(o.seed, 'attack-slots');
  const slots = rng.shuffled(list.map((_, i) => i));
  const S = o.startMs;
  const D = o.durationSec * 1000;
  const E = S + D;
  return list.map((a, i) => {
    const lo = S + Math.max(a.def.preMs, (a.def.minFrac ?? 0) * D);
    const hi = E - a.def.postMs;
    const f = (slots[i]! + rng.between(0.1, 0.9)) / list.length;
    return { ...a, M: Math.round(lo + Math.max(0, hi - lo) * f), stream: i };
  });
}

function attackStream(o: ResolvedSimulateOptions, ctx: SimContext, world: World, a: PlannedAttack, truth: TruthRecorder): Generator<Step> {
  const st = new Stream(ctx, a.stream, new Rng(o.seed, 'attack', a.kind, a.id));
  const env: AttackEnv = { st, world, truth, M: a.M, S: ctx.startMs, E: ctx.endMs, instance: a.instance };
  return a.def.run(env);
}

function recorder(a: PlannedAttack): TruthRecorder {
  return new TruthRecorder(a.id, a.kind, a.def.variant, a.kind);
}

interface Delayed {
  at: number;
  seq: number;
  ev: SimEvent;
}

/** Delays each event by a random 0..maxMs and emits in delivery order (bounded out-of-orderness). */
function* disorder(events: Iterable<SimEvent>, maxMs: number, rng: Rng): Generator<SimEvent> {
  const heap: Delayed[] = [];
  const less = (a: Delayed, b: Delayed) => a.at < b.at || (a.at === b.at && a.seq < b.seq);
  const push = (d: Delayed) => {
    let i = heap.push(d) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const pop = (): Delayed => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const c = r < heap.length && less(heap[r]!, heap[l]!) ? r : l;
        if (!less(heap[c]!, heap[i]!)) break;
        [heap[i], heap[c]] = [heap[c]!, heap[i]!];
        i = c;
      }
    }
    return top;
  };
  let seq = 0;
  for (const ev of events) {
    push({ at: ev.ts + rng.next() * maxMs, seq: seq++, ev });
    while (heap.length > 0 && heap[0]!.at <= ev.ts) yield pop().ev;
  }
  while (heap.length > 0) yield pop().ev;
}

/**
 * Creates a simulation. Validates the options (throws a ZodError naming the bad field).
 * @param debug test hooks; never needed in production
 */
export function createSimulation(opts: SimulateOptions, debug: SimulationDebug = {}): Simulation {
  const o = SimulateOptionsSchema.parse(opts);
  const S = o.startMs;
  const E = S + o.durationSec * 1000;
  const ids = new EventIds(o.seed);
  const mint = new CredentialMint(o.fpKey, debug.onCredential);
  const context = (): SimContext => ({ ids, mint, startMs: S, endMs: E });
  let truth: GroundTruthAttack[] | undefined;

  function* events(): Generator<AccessEventInput> {
    const ctx = context();
    const world = new World(o.seed, o.tenants);
    const plans = planAttacks(o);
    const merger = new StreamMerger();
    for (const a of plans) merger.add(attackStream(o, ctx, world, a, recorder(a)));
    const keyBase = plans.length;
    for (let k = 0; k < o.apiKeys; k++) {
      const plan = makeKey(world, o.seed, k, mint, S, E);
      merger.add(keyStream(new Stream(ctx, keyBase + k, new Rng(o.seed, 'key', k, 'stream')), plan));
    }
    const userBase = keyBase + o.apiKeys;
    for (let u = 0; u < o.users; u++) {
      const plan = makeUser(world, o.seed, u, S, E);
      devicesFor(plan, new Rng(o.seed, 'user', u, 'devices')).forEach((d, i) => {
        merger.add(deviceStream(new Stream(ctx, userBase + 2 * u + i, new Rng(o.seed, 'user', u, 'device', i)), world, plan, d));
      });
    }
    const iso = o.tsFormat === 'rfc3339' ? new IsoFormatter() : undefined;
    if (o.maxDisorderMs > 0) {
      for (const e of disorder(drain(merger, S, E), o.maxDisorderMs, new Rng(o.seed, 'disorder'))) {
        if (iso) (e as AccessEventInput).ts = iso.format(e.ts);
        yield e;
      }
      return;
    }
    for (let e = merger.next(); e !== undefined; e = merger.next()) {
      const ts = e.ts;
      if (ts < S || ts >= E) continue;
      if (iso) (e as AccessEventInput).ts = iso.format(ts);
      yield e;
    }
  }

  return {
    options: o,
    events,
    get truth(): GroundTruthAttack[] {
      if (!truth) {
        const ctx = context();
        const world = new World(o.seed, o.tenants);
        truth = planAttacks(o).map((a) => {
          const rec = recorder(a);
          const gen = attackStream(o, ctx, world, a, rec);
          for (let r = gen.next(); !r.done; r = gen.next());
          return rec.finalize(S, E);
        });
      }
      return truth;
    },
  };
}

function* drain(m: StreamMerger, startMs: number, endMs: number): Generator<SimEvent> {
  for (let e = m.next(); e !== undefined; e = m.next()) if (e.ts >= startMs && e.ts < endMs) yield e;
}

/** The event stream of a simulation (see createSimulation). */
export function* simulate(opts: SimulateOptions): Generator<AccessEventInput> {
  yield* createSimulation(opts).events();
}

/** The labelled attacks of a simulation with these options. */
export function groundTruth(opts: SimulateOptions): GroundTruthAttack[] {
  return createSimulation(opts).truth;
}
