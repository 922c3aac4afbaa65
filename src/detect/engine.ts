/**
 * The detection engine: runs every registered detector over enriched events, holding each
 * detector's keyed state and alias table. One engine per partition owner; the same engine runs
 * behind `tokenwatch run`, `tokenwatch replay` and the detector case tables, so all three agree.
 *
 * State per detector lives in a KeyedStore (src/state): bounded by `maxKeysPerDetector` (least
 * recently used key evicted first, counted) and by event time (`stateTtlMs` after a key's last
 * event); its changes go to the changelog through the codec there.
 */
import type { Detector, EnrichedEvent, Finding } from './contract.js';
import { KeyedStore } from '../state/store.js';
import { decodeChange, takeChanges, type StateChange, type TaskCheckpoint } from '../state/changelog.js';

export type { StateChange, TaskCheckpoint };

export interface EngineOptions {
  /** cap on tracked keys per detector; the least recently used key is evicted past it */
  maxKeysPerDetector: number;
  /** cap on alias entries per detector */
  maxAliasesPerDetector: number;
  /** events older than watermark − lateness are "late": still processed, counted */
  allowedLatenessMs: number;
  /**
   * How far one event may move the watermark past its current value, ms (default 5 min). Stream
   * time follows the events, but one event with a forged or mis-set `ts` (days ahead, still within
   * decode's bounds when replaying old logs) cannot jump it ahead and make the next sweep evict
   * every key: a real jump takes several events, each at most this far.
   */
  maxWatermarkStepMs?: number;
}

/** Default of {@link EngineOptions.maxWatermarkStepMs}. */
export const DEFAULT_MAX_WATERMARK_STEP_MS = 5 * 60_000;

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  maxKeysPerDetector: 500_000,
  maxAliasesPerDetector: 1_000_000,
  allowedLatenessMs: 30_000,
};

export interface DetectorFinding extends Finding {
  detector: Detector;
  /** the state key the finding was made under */
  key: string;
}

export interface EngineStats {
  events: number;
  lateEvents: number;
  evictedByCap: number;
  evictedByTime: number;
  keys: Record<string, number>;
}

interface DetectorSlots {
  detector: Detector;
  config: unknown;
  ttlMs: number;
  store: KeyedStore;
}

export class Engine {
  private readonly slots: DetectorSlots[];
  private readonly byId: Map<string, DetectorSlots>;
  private tracking = false;
  private watermark = Number.NEGATIVE_INFINITY;
  private lastSweep = Number.NEGATIVE_INFINITY;
  readonly stats: EngineStats = { events: 0, lateEvents: 0, evictedByCap: 0, evictedByTime: 0, keys: {} };

  constructor(
    detectors: ReadonlyArray<{ detector: Detector; config: unknown }>,
    private readonly opts: EngineOptions = DEFAULT_ENGINE_OPTIONS,
  ) {
    this.slots = detectors.map(({ detector, config }) => ({
      detector,
      config,
      ttlMs: detector.stateTtlMs(config),
      store: new KeyedStore(opts.maxKeysPerDetector, opts.maxAliasesPerDetector, this.stats),
    }));
    this.byId = new Map(this.slots.map((s) => [s.detector.meta.id, s]));
  }

  /** Whether state changes are tracked for a changelog. */
  get trackChanges(): boolean {
    return this.tracking;
  }

  set trackChanges(on: boolean) {
    this.tracking = on;
    for (const s of this.slots) s.store.trackChanges = on;
  }

  /** stream time: the highest event time seen (each step clamped, see maxWatermarkStepMs) */
  get watermarkMs(): number {
    return this.watermark;
  }

  /** stream time of the last state sweep */
  get lastSweepMs(): number {
    return this.lastSweep;
  }

  /** The task's checkpoint restored from its changelog, if any (the last `t:task` record). */
  restoredCheckpoint?: TaskCheckpoint;

  /** Runs every detector on one event; returns the findings in detector order. */
  process(event: EnrichedEvent): DetectorFinding[] {
    this.stats.events++;
    if (event.ts < this.watermark - this.opts.allowedLatenessMs) this.stats.lateEvents++;
    if (event.ts > this.watermark) {
      const step = this.opts.maxWatermarkStepMs ?? DEFAULT_MAX_WATERMARK_STEP_MS;
      this.watermark = this.watermark === Number.NEGATIVE_INFINITY ? event.ts : Math.min(event.ts, this.watermark + step);
    }
    const out: DetectorFinding[] = [];
    for (const s of this.slots) {
      const { store } = s;
      const keys = s.detector.keys(event, s.config, store.lookup);
      for (const key of keys) {
        const slot = store.get(key);
        const res = s.detector.step(slot?.state, event, { config: s.config, key, watermarkMs: this.watermark });
        store.put(key, slot, res.state, event.ts);
        if (res.aliases) for (const [alias, target] of Object.entries(res.aliases)) store.putAlias(alias, target, event.ts);
        for (const f of res.findings) out.push({ ...f, detector: s.detector, key });
      }
    }
    this.maybeSweep();
    return out;
  }

  /** Drops keys whose last event is older than their detector's state TTL (event time), once per event-time minute. */
  private maybeSweep(): void {
    if (this.watermark - this.lastSweep < 60_000) return;
    this.lastSweep = this.watermark;
    for (const s of this.slots) s.store.sweep(this.watermark - s.ttlMs - this.opts.allowedLatenessMs);
  }

  /**
   * The state changes since the last call, as changelog records (the newest state of each changed
   * key, or null for a deleted one), and forgets them.
   */
  takeChanges(): StateChange[] {
    const out: StateChange[] = [];
    for (const s of this.slots) takeChanges(s.detector.meta.id, s.store, out);
    return out;
  }

  /** Whether any state changed since the last `takeChanges()`. */
  hasChanges(): boolean {
    return this.slots.some((s) => s.store.hasChanges());
  }

  /**
   * Applies one changelog record (restore). Records of unknown detectors are ignored. With
   * `keepLocal`, keys changed locally since the last flush keep their newer local state.
   */
  applyChange(key: string, value: string | null, keepLocal = false): void {
    const c = decodeChange(key, value);
    if (c?.kind === 'task') {
      this.restoredCheckpoint = c.checkpoint ?? undefined;
      return;
    }
    const s = c && this.byId.get(c.detectorId);
    if (!c || !s) return;
    if (c.kind === 'state') {
      s.store.restoreState(c.key, c.slot, keepLocal);
      if (c.slot && !(keepLocal && s.store.dirty.has(c.key)) && c.slot.lastTs > this.watermark) this.watermark = c.slot.lastTs;
    } else s.store.restoreAlias(c.alias, c.entry, keepLocal);
  }

  /**
   * Ends a restore: a task checkpoint, when one was read, sets the clock to what it was when the
   * state was written (the highest restored event time can be past it: stream time moves by
   * bounded steps), so the restored task goes on exactly as the one that wrote it would have.
   */
  finishRestore(): void {
    const c = this.restoredCheckpoint;
    if (!c) return;
    this.watermark = c.streamTimeMs;
    this.lastSweep = c.lastSweepMs;
  }

  /** Number of tracked keys per detector id. */
  keyCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.slots) out[s.detector.meta.id] = s.store.states.size;
    return out;
  }
}
