/**
 * Every Kafka codec, through a client that is not ours (DESIGN §2): the same valid traffic and the
 * same bad lines, produced by kcat (librdkafka) with `-z none|gzip|snappy|lz4|zstd`, give the same
 * alerts, the same revocations and the same DLQ reasons. Each run also sets our own producers to a
 * codec (TOKENWATCH_OUTPUT_COMPRESSION for the denylist and DLQ, TOKENWATCH_COMPRESSION for the
 * state changelog): kcat reads what they wrote, and — with the native services — the broker's own
 * log segments (kafka.tools.DumpLogSegments) show the batches really carry that codec.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { T0, teardown, testEnv, type TestEnv } from '../support/services.js';
import { alertIdsInClickHouse } from '../support/clickhouse.js';
import { startProcessor, ROOT } from '../support/processes.js';
import { waitCommittedToEnd } from '../support/waiting.js';
import { handOff, keyOf, replayAttack } from '../fixtures/events.js';
import { changelogTopic } from '../../src/pipeline/index.js';

afterAll(teardown);

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
type Codec = (typeof CODECS)[number];
/** our producers' codec in the run whose input kcat wrote with `codec` (each of ours used once) */
const OURS: Record<Codec, { output: Codec; internal: Codec }> = {
  none: { output: 'gzip', internal: 'zstd' },
  gzip: { output: 'snappy', internal: 'lz4' },
  snappy: { output: 'lz4', internal: 'gzip' },
  lz4: { output: 'zstd', internal: 'snappy' },
  zstd: { output: 'none', internal: 'zstd' },
};

/** The traffic, built once (event ids, hence alert ids, equal in every run): two replayed tokens (alerts + revocations), a hand-off (quiet) and two bad lines. */
const LINES = ((): string[] => {
  const events = [
    ...replayAttack('tfp1:codecAttackedAAAAAAAAA', T0 + 3_600_000, 'cz-a'),
    ...replayAttack('tfp1:codecAttackedBBBBBBBBB', T0 + 3_700_000, 'cz-b'),
    ...handOff('tfp1:codecHandOffCCCCCCCCCC', T0 + 3_600_000, 'cz-h'),
  ];
  return [...events.map((e) => `${keyOf(e)}\t${JSON.stringify(e)}`), 'bad-1\t{"v":1,"id":"cz-trunc"', 'bad-2\tnot json at all'];
})();

const kcat = (args: string[], input?: string) => execFileSync('kcat', args, { input, encoding: 'utf8', timeout: 60_000 });

/** Codec names of the record batches in a topic's partition-0 log, read by the broker's own tool; undefined without the native services' data dir. */
function segmentCodecs(topic: string): string[] | undefined {
  const data = join(process.env.TOKENWATCH_SERVICES_DIR ?? join(ROOT, '.services'), 'kafka', 'data');
  const dir = join(data, `${topic}-0`);
  if (!existsSync(dir)) return undefined;
  const out = execFileSync('java', ['-cp', join(data, '..', 'lib', '*'), 'kafka.tools.DumpLogSegments', '--files', join(dir, '00000000000000000000.log')], {
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return [...new Set([...out.matchAll(/compresscodec: (\w+)/g)].map((m) => m[1]!.toLowerCase()))];
}

interface Outcome {
  alerts: string[];
  denylist: string[];
  dlq: string[];
}

async function runWith(codec: Codec): Promise<{ env: TestEnv; outcome: Outcome }> {
  const ours = OURS[codec];
  const env = await testEnv(`codec_${codec}`, { TOKENWATCH_OUTPUT_COMPRESSION: ours.output, TOKENWATCH_COMPRESSION: ours.internal, TOKENWATCH_STATE_FLUSH_MS: '50' });
  const file = join(mkdtempSync(join(tmpdir(), 'tw-codec-')), 'in.tsv');
  writeFileSync(file, LINES.join('\n') + '\n');
  // one partition so the whole file travels in a few compressed batches (linger lets them fill)
  kcat(['-P', '-b', env.ep.brokers, '-t', env.input, '-K', '\t', '-z', codec, '-X', 'linger.ms=200', '-X', 'topic.partitioner=murmur2_random', '-l', file]);
  await startProcessor(env);
  await waitCommittedToEnd(env, 60_000);
  const read = (topic: string, fmt: string) =>
    kcat(['-C', '-b', env.ep.brokers, '-t', topic, '-e', '-q', '-f', fmt])
      .split('\n')
      .filter(Boolean);
  const outcome: Outcome = {
    alerts: (await alertIdsInClickHouse(env)).sort(),
    denylist: [...new Set(read(env.denylist, '%k\\n'))].sort(),
    dlq: read(env.dlq, '%s\\n')
      .map((v) => (JSON.parse(v) as { reason: string; source: { offset: string } }).reason)
      .sort(),
  };
  return { env, outcome };
}

describe('every codec, produced by kcat', () => {
  const results = new Map<Codec, { env: TestEnv; outcome: Outcome }>();

  it.each(CODECS)('kcat -z %s: alerts, revocations and DLQ records as expected', async (codec) => {
    const r = await runWith(codec);
    results.set(codec, r);
    const { outcome } = r;
    expect(outcome.denylist).toEqual(['token:tfp1:codecAttackedAAAAAAAAA', 'token:tfp1:codecAttackedBBBBBBBBB']);
    expect(outcome.alerts.length).toBeGreaterThanOrEqual(2);
    expect(outcome.dlq).toEqual(['not_json', 'not_json']);
    expect(outcome).toEqual((results.get('none') ?? r).outcome);
  }, 120_000);

  it('our producers wrote their batches with the configured codecs', () => {
    expect([...results.keys()]).toEqual([...CODECS]);
    const seen: string[] = [];
    for (const [codec, { env }] of results) {
      const { output, internal } = OURS[codec];
      const deny = segmentCodecs(env.denylist);
      if (deny === undefined) continue; // a Docker broker: its log segments are not on this disk
      seen.push(codec);
      expect(deny, `denylist with TOKENWATCH_OUTPUT_COMPRESSION=${output}`).toEqual([output]);
      expect(segmentCodecs(env.input), `input written by kcat -z ${codec}`).toEqual([codec]);
      const changelog = segmentCodecs(changelogTopic(env.group, env.input));
      expect(changelog, `changelog with TOKENWATCH_COMPRESSION=${internal}`).toContain(internal);
    }
    // with the native services (npm test, .ci/run) every run is checked
    if (results.get('none')!.env.ep.brokers.startsWith('127.0.0.1:')) expect(seen).toEqual([...CODECS]);
  }, 120_000);
});
