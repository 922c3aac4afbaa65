/**
 * Ground truth: the labelled attacks a simulation injects, and the recorder scenarios use to label
 * their events as they create them.
 */
import type { SimEvent } from './emit.js';

export const ATTACK_KINDS = ['refresh_reuse', 'impossible_travel', 'multi_ip_replay', 'key_spike'] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];

export interface GroundTruthAttack {
  /** stable id, e.g. `atk-refresh_reuse-02` */
  id: string;
  kind: AttackKind;
  /** the scenario, e.g. `owner_after_thief_rotated` */
  variant: string;
  /** detector id expected to fire */
  detector: string;
  /** other detectors that may legitimately fire on the same events (not false positives) */
  alsoDetectedBy: string[];
  /** the expected finding is alert-only (subject-level impossible travel) */
  alertOnly?: boolean;
  /** one line saying what happens, networks and timings included */
  description: string;
  tenant: string;
  /** the victim subject, for token attacks */
  sub?: string;
  /** the credential fps involved: the compromised one first, then the ones issued from it */
  fps: string[];
  keyId?: string;
  sid?: string;
  /** event time of the first and last event of the attack, epoch ms */
  startMs: number;
  endMs: number;
  /**
   * ids of the events of the attack: everything the attacker sent plus the victim's events on the
   * compromised credential while it was being abused (a finding triggered by any of them is a hit)
   */
  eventIds: string[];
  /** the subset of eventIds the attacker sent */
  attackerEventIds: string[];
}

/** Collects the labels of one attack while its scenario generates events. */
export class TruthRecorder {
  readonly fps: string[] = [];
  keyId?: string;
  sid?: string;
  sub?: string;
  tenant = '';
  alertOnly?: boolean;
  description = '';
  readonly alsoDetectedBy: string[] = [];
  private readonly marked: Array<{ id: string; ts: number; attacker: boolean }> = [];

  constructor(
    readonly id: string,
    readonly kind: AttackKind,
    readonly variant: string,
    readonly detector: string,
  ) {}

  /** Labels an event as part of the attack and passes it through. */
  mark<E extends SimEvent>(e: E, attacker: boolean): E {
    this.marked.push({ id: e.id, ts: e.ts, attacker });
    return e;
  }

  addFps(...fps: string[]): void {
    for (const fp of fps) if (!this.fps.includes(fp)) this.fps.push(fp);
  }

  /** The label, keeping only events inside [startMs, endMs) (what the simulation emits). */
  finalize(startMs: number, endMs: number): GroundTruthAttack {
    const kept = this.marked.filter((m) => m.ts >= startMs && m.ts < endMs).sort((a, b) => a.ts - b.ts);
    const out: GroundTruthAttack = {
      id: this.id,
      kind: this.kind,
      variant: this.variant,
      detector: this.detector,
      alsoDetectedBy: [...this.alsoDetectedBy],
      description: this.description,
      tenant: this.tenant,
      fps: [...this.fps],
      startMs: kept[0]?.ts ?? NaN,
      endMs: kept[kept.length - 1]?.ts ?? NaN,
      eventIds: kept.map((m) => m.id),
      attackerEventIds: kept.filter((m) => m.attacker).map((m) => m.id),
    };
    if (this.alertOnly) out.alertOnly = true;
    if (this.sub !== undefined) out.sub = this.sub;
    if (this.keyId !== undefined) out.keyId = this.keyId;
    if (this.sid !== undefined) out.sid = this.sid;
    return out;
  }
}
