/**
 * The first real path end to end: Kafka → tokenwatch → ClickHouse alerts + denylist + DLQ, on the
 * real broker and server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { T0, teardown, testEnv } from '../support/services.js';
import { produce, produceEvents, readTopic } from '../support/kafka.js';
import { alertRows, chClient } from '../support/clickhouse.js';
import { startProcessor } from '../support/processes.js';
import { waitCommittedToEnd, waitFor } from '../support/waiting.js';
import { FIXTURE_EXP, handOff, keyOf, replayAttack, event } from '../fixtures/events.js';

const FP_ATTACKED = 'tfp1:itAttackedToken0000001';
const FP_QUIET = 'tfp1:itHandOffToken00000001';

afterEach(teardown);

describe('tokenwatch run on real Kafka and ClickHouse', () => {
  it('a replayed token yields an alert row in ClickHouse and a token:<fp> record on the denylist; a hand-off yields none', async () => {
    const env = await testEnv('e2e');
    await startProcessor(env);
    await produceEvents(env, [...handOff(FP_QUIET, T0), ...replayAttack(FP_ATTACKED, T0 + 1_000)]);

    const rows = await waitFor(async () => {
      const r = await alertRows(env, `detector = 'multi_ip_replay'`);
      return r.length ? r : undefined;
    }, 30_000, 'the replay alert in ClickHouse');
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ detector: 'multi_ip_replay', action: 'revoke', credential_fp: FP_ATTACKED, tenant: 'acme', subject: 'user-42', session_id: 'sess-42' });
    expect(row.asns).toEqual(expect.arrayContaining([3320, 16509]));
    expect(String(row.source)).toMatch(new RegExp(`^${env.input.replace(/\./g, '\\.')}/\\d+/\\d+$`));
    const evidence = JSON.parse(String(row.evidence));
    expect(evidence.event_ids.length).toBeGreaterThanOrEqual(4);

    const deny = await waitFor(async () => {
      const recs = await readTopic(env, env.denylist);
      return recs.length ? recs : undefined;
    }, 30_000, 'the denylist record');
    expect(deny.map((d) => d.key)).toEqual([`token:${FP_ATTACKED}`]);
    const value = JSON.parse(deny[0]!.value!);
    expect(value).toMatchObject({ v: 1, scope: 'token', id: FP_ATTACKED, tenant: 'acme', subject: 'user-42', reason: 'multi_ip_replay', alert_id: row.alert_id });
    expect(row.revocation_ids).toEqual([value.revocation_id]);
    expect(Date.parse(value.expires_at)).toBe(FIXTURE_EXP * 1000);

    const quiet = await alertRows(env, `credential_fp = '${FP_QUIET}'`);
    expect(quiet).toEqual([]);
  });

  it('malformed, oversized and secret-bearing messages go to the DLQ redacted; a later attack is still detected', async () => {
    const env = await testEnv('dlq');
    await startProcessor(env);
    const jwt = ['eyJhbGciOiJIUzI1NiJ9', 'eyJzdWIiOiJ1c2VyLTQyIn0', 'c2lnbmF0dXJlc2lnbmF0dXJl'].join('.');
    const bearerValue = 'opaque' + 'Secret' + 'Value'.repeat(4);
    const secretEvent = { ...event({ ts: T0, fp: 'tfp1:itSecretCarrier0000001' }), headers: { authorization: `Bearer ${bearerValue}` } };
    const queryEvent = event({ ts: T0, fp: 'tfp1:itSecretCarrier0000002', route: `/v1/orders?access_token=${bearerValue}` });
    const messages = [
      { key: 'k1', value: 'this is not json' },
      { key: 'k2', value: JSON.stringify({ v: 1, id: 'x' }) },
      { key: 'k3', value: JSON.stringify(secretEvent) },
      { key: 'k4', value: JSON.stringify({ ...event({ ts: T0, fp: 'tfp1:itSecretCarrier0000003' }), note: jwt }) },
      { key: 'k5', value: JSON.stringify(queryEvent) },
      { key: 'k6', value: JSON.stringify({ ...event({ ts: T0, fp: 'tfp1:itHuge00000000000000001' }), pad: 'x'.repeat(70_000) }) },
      { key: 'k7', value: null },
      ...replayAttack(FP_ATTACKED, T0 + 5_000, 'dlq').map((e) => ({ key: keyOf(e), value: JSON.stringify(e) })),
    ];
    // one partition key for all, so the order on the wire is the order above
    await produce(env, env.input, messages.map((m) => ({ key: 'one-key', value: m.value })));

    await waitFor(async () => (await alertRows(env, `detector = 'multi_ip_replay'`)).length === 1, 30_000, 'the attack alert after bad input');
    const dlq = await waitFor(async () => {
      const recs = await readTopic(env, env.dlq);
      return recs.length >= 7 ? recs : undefined;
    }, 30_000, 'seven DLQ records');
    const reasons = dlq.map((d) => JSON.parse(d.value!).reason).sort();
    expect(reasons).toEqual(['empty', 'not_json', 'schema_invalid', 'secret_bearer', 'secret_credential_query', 'secret_jwt', 'too_large'].sort());
    for (const d of dlq) {
      const text = d.value!;
      expect(text).not.toContain(bearerValue);
      expect(text).not.toContain(jwt);
      expect(text).not.toContain(jwt.split('.')[2]);
      expect(d.headers['tokenwatch-reason']).toBe(JSON.parse(text).reason);
      expect(JSON.parse(text).source.topic).toBe(env.input);
    }
    const schemaInvalid = dlq.map((d) => JSON.parse(d.value!)).find((r) => r.reason === 'schema_invalid');
    expect(schemaInvalid.detail).toMatch(/ts|ip|cred/);
    const secretRec = dlq.map((d) => JSON.parse(d.value!)).find((r) => r.reason === 'secret_bearer');
    expect(secretRec.payload).toContain('[REDACTED');
    // nothing secret reached ClickHouse either
    const all = await alertRows(env);
    expect(JSON.stringify(all)).not.toContain(bearerValue);
  });

  it('when the ClickHouse write fails the committed offset does not pass the unwritten alert, and nothing is lost on recovery', async () => {
    const env = await testEnv('chfail');
    const running = await startProcessor(env);
    const ch = chClient(env);
    try {
      await ch.command({ query: `RENAME TABLE ${env.database}.alerts TO ${env.database}.alerts_away` });
      const events = replayAttack(FP_ATTACKED, T0, 'chf');
      // keyed by the contract: detected on in place (another key would be forwarded to the repartition topic)
      await produce(env, env.input, events.map((e) => ({ key: keyOf(e), value: JSON.stringify(e) })));
      await waitFor(() => running.metrics.value('tokenwatch_sink_errors_total', { sink: 'clickhouse' }) >= 2, 30_000, 'failed ClickHouse writes');

      const committed = await running.bus.committedOffsets(env.group, env.input);
      const ends = await running.bus.endOffsets(env.input);
      const partition = Number(Object.entries(ends).find(([, high]) => high !== '0')![0]);
      // the attack's events are offsets 0..5 of that partition; the alert is triggered by one of them
      expect(BigInt(committed[partition] ?? '-1')).toBeLessThan(4n);
      expect(await waitFor(async () => (await readTopic(env, env.denylist)).length, 10_000, 'denylist record (written, idempotent)')).toBe(1);

      await ch.command({ query: `RENAME TABLE ${env.database}.alerts_away TO ${env.database}.alerts` });
      const rows = await waitFor(async () => {
        const r = await alertRows(env, `detector = 'multi_ip_replay'`);
        return r.length ? r : undefined;
      }, 40_000, 'the alert after ClickHouse recovered');
      expect(rows).toHaveLength(1);
      await waitCommittedToEnd(env, 20_000);
    } finally {
      await ch.close();
    }
  });
});
