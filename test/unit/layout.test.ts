/**
 * The layout keeps the architecture honest (docs/architecture.md): each folder of the flow may
 * import only the folders below it, no module imports itself back through a cycle, only src/io
 * talks to kafkajs and ClickHouse, and the detector SDK and the detectors stay pure. Fails with the
 * list of every offender, like the detector conformance test.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** folder → the folders its modules may import (besides itself). */
const RULES: Record<string, readonly string[]> = {
  schemas: [],
  'src/state': ['schemas'],
  'src/detect': ['schemas', 'src/state'],
  'src/ingest': ['schemas', 'src/detect'],
  'src/telemetry': ['schemas'],
  'src/io': ['schemas', 'src/telemetry'],
  'src/respond': ['schemas', 'src/detect', 'src/ingest', 'src/io', 'src/telemetry'],
  'src/config': ['schemas', 'src/detect', 'src/ingest', 'src/respond'],
  'src/pipeline': ['schemas', 'src/state', 'src/detect', 'src/ingest', 'src/respond', 'src/io', 'src/telemetry', 'src/config'],
  'src/bridge': ['schemas', 'src/io', 'src/telemetry'],
  'src/simulate': ['schemas'],
  'src/testing': ['schemas', 'src/state', 'src/detect', 'src/ingest'],
  'src/cli': ['schemas', 'src/state', 'src/detect', 'src/ingest', 'src/respond', 'src/io', 'src/telemetry', 'src/config', 'src/pipeline', 'src/bridge', 'src/simulate', 'detectors'],
  detectors: ['schemas', 'src/detect'],
};
/** packages only src/io may import */
const IO_ONLY = ['kafkajs', '@clickhouse/client'];
/** folders that must stay pure: no node:* module, no clock, no randomness */
const PURE = ['src/detect', 'src/state', 'detectors'];
const CLOCK = /\bDate\.now\(|new Date\(\)|performance\.now\(|Math\.random\(/;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(join(ROOT, dir))) {
    const p = join(dir, n);
    if (statSync(join(ROOT, p)).isDirectory()) out.push(...files(p));
    else if (n.endsWith('.ts') && !n.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
}

/** The rule folder a repository path belongs to (longest match). */
function folderOf(path: string): string | undefined {
  return Object.keys(RULES)
    .filter((f) => path === f || path.startsWith(`${f}/`))
    .sort((a, b) => b.length - a.length)[0];
}

const modules = Object.keys(RULES).flatMap(files);
const edges = new Map<string, string[]>();
for (const f of modules) {
  edges.set(
    f,
    importsOf(f)
      .filter((s) => s.startsWith('.'))
      .map((s) => relative(ROOT, resolve(ROOT, dirname(f), s)).replace(/\.js$/, '.ts')),
  );
}

describe('layout', () => {
  it('has no file at the top level of src/', () => {
    const loose = readdirSync(join(ROOT, 'src')).filter((n) => statSync(join(ROOT, 'src', n)).isFile() && n !== 'index.ts');
    expect(loose, 'files directly in src/ (put each in the folder of its stage)').toEqual([]);
  });

  it('every folder imports only what its rule allows', () => {
    const offenders: string[] = [];
    for (const f of modules) {
      const own = folderOf(f)!;
      for (const target of edges.get(f)!) {
        const to = folderOf(target);
        if (to === undefined) offenders.push(`${f} → ${target} (outside the layout)`);
        else if (to !== own && !RULES[own]!.includes(to)) offenders.push(`${f} → ${target} (${own} may import ${RULES[own]!.join(', ') || 'nothing of src'})`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('only src/io imports the Kafka and ClickHouse clients', () => {
    const offenders = modules.filter((f) => !f.startsWith('src/io/') && importsOf(f).some((s) => IO_ONLY.some((p) => s === p || s.startsWith(`${p}/`))));
    expect(offenders).toEqual([]);
  });

  it('the detector SDK, the state store and the detectors are pure (no node:*, no clock)', () => {
    const offenders: string[] = [];
    for (const f of modules.filter((m) => PURE.some((p) => m.startsWith(`${p}/`)))) {
      if (importsOf(f).some((s) => s.startsWith('node:'))) offenders.push(`${f}: imports a node:* module`);
      const text = readFileSync(join(ROOT, f), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      if (CLOCK.test(text)) offenders.push(`${f}: reads the clock or randomness`);
    }
    expect(offenders).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const t of edges.get(f) ?? []) {
        if (!edges.has(t)) continue;
        if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t].join(' → '));
        else if (!state.has(t)) visit(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of modules) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
