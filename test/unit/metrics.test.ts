/**
 * The metric catalogue (src/telemetry/catalogue.ts) is the only place metric names are written:
 * names follow Prometheus conventions, no source file outside it spells a metric name, and the
 * table in docs/operations.md is exactly the catalogue (names, types, labels).
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { METRICS } from '../../src/telemetry/catalogue.js';
import { Metrics } from '../../src/telemetry/metrics.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const defs = Object.values(METRICS);

function* tsFiles(dir: string): Generator<string> {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) yield* tsFiles(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

/** The catalogue as the docs table's rows. */
const docRow = (d: (typeof defs)[number]) => `| \`${d.name}\` | ${d.type} | ${d.labels.length ? d.labels.map((l) => `\`${l}\``).join(', ') : '—'} | ${d.help} |`;

describe('metric catalogue', () => {
  it('names are unique, prefixed tokenwatch_, counters end in _total and gauges do not', () => {
    const names = defs.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    const bad = defs.filter((d) => !/^tokenwatch_[a-z][a-z0-9_]*$/.test(d.name) || (d.type === 'counter') !== d.name.endsWith('_total'));
    expect(bad.map((d) => d.name)).toEqual([]);
  });

  it('no source file outside the catalogue spells a metric name', () => {
    const offenders: string[] = [];
    for (const f of tsFiles(join(root, 'src'))) {
      if (f.endsWith('telemetry/catalogue.ts')) continue;
      const s = readFileSync(f, 'utf8');
      for (const d of defs) if (s.includes(`'${d.name}'`) || s.includes(`"${d.name}"`)) offenders.push(`${f.slice(root.length)}: ${d.name}`);
    }
    expect(offenders).toEqual([]);
  });

  it('docs/operations.md lists exactly the catalogue', () => {
    const doc = readFileSync(join(root, 'docs/operations.md'), 'utf8');
    const rows = doc.split('\n').filter((l) => l.startsWith('| `tokenwatch_'));
    expect(rows).toEqual(defs.map(docRow));
  });

  it('renders HELP and TYPE from the catalogue', () => {
    const m = new Metrics();
    m.inc(METRICS.dlq_total, { reason: 'not_json' }, 2);
    m.set(METRICS.consumer_lag, { topic: 'in', partition: '0' }, 5);
    const text = m.render();
    expect(text).toContain(`# HELP tokenwatch_dlq_total ${METRICS.dlq_total.help}\n# TYPE tokenwatch_dlq_total counter\ntokenwatch_dlq_total{reason="not_json"} 2`);
    expect(text).toContain('# TYPE tokenwatch_consumer_lag gauge\ntokenwatch_consumer_lag{topic="in",partition="0"} 5');
    expect(m.value(METRICS.dlq_total, { reason: 'not_json' })).toBe(2);
  });
});
