import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { loadConfig } from '../../src/config/index.js';
import { defineDetector } from '../../src/detect/contract.js';

const probe = defineDetector({
  meta: { id: 'probe', title: 'probe', severity: 'low', defaultAction: 'alert', falsePositives: [], references: [] },
  config: z.object({ windowSec: z.number().int().min(1).default(60).describe('window, s') }).strict(),
  keys: () => [],
  stateTtlMs: () => 0,
  step: () => ({ state: undefined, findings: [] }),
  cases: [],
});

const load = (env: NodeJS.ProcessEnv) => loadConfig([probe], env);

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = load({});
    expect(c.kafka.brokers).toEqual(['localhost:9092']);
    expect(c.topics).toMatchObject({ input: 'gateway.access-logs', denylist: 'auth.denylist', dlq: 'tokenwatch.dlq' });
    expect(c.groupId).toBe('tokenwatch');
    expect(c.clickhouse).toMatchObject({ url: 'http://localhost:8123', database: 'tokenwatch' });
    expect(c.detectorConfigs.probe).toEqual({ windowSec: 60 });
    expect(c.shadow).toBe(false);
  });

  it.each([
    [{ KAFKA_BROKERS: 'localhost' }, /KAFKA_BROKERS must be host:port/],
    [{ CLICKHOUSE_URL: 'localhost:8123' }, /CLICKHOUSE_URL must be an http/],
    [{ CLICKHOUSE_DATABASE: 'bad-name' }, /CLICKHOUSE_DATABASE/],
    [{ TOKENWATCH_INPUT_TOPIC: 'has space' }, /TOKENWATCH_INPUT_TOPIC/],
    [{ TOKENWATCH_SHADOW: 'maybe' }, /TOKENWATCH_SHADOW must be true or false/],
    [{ TOKENWATCH_REVOCATION_TTL_SEC: '5' }, /TOKENWATCH_REVOCATION_TTL_SEC must be a whole number/],
    [{ TOKENWATCH_TRUSTED_CIDRS: '10.0.0.0/40' }, /TOKENWATCH_TRUSTED_CIDRS/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ TOKENWATCH_INPUT_TOPIC: 'a,b,a' }, /TOKENWATCH_INPUT_TOPIC must be distinct topics \(a is listed twice\)/],
    [{ TOKENWATCH_INPUT_FORMAT: 'nginx-json' }, /TOKENWATCH_INPUT_FORMAT must be one of canonical, nginx.*"nginx-json" is not a format/],
    [{ TOKENWATCH_INPUT_FORMAT: 'nginx,kong' }, /TOKENWATCH_INPUT_FORMAT .*at most one format without a topic/],
    [{ TOKENWATCH_INPUT_FORMAT: 'gateway.access-logs=envoy,gateway.access-logs=kong' }, /TOKENWATCH_INPUT_FORMAT .*gateway\.access-logs is given twice/],
    [{ TOKENWATCH_INPUT_TOPIC: 'a,b', TOKENWATCH_INPUT_FORMAT: 'c=nginx' }, /TOKENWATCH_INPUT_FORMAT must be topic=format pairs for topics of TOKENWATCH_INPUT_TOPIC \(a, b\) \(got "c"\)/],
    [{ TOKENWATCH_CONFIG: '/nonexistent/tokenwatch.json' }, /TOKENWATCH_CONFIG must be the path of a readable JSON file/],
  ])('names the bad setting: %j', (env, msg) => {
    expect(() => load(env)).toThrow(msg);
  });

  it('reads several input topics, each with its format', () => {
    expect(load({}).topics.inputs).toEqual([{ topic: 'gateway.access-logs', format: 'canonical' }]);
    expect(load({ TOKENWATCH_INPUT_FORMAT: 'nginx' }).topics.inputs).toEqual([{ topic: 'gateway.access-logs', format: 'nginx' }]);
    const c = load({ TOKENWATCH_INPUT_TOPIC: 'events.v1, gw.nginx ,gw.kong', TOKENWATCH_INPUT_FORMAT: 'gw.nginx=nginx,gw.kong=kong' });
    expect(c.topics.input).toBe('events.v1');
    expect(c.topics.inputs).toEqual([
      { topic: 'events.v1', format: 'canonical' },
      { topic: 'gw.nginx', format: 'nginx' },
      { topic: 'gw.kong', format: 'kong' },
    ]);
    const d = load({ TOKENWATCH_INPUT_TOPIC: 'a,b', TOKENWATCH_INPUT_FORMAT: 'envoy,b=traefik' });
    expect(d.topics.inputs.map((i) => i.format)).toEqual(['envoy', 'traefik']);
  });

  it('never echoes the fingerprint key', () => {
    const secretish = 'short-key';
    try {
      load({ TOKENWATCH_FP_KEY: secretish });
      expect.unreachable();
    } catch (e) {
      expect(String(e)).toMatch(/TOKENWATCH_FP_KEY must be at least 16 bytes/);
      expect(String(e)).not.toContain(secretish);
    }
  });

  it('validates detector config from the config file, naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'twcfg-'));
    const f = join(dir, 'c.json');
    writeFileSync(f, JSON.stringify({ detectors: { probe: { windowSec: 0 } } }));
    expect(() => load({ TOKENWATCH_CONFIG: f })).toThrow(/config\.detectors\.probe\.windowSec/);
    writeFileSync(f, JSON.stringify({ detectors: { probe: { windowSecs: 5 } } }));
    expect(() => load({ TOKENWATCH_CONFIG: f })).toThrow(/config\.detectors\.probe/);
    writeFileSync(f, JSON.stringify({ detectors: { nope: {} } }));
    expect(() => load({ TOKENWATCH_CONFIG: f })).toThrow(/config\.detectors\.nope/);
    writeFileSync(f, JSON.stringify({ detectors: { probe: { windowSec: 120 } }, response: { shadowy: true } }));
    expect(() => load({ TOKENWATCH_CONFIG: f })).toThrow(/config\.response/);
    writeFileSync(f, JSON.stringify({ detectors: { probe: { windowSec: 120 } } }));
    expect(load({ TOKENWATCH_CONFIG: f }).detectorConfigs.probe).toEqual({ windowSec: 120 });
  });
});
