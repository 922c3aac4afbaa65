/**
 * The changelog codec (DESIGN §3): one compacted record per changed key, `s:<detector>:<key>` →
 * `{"t": lastTs, "s": state}` and `a:<detector>:<alias>` → `{"k": key, "t": ts}`; a null value
 * deletes. Written by the checkpoint, read back by the restore.
 *
 * One changelog partition holds one task's state (the task of the input partition with the same
 * number), and one more record per task: `t:task` → `{"o": next input offset, "w": stream time,
 * "sw": last sweep}` — the input position the state covers and the task's event-time clock, so a
 * restored task resumes exactly where its state stops, with the clock it had.
 */
import type { AliasEntry, KeyedStore, Slot } from './store.js';

/** One changelog record; null = deleted. */
export interface StateChange {
  key: string;
  value: string | null;
}

/** The changes of one detector's store since the last call, as changelog records; forgets them. */
export function takeChanges(detectorId: string, store: KeyedStore, out: StateChange[] = []): StateChange[] {
  for (const k of store.dirty) {
    const slot = store.states.get(k);
    out.push({ key: `s:${detectorId}:${k}`, value: slot ? JSON.stringify({ t: slot.lastTs, s: slot.state }) : null });
  }
  for (const a of store.dirtyAliases) {
    const v = store.aliases.get(a);
    out.push({ key: `a:${detectorId}:${a}`, value: v ? JSON.stringify({ k: v.key, t: v.ts }) : null });
  }
  store.dirty.clear();
  store.dirtyAliases.clear();
  return out;
}

/** What a task's `t:task` record holds. */
export interface TaskCheckpoint {
  /** next input offset of the task's partition: the state covers every event before it */
  nextOffset: string;
  /** the task's stream time (highest event time seen, ms) */
  streamTimeMs: number;
  /** stream time of the task's last state sweep, ms */
  lastSweepMs: number;
}

export const TASK_RECORD_KEY = 't:task';

export function taskRecord(c: TaskCheckpoint): StateChange {
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  return { key: TASK_RECORD_KEY, value: JSON.stringify({ o: c.nextOffset, w: finite(c.streamTimeMs), sw: finite(c.lastSweepMs) }) };
}

/** A decoded changelog record, or undefined when the key is not one of ours. */
export type DecodedChange =
  | { kind: 'state'; detectorId: string; key: string; slot: Slot | null }
  | { kind: 'alias'; detectorId: string; alias: string; entry: AliasEntry | null }
  | { kind: 'task'; checkpoint: TaskCheckpoint | null };

export function decodeChange(key: string, value: string | null): DecodedChange | undefined {
  if (key === TASK_RECORD_KEY) {
    if (value === null) return { kind: 'task', checkpoint: null };
    const v = JSON.parse(value) as { o: string; w: number | null; sw: number | null };
    return { kind: 'task', checkpoint: { nextOffset: String(v.o), streamTimeMs: v.w ?? Number.NEGATIVE_INFINITY, lastSweepMs: v.sw ?? Number.NEGATIVE_INFINITY } };
  }
  const kind = key.slice(0, 2);
  const rest = key.slice(2);
  const sep = rest.indexOf(':');
  if (sep < 0 || (kind !== 's:' && kind !== 'a:')) return undefined;
  const detectorId = rest.slice(0, sep);
  const k = rest.slice(sep + 1);
  if (kind === 's:') {
    if (value === null) return { kind: 'state', detectorId, key: k, slot: null };
    const v = JSON.parse(value) as { t: number; s: unknown };
    return { kind: 'state', detectorId, key: k, slot: { state: v.s, lastTs: v.t } };
  }
  if (value === null) return { kind: 'alias', detectorId, alias: k, entry: null };
  const v = JSON.parse(value) as { k: string; t: number };
  return { kind: 'alias', detectorId, alias: k, entry: { key: v.k, ts: v.t } };
}
