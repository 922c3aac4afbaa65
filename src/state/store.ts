/**
 * One detector's keyed state and alias table (DESIGN §3), held in memory and mirrored to the
 * changelog: a Map ordered by last use, bounded by a key cap (least recently used evicted first,
 * in one pass down to 99 % of the cap) and by event time (a key idle longer than the detector's
 * state TTL is swept). Every change is tracked (when asked) so the checkpoint writes only what
 * changed. Pure: no clock, no I/O.
 */

/** One key's state and the event time of its last event. */
export interface Slot {
  state: unknown;
  lastTs: number;
}

/** An alias (e.g. a refresh token's fingerprint) pointing at the state key it belongs to. */
export interface AliasEntry {
  key: string;
  ts: number;
}

/** What the store reports back to its owner's counters. */
export interface EvictionCounts {
  evictedByCap: number;
  evictedByTime: number;
}

export class KeyedStore {
  readonly states = new Map<string, Slot>();
  readonly aliases = new Map<string, AliasEntry>();
  /** keys whose state changed since the last `takeDirty()` */
  readonly dirty = new Set<string>();
  /** aliases changed since the last `takeDirty()` */
  readonly dirtyAliases = new Set<string>();
  /** whether changes are tracked for a changelog */
  trackChanges = false;
  /** the detector's read-only view of the alias table (made once) */
  readonly lookup: (alias: string) => string | undefined;

  constructor(
    readonly maxKeys: number,
    readonly maxAliases: number,
    private readonly counts: EvictionCounts,
  ) {
    const aliases = this.aliases;
    this.lookup = (alias: string) => aliases.get(alias)?.key;
  }

  get(key: string): Slot | undefined {
    return this.states.get(key);
  }

  /**
   * Records the result of one step for `key`: the new state (undefined = the key is done) at event
   * time `ts`, moved to the most recently used end.
   */
  put(key: string, had: Slot | undefined, state: unknown, ts: number): void {
    if (had) this.states.delete(key);
    if (this.trackChanges && (had || state !== undefined)) this.dirty.add(key);
    if (state !== undefined) {
      this.states.set(key, { state, lastTs: Math.max(had?.lastTs ?? ts, ts) });
      if (this.states.size > this.maxKeys) this.evictStates();
    }
  }

  /** Points `alias` at `target` as of event time `ts` (an older record never overwrites a newer one). */
  putAlias(alias: string, target: string, ts: number): void {
    const had = this.aliases.get(alias);
    if (had?.key === target && had.ts >= ts) return;
    this.aliases.delete(alias);
    this.aliases.set(alias, { key: target, ts: Math.max(ts, had?.ts ?? 0) });
    if (this.trackChanges) this.dirtyAliases.add(alias);
    if (this.aliases.size > this.maxAliases) this.evictAliases();
  }

  /**
   * Evicts the least recently used keys down to 99 % of the cap in one pass. One key per insert
   * would rescan the deleted entries at the front of the Map every time (quadratic at the cap).
   */
  private evictStates(): void {
    let excess = this.states.size - Math.floor(this.maxKeys * 0.99);
    for (const k of this.states.keys()) {
      if (excess-- <= 0) break;
      this.states.delete(k);
      if (this.trackChanges) this.dirty.add(k);
      this.counts.evictedByCap++;
    }
  }

  private evictAliases(): void {
    let excess = this.aliases.size - Math.floor(this.maxAliases * 0.99);
    for (const a of this.aliases.keys()) {
      if (excess-- <= 0) break;
      this.aliases.delete(a);
      if (this.trackChanges) this.dirtyAliases.add(a);
    }
  }

  /** Drops keys and aliases whose last event is older than `horizon` (event time). */
  sweep(horizon: number): void {
    for (const [k, slot] of this.states) {
      if (slot.lastTs < horizon) {
        this.states.delete(k);
        if (this.trackChanges) this.dirty.add(k);
        this.counts.evictedByTime++;
      }
    }
    for (const [a, v] of this.aliases) {
      if (v.ts < horizon) {
        this.aliases.delete(a);
        if (this.trackChanges) this.dirtyAliases.add(a);
      }
    }
  }

  hasChanges(): boolean {
    return this.dirty.size > 0 || this.dirtyAliases.size > 0;
  }

  /** Restores one key (null = deleted); with `keepLocal`, a key changed locally since the last flush keeps its newer local state. */
  restoreState(key: string, slot: Slot | null, keepLocal: boolean): void {
    if (keepLocal && this.dirty.has(key)) return;
    this.states.delete(key);
    if (slot) this.states.set(key, slot);
  }

  restoreAlias(alias: string, entry: AliasEntry | null, keepLocal: boolean): void {
    if (keepLocal && this.dirtyAliases.has(alias)) return;
    this.aliases.delete(alias);
    if (entry) this.aliases.set(alias, entry);
  }
}
