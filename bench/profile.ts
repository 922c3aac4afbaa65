/**
 * Summarises a V8 .cpuprofile (`node --cpu-prof`): self time per function and per file, and the
 * inclusive time of the project's functions (src/, detectors/, schemas/) and of zod. Used by
 * `npm run bench -- --profile` on the processor child; also runnable on its own:
 *
 *   tsx bench/profile.ts .bench/<run>/prof/CPU....cpuprofile
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  /** sampled time, ms (idle excluded) */
  busyMs: number;
  idleMs: number;
  self: ProfileEntry[];
  files: ProfileEntry[];
  inclusive: ProfileEntry[];
}

function where(url: string): string {
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (nm) return `node_modules/${nm[1]}`;
  const m = url.match(/\/(src|detectors|schemas|bench|scripts|test)\/(.*)$/);
  if (m) return `${m[1]}/${m[2]}`;
  return url.replace(/^file:\/\//, '') || '(native)';
}

export function summarize(path: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const timeOf = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) timeOf.set(p.samples[i]!, (timeOf.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const name = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}`;
  const self = new Map<string, number>();
  const files = new Map<string, number>();
  const incl = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of timeOf) {
    const n = byId.get(id)!;
    const fn = n.callFrame.functionName;
    if (fn === '(idle)' || fn === '(program)') {
      idle += us;
      continue;
    }
    busy += us;
    self.set(name(n), (self.get(name(n)) ?? 0) + us);
    const file = fn === '(garbage collector)' ? '(garbage collector)' : where(n.callFrame.url);
    files.set(file, (files.get(file) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cn = byId.get(cur)!;
      const k = name(cn);
      if (seen.has(k)) continue;
      seen.add(k);
      if (/ (src|detectors|schemas)\/| node_modules\/(zod|kafkajs|@clickhouse)/.test(k) || /^(JSON|structuredClone|parse|stringify)/.test(cn.callFrame.functionName)) {
        incl.set(k, (incl.get(k) ?? 0) + us);
      }
    }
  }
  const list = (m: Map<string, number>): ProfileEntry[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({ name: k, ms: Math.round(us / 1000), share: busy ? us / busy : 0 }));
  return { busyMs: Math.round(busy / 1000), idleMs: Math.round(idle / 1000), self: list(self), files: list(files), inclusive: list(incl) };
}

export function formatSummary(s: ProfileSummary): string {
  const fmt = (l: ProfileEntry[]) => l.map((e) => `  ${(e.share * 100).toFixed(1).padStart(5)}%  ${String(e.ms).padStart(7)} ms  ${e.name}`).join('\n');
  return [
    `busy ${s.busyMs} ms, idle ${s.idleMs} ms (shares are of busy time)`,
    'self time by function:',
    fmt(s.self),
    'self time by file:',
    fmt(s.files),
    'inclusive time (project code, zod, kafkajs, clickhouse):',
    fmt(s.inclusive),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: tsx bench/profile.ts FILE.cpuprofile [top]\n');
    process.exit(2);
  }
  process.stdout.write(formatSummary(summarize(file, Number(process.argv[3] ?? 25))) + '\n');
}
