/**
 * The one generic runner for detector case tables (STYLE habit 6): builds canonical events from a
 * case's relative-time sketches, validates them with the real schema, enriches them with the real
 * enricher and runs them through the real engine, then compares the findings with the case.
 */
import { AccessEventSchema } from '../../schemas/event.js';
import type { Detector, DetectorCase, DetectorCaseEvent, EnrichedEvent, ExpectedFinding, NetworkInfo } from '../detect/contract.js';
import { Engine, DEFAULT_ENGINE_OPTIONS, type DetectorFinding } from '../detect/engine.js';
import { Enricher } from '../ingest/enrich.js';

/** Start time of every case: 2026-11-30T10:00:00Z. */
export const CASE_EPOCH_MS = Date.UTC(2026, 10, 30, 10, 0, 0);

export const CASE_DEFAULT_FP = 'tfp1:caseToken0000000000001';

const enricher = new Enricher({ trustedCidrs: [], allowlistAsns: [], anonymousAsns: [], anonymousCidrs: [] });

/** Turns one case sketch into a validated, enriched event. Throws with the case index on bad input. */
export function caseEvent(sketch: DetectorCaseEvent, index: number): EnrichedEvent {
  const { at, network, cred, ...fields } = sketch as DetectorCaseEvent & {
    network?: Partial<NetworkInfo>;
    cred?: Record<string, unknown>;
  };
  const raw = {
    v: 1,
    id: `e${index}`,
    ip: '81.2.69.160',
    method: 'GET',
    route: '/v1/orders',
    status: 200,
    ...fields,
    ts: CASE_EPOCH_MS + Math.round(at * 1000),
    cred: { type: 'access_token', fp: CASE_DEFAULT_FP, ...(cred ?? {}) },
  };
  const parsed = AccessEventSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`case event #${index} is not a valid canonical event: ${parsed.error.message}`);
  }
  const e = enricher.enrich(parsed.data, { topic: 'case', partition: 0, offset: String(index) });
  if (network) e.network = { ...e.network, ...network };
  return e;
}

export interface CaseResult {
  findings: DetectorFinding[];
  /** human-readable mismatches; empty when the case passes */
  problems: string[];
}

function matches(f: DetectorFinding, x: ExpectedFinding): string[] {
  const p: string[] = [];
  if (x.severity !== undefined && f.severity !== x.severity) p.push(`severity ${f.severity} ≠ expected ${x.severity}`);
  if (x.trigger !== undefined && f.trigger.id !== x.trigger) p.push(`trigger ${f.trigger.id} ≠ expected ${x.trigger}`);
  if (x.summaryIncludes !== undefined && !f.summary.includes(x.summaryIncludes)) {
    p.push(`summary "${f.summary}" lacks "${x.summaryIncludes}"`);
  }
  if (x.alertOnly !== undefined && Boolean(f.alertOnly) !== x.alertOnly) p.push(`alertOnly ${Boolean(f.alertOnly)} ≠ expected ${x.alertOnly}`);
  if (x.revokes) {
    const have = new Set(f.revocations.map((r) => `${r.scope}:${r.id}`));
    for (const r of x.revokes) if (!have.has(r)) p.push(`missing revocation ${r} (has ${[...have].join(', ') || 'none'})`);
  }
  return p;
}

/** Runs one case of one detector. */
export function runCase(detector: Detector, c: DetectorCase): CaseResult {
  const config = detector.config.parse(c.config ?? {});
  const engine = new Engine([{ detector, config }], DEFAULT_ENGINE_OPTIONS);
  const findings: DetectorFinding[] = [];
  c.events.forEach((sketch, i) => findings.push(...engine.process(caseEvent(sketch, i))));
  const problems: string[] = [];
  if (findings.length !== c.expect.length) {
    problems.push(
      `expected ${c.expect.length} finding(s), got ${findings.length}` +
        (findings.length ? `: ${findings.map((f) => `[${f.trigger.id}] ${f.summary}`).join(' | ')}` : ''),
    );
  }
  c.expect.forEach((x, i) => {
    const f = findings[i];
    if (f) for (const m of matches(f, x)) problems.push(`finding #${i}: ${m}`);
  });
  return { findings, problems };
}
