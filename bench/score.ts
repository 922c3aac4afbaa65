/**
 * Scores findings against a simulation's ground truth.
 *
 * A finding is a true positive for attack A when its evidence event ids intersect A.eventIds and
 * its detector is A.detector or one of A.alsoDetectedBy. Per detector d:
 *   recall          = attacks whose expected detector is d that d hit / attacks whose expected detector is d
 *   precision       = d's findings that are a true positive for some attack / all of d's findings
 *   fp_per_million  = d's findings that intersect no attack's events / benign events × 1e6
 * A finding that touches an attack's events without being listed for it (neither TP nor FP) is
 * counted as `offLabel`. Subject-level (alert-only) impossible_travel findings count like any other.
 */
import type { GroundTruthAttack } from '../src/simulate/index.js';

export interface ScoredFinding {
  detector: string;
  eventIds: readonly string[];
  summary?: string;
  action?: string;
}

export interface DetectorScore {
  attacks: number;
  hit: number;
  recall: number | null;
  findings: number;
  truePositives: number;
  offLabel: number;
  falsePositives: number;
  precision: number | null;
  fpPerMillion: number;
}

export interface QualityScore {
  events: number;
  benignEvents: number;
  attacks: number;
  perDetector: Record<string, DetectorScore>;
  /** attacks their expected detector did not hit */
  missed: Array<{ id: string; variant: string; detector: string; hitBy: string[] }>;
  /** a few false positives, for the report */
  fpSamples: Array<{ detector: string; action?: string; summary?: string }>;
  /** findings on an attack's events by a detector the truth does not list for it */
  offLabel: Array<{ detector: string; attacks: string[]; summary?: string }>;
}

/** Ids of every event the truth labels as part of an attack. */
export function attackEventIds(truth: readonly GroundTruthAttack[]): Set<string> {
  const s = new Set<string>();
  for (const a of truth) for (const id of a.eventIds) s.add(id);
  return s;
}

export function score(
  truth: readonly GroundTruthAttack[],
  findings: readonly ScoredFinding[],
  counts: { events: number; benignEvents: number },
  detectorIds: readonly string[],
): QualityScore {
  const byEvent = new Map<string, number[]>();
  truth.forEach((a, i) => {
    for (const id of a.eventIds) {
      const l = byEvent.get(id);
      if (l) l.push(i);
      else byEvent.set(id, [i]);
    }
  });
  const per: Record<string, DetectorScore> = {};
  const ensure = (d: string) =>
    (per[d] ??= { attacks: 0, hit: 0, recall: null, findings: 0, truePositives: 0, offLabel: 0, falsePositives: 0, precision: null, fpPerMillion: 0 });
  for (const d of detectorIds) ensure(d);
  const hitBy = truth.map(() => new Set<string>());
  const fpSamples: QualityScore['fpSamples'] = [];
  const offLabel: QualityScore['offLabel'] = [];
  for (const f of findings) {
    const s = ensure(f.detector);
    s.findings++;
    const touched = new Set<number>();
    for (const id of f.eventIds) for (const i of byEvent.get(id) ?? []) touched.add(i);
    let tp = false;
    for (const i of touched) {
      const a = truth[i]!;
      if (a.detector === f.detector || a.alsoDetectedBy.includes(f.detector)) {
        tp = true;
        hitBy[i]!.add(f.detector);
      }
    }
    if (tp) s.truePositives++;
    else if (touched.size > 0) {
      s.offLabel++;
      offLabel.push({ detector: f.detector, attacks: [...touched].map((i) => `${truth[i]!.id} (${truth[i]!.variant})`), summary: f.summary });
    }
    else {
      s.falsePositives++;
      if (fpSamples.length < 10) fpSamples.push({ detector: f.detector, action: f.action, summary: f.summary });
    }
  }
  const missed: QualityScore['missed'] = [];
  truth.forEach((a, i) => {
    const s = ensure(a.detector);
    s.attacks++;
    if (hitBy[i]!.has(a.detector)) s.hit++;
    else missed.push({ id: a.id, variant: a.variant, detector: a.detector, hitBy: [...hitBy[i]!] });
  });
  for (const s of Object.values(per)) {
    s.recall = s.attacks ? s.hit / s.attacks : null;
    s.precision = s.findings ? s.truePositives / s.findings : null;
    s.fpPerMillion = counts.benignEvents ? (s.falsePositives / counts.benignEvents) * 1e6 : 0;
  }
  return { events: counts.events, benignEvents: counts.benignEvents, attacks: truth.length, perDetector: per, missed, fpSamples, offLabel };
}

/** Alert rows as the bench scores them (evidence JSON → event ids). */
export function findingsFromRows(rows: Array<{ detector: string; evidence: string; summary?: string; action?: string }>): ScoredFinding[] {
  return rows
    .filter((r) => r.detector !== 'revocation_breaker')
    .map((r) => {
      const ev = JSON.parse(r.evidence) as { event_ids?: string[] };
      return { detector: r.detector, eventIds: ev.event_ids ?? [], summary: r.summary, action: r.action };
    });
}
