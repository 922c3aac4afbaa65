/**
 * The detection engine: runs every registered detector over enriched events, holding each
 * detector's keyed state and alias table. One engine per partition owner; the same engine runs
 * behind `tokenwatch run`, `tokenwatch replay` and the detector case tables, so all three agree.
 *
 * State per detector lives in a Map ordered by last use; it is bounded by `maxKeysPerDetector`
 * (oldest key evicted first, counted) and by event time (`stateTtlMs` after a key's last event).
 */
import type { Detector, EnrichedEvent, Finding } from './contract.js';

export interface EngineOptions {
  /** cap on tracked keys per detector; the least recently used key is evicted past it */
  maxKeysPerDetector: number;
  /** cap on alias entries per detector */
  maxAliasesPerDetector: number;
  /** events older than watermark − lateness are "late": still processed, counted */
  allowedLatenessMs: number;
}

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

interface Slot {
  state: unknown;
  lastTs: number;
}

interface DetectorSlots {
  detector: Detector;
  config: unknown;
  ttlMs: number;
  states: Map<string, Slot>;
  aliases: Map<string, { key: string; ts: number }>;
  /** keys whose state changed since the last `takeChanges()` */
  dirty: Set<string>;
  /** aliases recorded since the last `takeChanges()` */
  dirtyAliases: Set<string>;
  /** the detector's read-only view of its alias table (made once) */
  lookup: (alias: string) => string | undefined;
}

/** One changelog record: `s:<detector>:<key>` → state, `a:<detector>:<alias>` → alias; null = deleted. */
export interface StateChange {
  key: string;
  value: string | null;
}

export interface EngineStats {
  events: number;
  lateEvents: number;
  evictedByCap: number;
  evictedByTime: number;
  keys: Record<string, number>;
}

export class Engine {
  private readonly slots: DetectorSlots[];
  private readonly byId: Map<string, DetectorSlots>;
  /** whether state changes are tracked for a changelog */
  trackChanges = false;
  private watermark = Number.NEGATIVE_INFINITY;
  private lastSweep = Number.NEGATIVE_INFINITY;
  readonly stats: EngineStats = { events: 0, lateEvents: 0, evictedByCap: 0, evictedByTime: 0, keys: {} };

  constructor(
    detectors: ReadonlyArray<{ detector: Detector; config: unknown }>,
    private readonly opts: EngineOptions = DEFAULT_ENGINE_OPTIONS,
  ) {
    this.slots = detectors.map(({ detector, config }) => {
      const aliases = new Map<string, { key: string; ts: number }>();
      return {
        detector,
        config,
        ttlMs: detector.stateTtlMs(config),
        states: new Map(),
        aliases,
        dirty: new Set(),
        dirtyAliases: new Set(),
        lookup: (alias: string) => aliases.get(alias)?.key,
      };
    });
    this.byId = new Map(this.slots.map((s) => [s.detector.meta.id, s]));
  }

  get watermarkMs(): number {
    return this.watermark;
  }

  /** Runs every detector on one event; returns the findings in detector order. */
  process(event: EnrichedEvent): DetectorFinding[] {
    this.stats.events++;
    if (event.ts < this.watermark - this.opts.allowedLatenessMs) this.stats.lateEvents++;
    if (event.ts > this.watermark) this.watermark = event.ts;
    const out: DetectorFinding[] = [];
    for (const s of this.slots) {
      const keys = s.detector.keys(event, s.config, s.lookup);
      for (const key of keys) {
        const slot = s.states.get(key);
        const res = s.detector.step(slot?.state, event, { config: s.config, key, watermarkMs: this.watermark });
        if (slot) s.states.delete(key);
        if (this.trackChanges && (slot || res.state !== undefined)) s.dirty.add(key);
        if (res.state !== undefined) {
          s.states.set(key, { state: res.state, lastTs: Math.max(slot?.lastTs ?? event.ts, event.ts) });
          if (s.states.size > this.opts.maxKeysPerDetector) this.evictStates(s);
        }
        if (res.aliases) {
          for (const [alias, target] of Object.entries(res.aliases)) {
            const had = s.aliases.get(alias);
            if (had?.key === target && had.ts >= event.ts) continue;
            s.aliases.delete(alias);
            s.aliases.set(alias, { key: target, ts: Math.max(event.ts, had?.ts ?? 0) });
            if (this.trackChanges) s.dirtyAliases.add(alias);
            if (s.aliases.size > this.opts.maxAliasesPerDetector) this.evictAliases(s);
          }
        }
        for (const f of res.findings) out.push({ ...f, detector: s.detector, key });
      }
    }
    this.maybeSweep();
    return out;
  }

  /**
   * Evicts the least recently used keys down to 99 % of the cap in one pass. One key per insert
   * would rescan the deleted entries at the front of the Map every time (quadratic at the cap).
   */
  private evictStates(s: DetectorSlots): void {
    let excess = s.states.size - Math.floor(this.opts.maxKeysPerDetector * 0.99);
    for (const k of s.states.keys()) {
      if (excess-- <= 0) break;
      s.states.delete(k);
      if (this.trackChanges) s.dirty.add(k);
      this.stats.evictedByCap++;
    }
  }

  private evictAliases(s: DetectorSlots): void {
    let excess = s.aliases.size - Math.floor(this.opts.maxAliasesPerDetector * 0.99);
    for (const a of s.aliases.keys()) {
      if (excess-- <= 0) break;
      s.aliases.delete(a);
      if (this.trackChanges) s.dirtyAliases.add(a);
    }
  }

  /** Drops keys whose last event is older than their detector's state TTL (event time). */
  private maybeSweep(): void {
    if (this.watermark - this.lastSweep < 60_000) return;
    this.lastSweep = this.watermark;
    for (const s of this.slots) {
      const horizon = this.watermark - s.ttlMs - this.opts.allowedLatenessMs;
      for (const [k, slot] of s.states) {
        if (slot.lastTs < horizon) {
          s.states.delete(k);
          if (this.trackChanges) s.dirty.add(k);
          this.stats.evictedByTime++;
        }
      }
      for (const [a, v] of s.aliases) {
        if (v.ts < horizon) {
          s.aliases.delete(a);
          if (this.trackChanges) s.dirtyAliases.add(a);
        }
      }
    }
  }

  /**
   * The state changes since the last call, as changelog records (the newest state of each changed
   * key, or null for a deleted one), and forgets them.
   */
  takeChanges(): StateChange[] {
    const out: StateChange[] = [];
    for (const s of this.slots) {
      const id = s.detector.meta.id;
      for (const k of s.dirty) {
        const slot = s.states.get(k);
        out.push({ key: `s:${id}:${k}`, value: slot ? JSON.stringify({ t: slot.lastTs, s: slot.state }) : null });
      }
      for (const a of s.dirtyAliases) {
        const v = s.aliases.get(a);
        out.push({ key: `a:${id}:${a}`, value: v ? JSON.stringify({ k: v.key, t: v.ts }) : null });
      }
      s.dirty.clear();
      s.dirtyAliases.clear();
    }
    return out;
  }

  /** Whether any state changed since the last `takeChanges()`. */
  hasChanges(): boolean {
    return this.slots.some((s) => s.dirty.size > 0 || s.dirtyAliases.size > 0);
  }

  /**
   * Applies one changelog record (restore). Records of unknown detectors are ignored. With
   * `keepLocal`, keys changed locally since the last flush keep their newer local state.
   */
  applyChange(key: string, value: string | null, keepLocal = false): void {
    const kind = key.slice(0, 2);
    const rest = key.slice(2);
    const sep = rest.indexOf(':');
    if (sep < 0 || (kind !== 's:' && kind !== 'a:')) return;
    const s = this.byId.get(rest.slice(0, sep));
    if (!s) return;
    const k = rest.slice(sep + 1);
    if (kind === 's:') {
      if (keepLocal && s.dirty.has(k)) return;
      s.states.delete(k);
      if (value !== null) {
        const v = JSON.parse(value) as { t: number; s: unknown };
        s.states.set(k, { state: v.s, lastTs: v.t });
        if (v.t > this.watermark) this.watermark = v.t;
      }
    } else {
      if (keepLocal && s.dirtyAliases.has(k)) return;
      s.aliases.delete(k);
      if (value !== null) {
        const v = JSON.parse(value) as { k: string; t: number };
        s.aliases.set(k, { key: v.k, ts: v.t });
      }
    }
  }

  /** Number of tracked keys per detector id. */
  keyCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.slots) out[s.detector.meta.id] = s.states.size;
    return out;
  }
}
