/**
 * Several input topics, each in its own format (TOKENWATCH_INPUT_TOPIC / TOKENWATCH_INPUT_FORMAT,
 * DESIGN §2): canonical v1 events on one topic and NGINX `log_format tokenwatch escape=json`
 * records on another, read by one `tokenwatch run`. The same copied-token replay is caught on both;
 * a record the NGINX adapter cannot map is dead-lettered naming the adapter and the field, and the
 * committed offsets of both topics reach their ends.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { T0, teardown, testEnv, uid } from '../support/services.js';
import { committed, produce, readTopic } from '../support/kafka.js';
import { alertRows } from '../support/clickhouse.js';
import { startProcessor } from '../support/processes.js';
import { waitFor } from '../support/waiting.js';
import { replayAttack } from '../fixtures/events.js';
import type { AccessEventInput } from '../../schemas/event.js';

afterAll(teardown);

/** The event as NGINX logs it with the README's log_format (every variable a string; geo comes from GeoIP). */
function asNginx(e: AccessEventInput): Record<string, string> {
  return {
    time: new Date(Number(e.ts)).toISOString(),
    msec: (Number(e.ts) / 1000).toFixed(3),
    request_id: e.id.replace(/[^0-9a-z]/gi, ''),
    remote_addr: e.ip,
    request_method: e.method,
    uri: '/v1/orders/42',
    status: String(e.status),
    host: 'api.example.com',
    http_user_agent: e.ua ?? '',
    tw_fp: e.cred.fp,
    tw_cred_type: e.cred.type,
    tw_sub: e.cred.sub ?? '',
    tw_sid: e.cred.sid ?? '',
    tw_client_id: '',
    tw_key_id: '',
    tw_jti: '',
    tw_exp: String(e.cred.exp ?? ''),
    tw_tenant: e.tenant ?? '',
    tw_route: e.route,
    tw_issued_fp: '',
    tw_issued_access_fp: '',
  };
}

describe('input topics with their own formats', () => {
  it('canonical and nginx topics in one run: the replay is caught on both, bad NGINX records dead-lettered by the adapter', async () => {
    const canonical = uid('in.v1');
    const nginx = uid('in.nginx');
    const env = await testEnv('formats', { TOKENWATCH_INPUT_TOPIC: `${canonical},${nginx}`, TOKENWATCH_INPUT_FORMAT: `${nginx}=nginx` });
    expect(env.config.topics.inputs).toEqual([
      { topic: canonical, format: 'canonical' },
      { topic: nginx, format: 'nginx' },
    ]);
    await startProcessor(env);
    const fpV1 = 'tfp1:formatsCanonical000001';
    const fpNginx = 'tfp1:formatsNginx0000000001';
    const v1 = replayAttack(fpV1, T0 + 3_600_000, 'fmt-v1');
    // no geo in NGINX records: the enricher's GeoIP/ASN lookup places these addresses (AS20712 / AS29518)
    const gw = replayAttack(fpNginx, T0 + 3_600_000, 'fmt-ngx').map((e) => asNginx({ ...e, geo: undefined }));
    await produce(env, canonical, v1.map((e) => ({ key: e.cred.sid ?? null, value: JSON.stringify(e) })));
    await produce(env, nginx, [
      ...gw.map((r) => ({ key: 'sess-42', value: JSON.stringify(r) })),
      { key: 'bad', value: JSON.stringify({ ...gw[0], tw_fp: '' }) },
    ]);

    const rows = await waitFor(async () => {
      const r = await alertRows(env, `detector = 'multi_ip_replay'`);
      return r.length >= 2 ? r : undefined;
    }, 60_000, 'a multi_ip_replay alert from each input topic');
    const bySource = new Map(rows.map((r) => [String(r.source).split('/')[0], r]));
    expect([...bySource.keys()].sort()).toEqual([canonical, nginx].sort());
    const deny = await waitFor(async () => {
      const keys = new Set((await readTopic(env, env.denylist)).map((d) => d.key));
      return keys.has(`token:${fpV1}`) && keys.has(`token:${fpNginx}`) ? keys : undefined;
    }, 20_000, 'both tokens on the denylist');
    expect(deny.size).toBeGreaterThanOrEqual(2);

    const dlq = await waitFor(async () => {
      const d = await readTopic(env, env.dlq);
      return d.length ? d : undefined;
    }, 20_000, 'the adapter_invalid record');
    expect(dlq).toHaveLength(1);
    const rec = JSON.parse(dlq[0]!.value!) as { reason: string; detail: string; source: { topic: string; offset: string } };
    expect(rec.reason).toBe('adapter_invalid');
    expect(rec.detail).toMatch(/^adapter:nginx:tw_fp/);
    expect(rec.source).toMatchObject({ topic: nginx, offset: expect.any(String) });

    // both topics' offsets are committed to their ends (one transaction carries several topics)
    const ends = await waitFor(async () => {
      const a = await committed(env, canonical);
      const b = await committed(env, nginx);
      const sum = (o: Record<number, bigint>) => Object.values(o).reduce((n, x) => n + Math.max(0, Number(x)), 0);
      return sum(a) === v1.length && sum(b) === gw.length + 1 ? true : undefined;
    }, 20_000, 'committed offsets of both input topics at their ends');
    expect(ends).toBe(true);
  });
});
