/**
 * Every gateway snippet and producer library against the one table, gateway/vectors.json:
 * the REAL NGINX with Debian's njs module and the REAL HAProxy (installed by
 * `scripts/gateway.sh install` when missing) on 127.0.0.1, each vector's credential sent in a
 * request and the logged tw_fp compared; the Envoy and Kong Lua with Debian's LuaJIT; the Go,
 * Python and Java producers with their own test runners. A missing runtime fails the suite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayCase, Invalid, Vector, VectorFile } from '../../gateway/vectors.js';
import { fingerprint } from '../../schemas/fingerprint.js';
import { freePort, need, rawPost, rawRequest, ROOT, run, secretsOf, start, stop, stopAll, waitFor } from './helpers.js';

const table = JSON.parse(readFileSync(join(ROOT, 'gateway/vectors.json'), 'utf8')) as VectorFile;
const httpVectors = table.vectors.filter((v) => v.http);
const K1 = table.gateway_cases[0]!.key;
const tmp = mkdtempSync(join(tmpdir(), 'tokenwatch-snippets-'));

/** What a request of the suite sends, and what the gateway must log for it. */
interface Probe {
  headers: Array<[string, string]>;
  expect: { tw_fp: string; tw_cred_type: string; jwt: Vector['jwt'] | undefined };
  label: string;
}

function vectorProbe(v: Vector): Probe {
  return { label: v.name, headers: [[v.header, v.credential]], expect: { tw_fp: v.fp, tw_cred_type: v.cred_type, jwt: v.jwt } };
}
function invalidProbe(v: Invalid): Probe {
  return { label: v.name, headers: [['authorization', v.credential]], expect: { tw_fp: '', tw_cred_type: v.error === 'short_key' ? 'access_token' : '', jwt: undefined } };
}
function caseProbe(c: GatewayCase): Probe {
  return { label: c.name, headers: Object.entries(c.headers), expect: { tw_fp: c.expect.tw_fp, tw_cred_type: c.expect.tw_cred_type, jwt: undefined } };
}

/** Groups of probes that share a key (one gateway process per key). */
function groups(): Map<string, Probe[]> {
  const g = new Map<string, Probe[]>();
  const add = (key: string, p: Probe) => g.set(key, [...(g.get(key) ?? []), p]);
  for (const v of httpVectors) add(v.key, vectorProbe(v));
  for (const v of table.invalid.filter((x) => x.http)) add(v.key, invalidProbe(v));
  for (const c of table.gateway_cases) add(c.key, caseProbe(c));
  return g;
}

type LogLine = Record<string, string>;

/** Sends every probe to /v/<i> and returns the log line of each, by index. */
async function sendAll(port: number, probes: Probe[]): Promise<void> {
  for (const [i, p] of probes.entries()) {
    const r = await rawRequest(port, `/v/${i}`, p.headers);
    expect(r.status, `${p.label}: HTTP status`).toBe(200);
  }
}

function parseLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

function byIndex(lines: LogLine[]): Map<number, LogLine> {
  const m = new Map<number, LogLine>();
  for (const l of lines) {
    const i = /^\/v\/(\d+)$/.exec(l.uri ?? '')?.[1];
    if (i !== undefined) m.set(Number(i), l);
  }
  return m;
}

/** Compares the logged fields with the probes; returns the number of checks made. */
function compare(gateway: string, probes: Probe[], logged: Map<number, LogLine>, claims: (p: Probe) => boolean): number {
  const failures: string[] = [];
  let checks = 0;
  for (const [i, p] of probes.entries()) {
    const l = logged.get(i);
    if (!l) {
      failures.push(`${p.label}: no log line`);
      continue;
    }
    const want: Record<string, string> = { tw_fp: p.expect.tw_fp, tw_cred_type: p.expect.tw_cred_type };
    if (p.expect.jwt !== undefined && claims(p)) {
      const j = p.expect.jwt;
      Object.assign(want, { tw_sub: j?.sub ?? '', tw_sid: j?.sid ?? '', tw_jti: j?.jti ?? '', tw_exp: j?.exp ?? '', tw_client_id: j?.client_id ?? '' });
    }
    for (const [k, v] of Object.entries(want)) {
      checks++;
      if (l[k] !== v) failures.push(`${p.label}: ${k} = ${JSON.stringify(l[k])}, want ${JSON.stringify(v)}`);
    }
  }
  expect(failures, `${gateway}: ${failures.length} mismatches`).toEqual([]);
  return checks;
}

const LOG_KEYS = [
  'time', 'msec', 'request_id', 'remote_addr', 'request_method', 'uri', 'status', 'host', 'http_user_agent',
  'tw_fp', 'tw_cred_type', 'tw_sub', 'tw_sid', 'tw_client_id', 'tw_key_id', 'tw_jti', 'tw_exp', 'tw_tenant',
  'tw_route', 'tw_issued_fp', 'tw_issued_access_fp',
];

const summary: string[] = [];

beforeAll(() => {
  run('bash', [join(ROOT, 'scripts/gateway.sh'), 'install'], { timeoutMs: 900_000 });
}, 900_000);

afterAll(async () => {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
  console.log(`gateway snippets:\n  ${summary.join('\n  ')}`);
});

// ------------------------------------------------------------------ NGINX + njs
const JS_MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';

function nginxConf(dir: string, port: number, keySource: 'env' | 'preload', extra = ''): string {
  return `load_module ${JS_MODULE};
env TOKENWATCH_FP_KEY;
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  js_path "${ROOT}/gateway/nginx/";
  ${keySource === 'preload' ? `js_preload_object tokenwatch_key from ${dir}/key.json;` : ''}
  include ${ROOT}/gateway/nginx/tokenwatch.conf;
  access_log ${dir}/access.log tokenwatch;
  server {
    listen 127.0.0.1:${port};
    location / { return 200 "ok\\n"; }
${extra}
  }
}
`;
}

async function runNginx(name: string, key: string | undefined, probes: Probe[], keySource: 'env' | 'preload' = 'env', extra = '', send = sendAll) {
  const dir = join(tmp, `nginx-${name}`);
  run('mkdir', ['-p', join(dir, 'tmp')]);
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, port, keySource, extra.replaceAll('@PORT@', String(port))));
  if (keySource === 'preload') writeFileSync(join(dir, 'key.json'), JSON.stringify({ key }));
  const env = { ...process.env };
  delete env.TOKENWATCH_FP_KEY;
  if (key !== undefined && keySource === 'env') env.TOKENWATCH_FP_KEY = key;
  const nginx = start('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { env });
  try {
    await waitFor('nginx', 10_000, async () => (await rawRequest(port, '/ready', [])).status === 200, () => nginx.output());
    await send(port, probes);
  } finally {
    await stop(nginx, 'SIGQUIT');
  }
  const text = readFileSync(join(dir, 'access.log'), 'utf8');
  const lines = parseLines(text);
  let errorLog = '';
  try {
    errorLog = readFileSync(join(dir, 'error.log'), 'utf8');
  } catch {
    // no errors logged
  }
  return { lines, text, errorLog };
}

describe('NGINX njs (gateway/nginx/tokenwatch.js + tokenwatch.conf)', () => {
  it('logs the tfp1 of every vector, the credential type and the JWT claims', async () => {
    need('nginx', 'scripts/gateway.sh install');
    let checks = 0;
    let requests = 0;
    let n = 0;
    for (const [key, probes] of groups()) {
      const short = Buffer.byteLength(key) < 16;
      // the UTF-8 key is read from a js_preload_object file, the others from the environment
      const source = /[^\x00-\x7f]/.test(key) ? 'preload' : 'env';
      const { lines, text, errorLog } = await runNginx(`k${n++}`, key, probes, source);
      requests += probes.length;
      checks += compare('nginx', probes, byIndex(lines), () => true);
      for (const l of lines) expect(Object.keys(l)).toEqual(LOG_KEYS);
      if (short) expect(errorLog).toContain('TOKENWATCH_FP_KEY is shorter than 16 bytes');
      for (const s of secretsOf(probes.flatMap((p) => p.headers.map(([, v]) => v)))) {
        expect(text.includes(s), 'a raw credential in the access log').toBe(false);
        expect(errorLog.includes(s), 'a raw credential in the error log').toBe(false);
      }
    }
    summary.push(`nginx ${run('nginx', ['-v']).trim().replace('nginx version: ', '')} + njs: ${requests} requests, ${checks} logged fields checked`);
  });

  it('on a token endpoint: the refresh grant is the credential, the issued tokens are fingerprinted', async () => {
    const presented = 'rt-presented-' + 'x'.repeat(20);
    const issuedRt = 'rt-issued-' + 'y'.repeat(20);
    const issuedAt = 'at-issued-' + 'z'.repeat(20);
    const token = `
    location = /oauth/token {
      set $tw_token_endpoint 1;
      client_body_buffer_size 16k;
      client_body_in_single_buffer on;
      js_body_filter tw.token_response buffer_type=buffer;
      proxy_set_header Accept-Encoding "";
      proxy_pass http://127.0.0.1:@PORT@/_issue;
    }
    location = /_issue {
      access_log off;
      default_type application/json;
      return 200 '{"access_token":"${issuedAt}","token_type":"Bearer","expires_in":300,"refresh_token":"${issuedRt}"}';
    }`;
    const post = async (port: number) => {
      const body = `grant_type=refresh_token&refresh_token=${presented}&client_id=web`;
      const r = await rawPost(port, '/oauth/token', body, [['Authorization', 'Basic d2ViOnNlY3JldA==']]);
      expect(r.status).toBe(200);
      expect(r.body).toContain(issuedRt);
    };
    const { lines, text } = await runNginx('token', K1, [], 'env', token, post);
    const line = lines.find((l) => l.uri === '/oauth/token');
    expect(line).toMatchObject({
      tw_cred_type: 'refresh_token',
      tw_fp: fingerprint(presented, K1),
      tw_issued_fp: fingerprint(issuedRt, K1),
      tw_issued_access_fp: fingerprint(issuedAt, K1),
    });
    for (const s of [presented, issuedRt, issuedAt]) expect(text.includes(s)).toBe(false);
  });

  it('leaves tw_fp empty and says why when TOKENWATCH_FP_KEY is not set', async () => {
    const v = httpVectors[0]!;
    const { lines, errorLog } = await runNginx('nokey', undefined, [vectorProbe(v)]);
    const line = byIndex(lines).get(0);
    expect(line?.tw_fp).toBe('');
    expect(line?.tw_cred_type).toBe('access_token');
    expect(line?.tw_sub).toBe('user-42');
    expect(errorLog).toContain('TOKENWATCH_FP_KEY is not set');
    expect(errorLog.includes(secretsOf([v.credential])[0]!)).toBe(false);
  });
});

// ------------------------------------------------------------------ HAProxy (converters)
function haproxyBlock(): { global: string; rules: string } {
  const cfg = readFileSync(join(ROOT, 'gateway/haproxy/haproxy.cfg'), 'utf8');
  const global = /^\s*set-var proc\.tw_key_b64 .*$/m.exec(cfg)?.[0];
  const rules = /# --- tokenwatch begin ---\n([\s\S]*?)\n\s*# --- tokenwatch end ---/.exec(cfg)?.[1];
  if (!global || !rules) throw new Error('gateway/haproxy/haproxy.cfg lost its tokenwatch markers');
  return { global, rules };
}

/**
 * HAProxy's json_query cannot tell a JSON string from a number (documented in the README): its
 * claims are compared where the payload's claims have the types the contract expects.
 */
function plainClaims(p: Probe): boolean {
  const cred = p.headers[0]?.[1] ?? '';
  const m = /^\s*(?:bearer\s+)?[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*\s*$/i.exec(cred);
  if (!m) return true;
  try {
    const payload = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const okStr = (k: string) => payload[k] === undefined || typeof payload[k] === 'string';
    return ['sub', 'sid', 'jti', 'client_id', 'azp'].every(okStr) && (payload.exp === undefined || typeof payload.exp === 'number');
  } catch {
    return true;
  }
}

describe('HAProxy converters (gateway/haproxy/haproxy.cfg)', () => {
  it('logs the tfp1 of every vector and the credential type, with converters only', async () => {
    need('haproxy', 'scripts/gateway.sh install');
    const { global, rules } = haproxyBlock();
    let checks = 0;
    let requests = 0;
    let n = 0;
    let claimsCompared = 0;
    for (const [key, probes] of groups()) {
      const port = await freePort();
      const file = join(tmp, `haproxy-${n++}.cfg`);
      writeFileSync(
        file,
        `global
${global}
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:${port}
    unique-id-format %[uuid()]
${rules}
    http-request return status 200 content-type text/plain string ok
`,
      );
      const env = { ...process.env, TOKENWATCH_FP_KEY: key };
      run('haproxy', ['-c', '-q', '-f', file], { env });
      const hap = start('haproxy', ['-db', '-f', file], { env });
      try {
        await waitFor('haproxy', 10_000, async () => (await rawRequest(port, '/ready', [])).status === 200, () => hap.output());
        await sendAll(port, probes);
        await waitFor('haproxy log lines', 5000, () => byIndex(parseLines(hap.output())).size >= probes.length, () => hap.output().slice(-2000));
      } finally {
        await stop(hap);
      }
      const out = hap.output();
      const lines = parseLines(out);
      for (const l of lines) expect(Object.keys(l)).toEqual(LOG_KEYS);
      requests += probes.length;
      claimsCompared += probes.filter((p) => p.expect.jwt !== undefined && plainClaims(p)).length;
      checks += compare('haproxy', probes, byIndex(lines), plainClaims);
      for (const s of secretsOf(probes.flatMap((p) => p.headers.map(([, v]) => v)))) {
        expect(out.includes(s), 'a raw credential in the HAProxy log').toBe(false);
      }
    }
    summary.push(`haproxy ${run('haproxy', ['-v']).split('\n')[0]?.split(' ')[2]}: ${requests} requests, ${checks} logged fields checked (claims on ${claimsCompared})`);
  });
});

// ------------------------------------------------------------------ Lua (Envoy, Kong) with LuaJIT
describe('Lua snippets with a stock LuaJIT', () => {
  it('Envoy filter: every vector through envoy_on_request, FIPS / RFC 4231 answers', () => {
    need('luajit', 'scripts/gateway.sh install (Debian package luajit)');
    const out = run('luajit', ['gateway/envoy/test_vectors.lua', 'gateway/vectors.json']);
    expect(out).toMatch(/^ok: /m);
    summary.push(`envoy lua: ${out.trim()}`);
  });

  it('Envoy filter: SHA-256 equals node:crypto for every length 0-200 (padding boundaries)', () => {
    const out = run('luajit', ['gateway/envoy/test_vectors.lua', '--sha256-lengths', '200']);
    const got = out.trim().split('\n').map((l) => l.split(' '));
    expect(got).toHaveLength(201);
    for (const [n, hex] of got) expect(hex, `length ${n}`).toBe(createHash('sha256').update('a'.repeat(Number(n))).digest('hex'));
  });

  it('Kong module: every vector through custom_fields_by_lua with a stubbed PDK', () => {
    need('luajit', 'scripts/gateway.sh install (Debian package luajit)');
    const out = run('luajit', ['gateway/kong/test_vectors.lua', 'gateway/vectors.json']);
    expect(out).toMatch(/^ok: /m);
    summary.push(`kong lua: ${out.trim()}`);
  });
});

// ------------------------------------------------------------------ producers
describe('producer libraries', () => {
  it('Go: go test', () => {
    need('go', 'install Go 1.21+');
    const out = run('go', ['test', '-count=1', '-v', './...'], {
      cwd: join(ROOT, 'gateway/producers/go'),
      env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
    });
    expect(out).toMatch(/--- PASS: TestVectors/);
    summary.push(`go: ${/(\d+ vectors, \d+ invalid)/.exec(out)?.[1]} (${run('go', ['version']).trim()})`);
  });

  it('Python: unittest', () => {
    need('python3', 'install python3');
    const out = run('python3', ['-B', '-m', 'unittest', '-v', 'test_tfp1'], { cwd: join(ROOT, 'gateway/producers/python') });
    expect(out).toMatch(/^OK$/m);
    summary.push(`python: ${table.vectors.length} vectors, ${table.invalid.length} invalid (${run('python3', ['--version']).trim()})`);
  });

  it('Java: single-file source launcher', () => {
    need('java', 'install a JDK 11+ (openjdk-17-jdk-headless)');
    const out = run('java', ['gateway/producers/java/Tfp1.java', '--vectors', 'gateway/vectors.json']);
    expect(out).toMatch(/^ok: /m);
    summary.push(`java: ${out.trim()}`);
  });
});
