/**
 * Gateway adapters (src/ingest/adapters/). One generic runner executes every case of every
 * registered adapter (STYLE habit 6): record → expected canonical fields, and the event must pass
 * the v1 schema; or the expected failing field. A conformance part keeps the registry honest
 * (habit 7) and fails listing all offenders. Convention of the case tables: the raw credentials
 * planted in raw-credential cases contain "fake-", and must appear nowhere in what an adapter
 * returns.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { AccessEventSchema } from '../../schemas/event.js';
import { ADAPTERS, ADAPTER_NAMES, INPUT_FORMATS, adapterFor, adapterReason, isInputFormat } from '../../src/ingest/adapters/index.js';
import type { AdaptContext, AdapterCase, GatewayAdapter } from '../../src/ingest/adapters/types.js';
import { BAD, clfMs, ip, isCredentialName, isoMs, offsetId, pathOnly, scanQuery, status } from '../../src/ingest/adapters/common.js';
import { decodeAll } from '../../src/ingest/decode.js';
import { cases as apisixCases } from '../../src/ingest/adapters/apisix/cases.js';

const root = fileURLToPath(new URL('../../src/ingest/adapters/', import.meta.url));
const SECTIONS = ['Gateway configuration', 'Fingerprint and credential facts', 'Field mapping', 'What it cannot know', 'References'];
const CTX: AdaptContext = { topic: 'gateway.access-logs', partition: 3, offset: '1042' };

function offenders(check: (a: GatewayAdapter) => string[]): string[] {
  return ADAPTERS.flatMap((a) => check(a).map((p) => `${a.name}: ${p}`));
}

/** Every string leaf of a value (the record), for the "never echo" checks. */
function leaves(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) leaves(x, out);
  else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) leaves(x, out);
  return out;
}

/** Runs one case; returns the list of problems (empty when the case passes). */
function runCase(adapter: GatewayAdapter, c: AdapterCase): string[] {
  const problems: string[] = [];
  const result = adapter.adapt(c.record, { ...CTX, ...c.ctx });
  const planted = leaves(c.record).filter((s) => s.includes('fake-'));
  const returned = JSON.stringify(result);
  for (const s of planted) if (returned.includes(s)) problems.push('a planted raw credential appears in the result');
  const gotSecrets = (result.rawSecrets ?? []).map((s) => s.field).sort();
  const wantSecrets = [...(c.expect.rawSecrets ?? [])].sort();
  if (JSON.stringify(gotSecrets) !== JSON.stringify(wantSecrets)) {
    problems.push(`rawSecrets: expected [${wantSecrets.join(', ')}], got [${gotSecrets.join(', ')}]`);
  }
  for (const s of result.rawSecrets ?? []) if (!s.setting) problems.push(`rawSecret ${s.field} names no setting`);

  if ('event' in c.expect) {
    if (!result.ok) return [...problems, `expected an event, got failure ${result.field}: ${result.detail}`];
    const parsed = AccessEventSchema.safeParse(result.event);
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((i) => `schema: ${i.path.join('.') || '(root)'}: ${i.message}`));
    }
    const event = result.event as Record<string, unknown>;
    for (const [key, want] of Object.entries(c.expect.event)) {
      if (!isDeepStrictEqual(event[key], want)) {
        problems.push(`${key}: expected ${JSON.stringify(want)}, got ${JSON.stringify(event[key])}`);
      }
    }
  } else {
    if (result.ok) return [...problems, `expected failure on ${c.expect.field}, got an event`];
    if (result.field !== c.expect.field) problems.push(`failing field: expected ${c.expect.field}, got ${result.field} (${result.detail})`);
    if (result.detail.length === 0 || result.detail.length > 200) problems.push(`detail length ${result.detail.length}`);
    for (const s of leaves(c.record)) {
      if (s.length >= 8 && result.detail.includes(s)) problems.push('detail echoes a record value');
    }
  }
  return problems;
}

describe.each(ADAPTERS.map((a) => [a.name, a] as const))('adapter %s', (_name, adapter) => {
  it.each(adapter.cases.map((c) => [c.name, c] as const))('%s', (_case, c) => {
    expect(runCase(adapter, c)).toEqual([]);
  });
});

describe('shared readers (common.ts)', () => {
  it.each([
    ['2026-11-30T10:00:00Z', Date.UTC(2026, 10, 30, 10)],
    ['2026-11-30t10:00:00z', Date.UTC(2026, 10, 30, 10)],
    ['2026-11-30 10:00:00.5+00:00', Date.UTC(2026, 10, 30, 10, 0, 0, 500)],
    ['2026-11-30T10:00:00,25Z', Date.UTC(2026, 10, 30, 10, 0, 0, 250)],
    ['2026-11-30T10:00:00.123456789Z', Date.UTC(2026, 10, 30, 10, 0, 0, 123)],
    ['2026-11-30T15:30:00+0530', Date.UTC(2026, 10, 30, 10)],
    ['2026-11-30T05:00:00-05:00', Date.UTC(2026, 10, 30, 10)],
    ['2026-11-30T10:00:00', BAD],
    ['2026-13-30T10:00:00Z', BAD],
    ['2026-11-30T24:00:00Z', BAD],
    ['1969-12-31T23:59:59Z', BAD],
    ['2026-11-30T10:00:00.Z', BAD],
    ['2026-11-30T10:00:00Zjunk', BAD],
    ['2026-11-30T10:00:00+5:30', BAD],
  ] as const)('isoMs(%s)', (text, want) => {
    expect(isoMs(text)).toBe(want);
  });

  it('reads CLF times, addresses, paths, statuses and query credentials', () => {
    expect(clfMs('30/Nov/2026:11:00:00 +0100')).toBe(Date.UTC(2026, 10, 30, 10));
    expect(clfMs('30/Foo/2026:11:00:00 +0100')).toBe(BAD);
    const addresses: Array<[string, unknown]> = [
      ['203.0.113.7', '203.0.113.7'],
      ['203.0.113.7:443', '203.0.113.7'],
      ['[2001:db8::7]:443', '2001:db8::7'],
      ['2001:db8::7', '2001:db8::7'],
      ['fe80::1%eth0', 'fe80::1'],
      ['::ffff:203.0.113.7', '203.0.113.7'],
      ['-', undefined],
      ['', undefined],
      ['proxy.internal', BAD],
      ['203.0.113.7, 10.0.0.1', BAD],
    ];
    expect(addresses.filter(([a, want]) => ip(a) !== want)).toEqual([]);
    expect(pathOnly('https://api.example.com:8443/v1/x?apikey=1#f')).toBe('/v1/x');
    expect(pathOnly('/v1/x#frag?y')).toBe('/v1/x');
    expect(pathOnly('?only=query')).toBe('/');
    expect(pathOnly('/a://b?c')).toBe('/a://b');
    expect([status('200'), status(0), status(-1), status(600), status('2xx'), status(null)]).toEqual([200, 499, 499, BAD, BAD, undefined]);
    const found: Array<{ field: string; setting: string }> = [];
    scanQuery('/p?page=2&access%5Ftoken=abc&api_key=&token=REDACTED&client_secret=x', 'uri', 's', found);
    expect(found.map((f) => f.field)).toEqual(['uri?access_token', 'uri?client_secret']);
    expect(offsetId({ topic: 't'.repeat(200), partition: 1, offset: '2' })).toMatch(/^kafka:[A-Za-z0-9_-]{43}$/);
  });

  it('credential names: the fast filter agrees with the pattern', () => {
    const yes = ['authorization', 'Proxy-Authorization', 'cookie', 'Set-Cookie', 'cookies', 'x-api-key', 'api_key', 'apikey', 'apiKey', 'identity.apiKey',
      'access_token', 'refresh_token', 'id_token', 'X-Auth-Token', 'x-amz-security-token', 'client_secret', 'password', 'passwd', 'passphrase',
      'credentials', 'credential', 'private_key', 'signing-key', 'request_Authorization', 'http_authorization'];
    const no = ['token_type', 'key_id', 'apiKeyId', 'tw_fp', 'tw_cred_type', 'tw_key_id', 'status', 'x-request-id', 'user-agent', 'cookie_name', 'secretary_id'];
    expect(yes.filter((n) => !isCredentialName(n))).toEqual([]);
    expect(no.filter((n) => isCredentialName(n))).toEqual([]);
  });
});

describe('adapters never throw and never echo hostile input', () => {
  const sentinel = 'SENTINEL-0123456789';
  const hostile: unknown[] = [
    null,
    undefined,
    42,
    'a string',
    [],
    [{ tw_fp: sentinel }],
    {},
    JSON.parse(`{"__proto__":{"tw_fp":"${sentinel}"},"constructor":{"prototype":{"x":1}}}`),
    { tw_fp: { toString: sentinel }, request: sentinel, response: [sentinel], status: { n: 1 } },
    { tw_fp: sentinel, request: { headers: sentinel, uri: 7, querystring: [sentinel] }, headers: null },
    { tw_fp: 'tfp1:Q7IMA2GzB5IIEEx7RYijlP', status: 1e400, start_time: -1, started_at: Infinity, msec: 'NaN', time: sentinel },
    { tw_fp: 'tfp1:Q7IMA2GzB5IIEEx7RYijlP', tw_sub: sentinel.repeat(30), tw_exp: sentinel, tw_cred_type: sentinel },
  ];
  it('every adapter returns a failure naming a field, with a short detail that does not echo values', () => {
    const problems: string[] = [];
    for (const a of ADAPTERS) {
      hostile.forEach((record, i) => {
        let result;
        try {
          result = a.adapt(record, CTX);
        } catch (e) {
          problems.push(`${a.name} #${i}: threw ${String(e)}`);
          return;
        }
        if (result.ok) problems.push(`${a.name} #${i}: produced an event from hostile input`);
        else {
          if (!result.field) problems.push(`${a.name} #${i}: no field`);
          if (result.detail.length > 200) problems.push(`${a.name} #${i}: detail too long`);
          if (JSON.stringify(result).includes('SENTINEL')) problems.push(`${a.name} #${i}: echoes a value`);
        }
      });
    }
    expect(problems).toEqual([]);
  });

  it('does not pollute Object.prototype', () => {
    for (const a of ADAPTERS) a.adapt(JSON.parse('{"__proto__":{"polluted":true},"tw_fp":"tfp1:Q7IMA2GzB5IIEEx7RYijlP"}'), CTX);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('adapter registry conformance', () => {
  it('names are unique, every name is registered, every folder is an adapter named like it', () => {
    const names = ADAPTERS.map((a) => a.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...ADAPTER_NAMES].sort());
    const folders = readdirSync(root).filter((f) => statSync(root + f).isDirectory());
    expect(folders.sort()).toEqual([...names].sort());
  });

  it('INPUT_FORMATS is canonical plus every adapter; adapterFor resolves each', () => {
    expect(INPUT_FORMATS[0]).toBe('canonical');
    expect([...INPUT_FORMATS.slice(1)].sort()).toEqual(ADAPTERS.map((a) => a.name).sort());
    expect(adapterFor('canonical')).toBeUndefined();
    expect(offenders((a) => (adapterFor(a.name) === a ? [] : ['adapterFor does not return it']))).toEqual([]);
    expect(isInputFormat('kong')).toBe(true);
    expect(isInputFormat('__proto__')).toBe(false);
    expect(adapterReason('kong', 'request.headers')).toBe('adapter:kong:request.headers');
  });

  it('metadata is complete', () => {
    expect(
      offenders((a) => [
        ...(a.title ? [] : ['no title']),
        ...(a.references.length > 0 ? [] : ['no references']),
        ...a.references.filter((r) => !/^https:\/\//.test(r)).map((r) => `reference is not an https URL: ${r}`),
      ]),
    ).toEqual([]);
  });

  it('README has every section and cites every reference', () => {
    expect(
      offenders((a) => {
        const path = `${root}${a.name}/README.md`;
        if (!existsSync(path)) return ['README.md missing'];
        const text = readFileSync(path, 'utf8');
        return [
          ...SECTIONS.filter((s) => !new RegExp(`^##\\s+${s}\\s*$`, 'm').test(text)).map((s) => `README lacks "## ${s}"`),
          ...a.references.filter((r) => !text.includes(r)).map((r) => `README does not cite ${r}`),
        ];
      }),
    ).toEqual([]);
  });

  it('the folder overview lists every adapter', () => {
    const text = readFileSync(`${root}README.md`, 'utf8');
    expect(offenders((a) => (text.includes(`\`${a.name}\``) ? [] : ['not in src/ingest/adapters/README.md']))).toEqual([]);
  });

  it('cases include an event, a missing tw_fp, and (where the default payload carries them) a raw credential', () => {
    expect(
      offenders((a) => {
        const p: string[] = [];
        const names = a.cases.map((c) => c.name);
        if (new Set(names).size !== names.length) p.push('duplicate case names');
        if (!a.cases.some((c) => 'event' in c.expect)) p.push('no case producing an event');
        if (!a.cases.some((c) => 'field' in c.expect)) p.push('no missing-field case');
        if (!a.cases.some((c) => 'field' in c.expect && c.expect.field === 'tw_fp')) p.push('no case without tw_fp');
        const rawCase = a.cases.some((c) => (c.expect.rawSecrets ?? []).length > 0);
        if (a.defaultPayloadSecrets && !rawCase) p.push('default payload carries raw credentials but no case shows it');
        return p;
      }),
    ).toEqual([]);
  });
});

describe('batching gateways: one message, many records (decodeAll)', () => {
  const good = apisixCases.find((c) => c.name.startsWith('recommended custom log_format'))!.record as Record<string, unknown>;
  const now = () => Date.UTC(2026, 11, 1);
  const run = (value: unknown) => decodeAll(Buffer.from(JSON.stringify(value)), { format: 'apisix', now, idSubstitute: 'in/0/7' });

  it('an APISIX kafka-logger array (batch_max_size > 1) is split; each element is judged alone', () => {
    const out = run([good, { ...good, client_ip: 'not-an-ip' }, { ...good, request_id: 'second' }]);
    expect(out.map((d) => d.ok)).toEqual([true, false, true]);
    expect(out[1]).toMatchObject({ ok: false, reason: 'adapter_invalid', detail: expect.stringMatching(/^adapter:apisix:client_ip/) });
    expect(out[2]!.ok && out[2]!.event.id).toBe('second');
  });

  it('a single record, an empty array and an oversized element', () => {
    expect(run(good).map((d) => d.ok)).toEqual([true]);
    expect(run([])).toMatchObject([{ ok: false, reason: 'adapter_invalid', detail: expect.stringContaining('adapter:apisix:(batch)') }]);
    const big = { ...good, http_user_agent: 'x'.repeat(70_000) };
    expect(run([good, big]).map((d) => (d.ok ? 'ok' : d.reason))).toEqual(['ok', 'too_large']);
  });

  it('formats that do not batch keep one message = one record', () => {
    const d = decodeAll(Buffer.from(JSON.stringify([good])), { format: 'nginx', now });
    expect(d).toHaveLength(1);
    expect(d[0]!.ok).toBe(false);
  });
});
