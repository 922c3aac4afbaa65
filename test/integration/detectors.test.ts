/**
 * Every case of every registered detector, produced to the real Kafka by another client (kcat),
 * processed by `tokenwatch run`, and read back from ClickHouse and the denylist topic: the attacks
 * yield their alerts (and, where the action is revoke, their denylist records), the look-alikes
 * yield none. The same file through `tokenwatch replay` gives exactly the same alert ids.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { detectors } from '../../detectors/index.js';
import type { Detector, DetectorCase } from '../../src/detect/contract.js';
import { createHash } from 'node:crypto';
import { caseEvent } from '../../src/testing/cases.js';
import { TFP1_RE } from '../../schemas/fingerprint.js';
import { replay } from '../../src/pipeline/replay.js';
import { createLogger } from '../../src/telemetry/log.js';
import { teardown, testEnv, type TestEnv } from '../support/services.js';
import { readTopic } from '../support/kafka.js';
import { alertRows } from '../support/clickhouse.js';
import { startProcessor } from '../support/processes.js';
import { waitCommittedToEnd } from '../support/waiting.js';

const ISOLATED_CRED_FIELDS = ['fp', 'sid', 'key_id', 'sub', 'client_id', 'jti'] as const;

interface Planned {
  detector: Detector;
  c: DetectorCase;
  tag: string;
  lines: string[];
  expectRevokes: string[][];
}

/** Rewrites a case's identities with a tag so cases cannot see each other's state. */
function isolate(detector: Detector, c: DetectorCase, idx: number): Planned {
  const tag = `c${idx}`;
  // fingerprints stay tfp1-shaped (the decoder dead-letters anything else in an fp field)
  const isoId = (v: string) => (TFP1_RE.test(v) ? `tfp1:${createHash('sha256').update(`${v}~${tag}`).digest('base64url').slice(0, 22)}` : `${v}~${tag}`);
  const iso = (v: unknown) => (typeof v === 'string' ? isoId(v) : v);
  const lines = c.events.map((sketch, i) => {
    const e = caseEvent(sketch, i) as unknown as Record<string, unknown>;
    const cred = { ...(e.cred as Record<string, unknown>) };
    for (const f of ISOLATED_CRED_FIELDS) if (cred[f] !== undefined) cred[f] = iso(cred[f]);
    const refresh = e.refresh ? Object.fromEntries(Object.entries(e.refresh as Record<string, unknown>).map(([k, v]) => [k, iso(v)])) : undefined;
    const { network, location, source, ...canonical } = e;
    void location;
    void source;
    // case-level network overrides (e.g. "anonymous") cannot travel through Kafka; such cases are skipped below
    void network;
    return JSON.stringify({ ...canonical, id: `${tag}-${String(e.id)}`, tenant: `${String(e.tenant ?? 'none')}~${tag}`, cred, ...(refresh ? { refresh } : {}) });
  });
  const expectRevokes = c.expect.map((x) => (x.revokes ?? []).map((r) => {
    const at = r.indexOf(':');
    return `${r.slice(0, at)}:${isoId(r.slice(at + 1))}`;
  }));
  return { detector, c, tag, lines, expectRevokes };
}

/** Cases whose meaning depends on test-only inputs that a real event cannot carry. */
function transportable(d: Detector, c: DetectorCase): boolean {
  if (c.events.some((e) => 'network' in e)) return false;
  if (c.config && Object.keys(c.config).length) return false;
  void d;
  return true;
}

let env: TestEnv;
let planned: Planned[];
let file: string;
let rows: Array<Record<string, unknown>>;
let deny: Map<string, string | null>;
let denyValues: string[];

beforeAll(async () => {
  env = await testEnv('cases');
  let idx = 0;
  planned = detectors.flatMap((d) => d.cases.filter((c) => transportable(d, c)).map((c) => isolate(d, c, idx++)));
  const dir = mkdtempSync(join(tmpdir(), 'tw-cases-'));
  file = join(dir, 'events.ndjson');
  writeFileSync(file, planned.flatMap((p) => p.lines).join('\n') + '\n');
  await startProcessor(env);
  // Produce with kcat, another real Kafka client; one key keeps the cases' arrival order.
  const keyed = join(dir, 'keyed.txt');
  writeFileSync(keyed, planned.flatMap((p) => p.lines.map((l) => `cases\t${l}`)).join('\n') + '\n');
  execFileSync('kcat', ['-P', '-b', env.ep.brokers, '-t', env.input, '-K', '\t', '-l', keyed], { stdio: ['ignore', 'inherit', 'inherit'] });
  // kcat has returned: the input's end is every case event
  await waitCommittedToEnd(env, 120_000);
  rows = await alertRows(env);
  const records = await readTopic(env, env.denylist);
  deny = new Map(records.map((r) => [r.key!, r.value]));
  denyValues = records.map((r) => r.value ?? '');
}, 240_000);

afterAll(teardown);

describe('detector cases through kcat → Kafka → tokenwatch run → ClickHouse / denylist', () => {
  it('has transportable cases for every detector, attacks and look-alikes', () => {
    for (const d of detectors) {
      const kinds = new Set(planned.filter((p) => p.detector === d).map((p) => p.c.kind));
      expect([d.meta.id, kinds.has('fires'), kinds.has('quiet')]).toEqual([d.meta.id, true, true]);
    }
  });

  it('each case yields exactly its expected alerts, and revoke alerts their denylist records', () => {
    const problems: string[] = [];
    for (const p of planned) {
      const mine = rows.filter((r) => String(r.tenant).endsWith(`~${p.tag}`) && r.detector === p.detector.meta.id);
      if (mine.length !== p.c.expect.length) {
        problems.push(`${p.detector.meta.id} / ${p.c.name}: expected ${p.c.expect.length} alert(s), ClickHouse has ${mine.length}`);
        continue;
      }
      mine.forEach((row, i) => {
        const sev = p.c.expect[i]?.severity;
        if (sev && !mine.some((r) => r.severity === sev)) problems.push(`${p.c.name}: no alert with severity ${sev}`);
        if (row.action === 'revoke') {
          for (const key of p.expectRevokes.flat()) {
            if (!deny.has(key)) problems.push(`${p.detector.meta.id} / ${p.c.name}: denylist lacks ${key}`);
          }
          for (const rid of row.revocation_ids as string[]) {
            if (!denyValues.some((v) => v.includes(rid))) problems.push(`${p.c.name}: revocation ${rid} not on the denylist`);
          }
        }
      });
    }
    expect(problems).toEqual([]);
  });

  it('no raw secret and no unknown tenant in what was written', () => {
    expect(rows.every((r) => /~c\d+$/.test(String(r.tenant)))).toBe(true);
    for (const v of deny.values()) if (v) expect(JSON.parse(v)).toMatchObject({ v: 1 });
  });

  it('tokenwatch replay over the same file gives the same alert ids as run', async () => {
    const out: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out.push(String(chunk));
        cb();
      },
    });
    await replay({ config: env.config, detectors, log: createLogger({ level: 'silent' }), input: createReadStream(file), output: sink });
    const replayed = out
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((r) => r.type === 'alert')
      .map((r) => r.alert_id as string)
      .sort();
    expect(replayed.length).toBeGreaterThan(10);
    expect(replayed).toEqual(rows.map((r) => String(r.alert_id)).sort());
  });
});
