/**
 * Shared helpers of `npm run bench`: progress on stderr, child processes, percentiles, tables, the
 * processor's Prometheus text, free ports and peak RSS of a child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Repository root (bench/ is one level below). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The tfp1 key of the bench's simulations: fixed, so every run fingerprints the same credentials. */
export const BENCH_FP_KEY = 'tokenwatch-bench-fp-key-v1';

const t0 = performance.now();

/**
 * kafkajs (2.2) schedules timers with negative delays, which Node ≥ 23 reports as a
 * TimeoutNegativeWarning on every client start; it is harmless (Node clamps to 1 ms). Keeps every
 * other warning.
 */
export function quietKafkajsTimerWarnings(): void {
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
  });
}

/** A progress line on stderr, prefixed with the seconds since the bench started. */
export function progress(msg: string): void {
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value; an error with `fatal: true` ends the wait at once. */
export async function waitFor<T>(probe: () => T | Promise<T>, timeoutMs: number, what: string, everyMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      if (e && typeof e === 'object' && (e as { fatal?: boolean }).fatal) throw e;
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

/** A port that was free a moment ago (for the processor's metrics endpoint). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Runs a bench module (`bench/<file>`) in its own Node process with the tsx loader, so it has its
 * own heap and CPU and cannot disturb (or be disturbed by) the bench's own process. Resolves with
 * the JSON object the child prints as the last line of stdout; its stderr (progress) is passed
 * through with a prefix.
 */
export function runChild<T>(file: string, args: string[], opts: { nodeArgs?: string[]; label: string; env?: NodeJS.ProcessEnv }): { child: ChildProcess; result: Promise<T> } {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', `${ROOT}bench/${file}`, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  let errBuf = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    errBuf += d;
    let i: number;
    while ((i = errBuf.indexOf('\n')) >= 0) {
      const line = errBuf.slice(0, i);
      errBuf = errBuf.slice(i + 1);
      if (line.trim()) process.stderr.write(`  [${opts.label}] ${line}\n`);
    }
  });
  const result = new Promise<T>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${opts.label} (bench/${file}) exited with ${code ?? signal}${errBuf ? `: ${errBuf.slice(-500)}` : ''}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${opts.label} (bench/${file}) printed no JSON result: ${last.slice(0, 200)}`));
      }
    });
  });
  return { child, result };
}

/** Peak resident set size of a live process, bytes (Linux /proc VmHWM); undefined elsewhere. */
export function vmHwmBytes(pid: number): number | undefined {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Sum of every sample of a metric in Prometheus text (all label sets). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const c = line.charAt(name.length);
    if (c !== ' ' && c !== '{') continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}

/** Nearest-rank percentile of values (Infinity allowed for censored samples); undefined when empty. */
export function percentile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const w = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export const fmtInt = (n: number | undefined | null) => (n === undefined || n === null || !Number.isFinite(n) ? 'n/a' : Math.round(n).toLocaleString('en-US'));
export const fmtMiB = (b: number | undefined | null) => (b === undefined || b === null ? 'n/a' : `${(b / 1048576).toFixed(0)} MiB`);
export const fmtRatio = (x: number | undefined | null, digits = 3) => (x === undefined || x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
