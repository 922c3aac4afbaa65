/**
 * Secret-guard cost (DESIGN §2: no message may stall a partition). Run: `tsx bench/guard.ts`.
 *
 * Prints, measured in this run on this machine:
 *   - µs per clean canonical event: `decode()` (JSON + guard + schema), the guard alone
 *     (`guardJson` on the parsed value), and a `JSON.parse`-only baseline of the same text;
 *   - ms per hostile 64 KiB message, one line per shape (median of runs), with the ratio to
 *     `JSON.parse` of the same message.
 * Exits 1 when a hostile message's median exceeds the budget (5 ms) — the figure docs/secret-guard.md
 * quotes. `--quick` runs fewer iterations.
 */
import { decode } from '../src/ingest/decode.js';
import { guardJson } from '../src/ingest/guard.js';

const QUICK = process.argv.includes('--quick');
const BUDGET_MS = 5;
const LIMIT = 64 * 1024;
const NOW = () => Date.UTC(2026, 10, 30, 12);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median ms per call over `runs` timed batches of `inner` calls. */
function time(fn: () => unknown, runs: number, inner = 1): number {
  for (let i = 0; i < Math.max(3, runs / 5); i++) fn();
  const xs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    for (let i = 0; i < inner; i++) fn();
    xs.push((performance.now() - t) / inner);
  }
  return median(xs);
}

let seed = 7;
function rnd(n: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    s += alphabet[(seed >>> 16) % alphabet.length];
  }
  return s;
}

const clean = JSON.stringify({
  v: 1,
  id: rnd(32, '0123456789abcdef'),
  ts: '2026-11-30T10:00:05.123Z',
  ip: '203.0.113.42',
  method: 'POST',
  route: '/v1/oauth/token',
  status: 200,
  gateway: 'kong-eu-west-1a',
  tenant: 'acme',
  ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  cred: {
    type: 'refresh_token',
    fp: `tfp1:${rnd(22)}`,
    sub: 'user-42',
    client_id: 'mobile-app',
    sid: '1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7c0de',
    key_id: 'key_01HZX3M8Q2',
    jti: '2c5e28ba-2fa1-4d3b-a3f5-ef19b5a7c0de',
    exp: 1796032800,
  },
  refresh: { issued_fp: `tfp1:${rnd(22)}`, issued_access_fp: `tfp1:${rnd(22)}` },
  geo: { lat: 52.52, lon: 13.405, accuracy_km: 20, country: 'DE', asn: 3320, city: 'Berlin' },
});

/** Fills `{"v":1, …, "<field>": <filler>}` up to just under 64 KiB. */
function padded(make: (room: number) => string): string {
  const head = clean.slice(0, -1);
  const room = LIMIT - Buffer.byteLength(head) - 16;
  const text = `${head},"x":${make(room)}}`;
  return Buffer.byteLength(text) <= LIMIT ? text : text.slice(0, LIMIT);
}
const str = (body: string): string => JSON.stringify(body);
const repeat = (unit: string, room: number): string => unit.repeat(Math.floor(room / unit.length));

const printable = 'the quick brown fox jumps over the lazy dog 0123456789 '.repeat(1000);
const hostile: Array<[string, string]> = [
  ['many eyJ candidates', padded((r) => str(repeat('eyJ', r - 2)))],
  ['eyJ runs, one dot each', padded((r) => str(repeat('eyJabcdefgh.', r - 2)))],
  ['structural-JWT dots (ew0…)', padded((r) => str(repeat('ew0KICJh.', r - 2)))],
  ['huge base64 run (printable)', padded((r) => str(Buffer.from(printable).toString('base64').slice(0, Math.floor((r - 2) / 4) * 4)))],
  ['huge base64url run (random)', padded((r) => str(rnd(r - 2, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')))],
  ['deep nesting (arrays)', padded((r) => '['.repeat(Math.floor((r - 1) / 2)) + ']'.repeat(Math.floor((r - 1) / 2)))],
  ['deep nesting (objects)', padded((r) => '{"a":'.repeat(Math.floor(r / 6)) + '1' + '}'.repeat(Math.floor(r / 6)))],
  ['thousands of keys', padded((r) => `{${Array.from({ length: Math.floor(r / 24) }, (_, i) => `"Kx${i}${rnd(4)}":"v${rnd(8)}"`).join(',')}}`)],
  ['thousands of credential keys', padded((r) => `{${Array.from({ length: Math.floor(r / 26) }, (_, i) => `"api_key${i}":"${rnd(10)}"`).join(',')}}`)],
  ['many % escapes', padded((r) => str(repeat('%65%79%4A', r - 2)))],
  ['many JSON \\u escapes in a string', padded((r) => str(repeat('\\u0065yJ', r - 2)))],
  ['Bearer Bearer …', padded((r) => str(repeat('Bearer ', r - 2)))],
  ['token=token=…', padded((r) => str(repeat('token=', r - 2)))],
  ['header lines password: …', padded((r) => str(repeat('password: ab\n', r - 2)))],
  ['anchor characters _-./~', padded((r) => str(repeat('_-./~ ', r - 2)))],
  ['URL userinfo ://', padded((r) => str(repeat('a://b:c@', r - 2)))],
  ['nested JSON string', padded((r) => str(repeat('{"a":"b",', r - 2)))],
  ['spaced JWT candidates', padded((r) => str(repeat('ey .ew ', r - 2)))],
  ['HAR pairs', padded((r) => `[${Array.from({ length: Math.floor(r / 48) }, () => `{"name":"Authorization","value":"${rnd(16)}"}`).join(',')}]`)],
  ['PEM headers', padded((r) => str(repeat('-----BEGIN PRIVATE KEY-----', r - 2)))],
  ['not JSON, random tokens', rnd(LIMIT - 8, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ')],
  ['not JSON, eyJ everywhere', repeat('eyJ', LIMIT)],
];

const cleanBuf = Buffer.from(clean);
const parsed = JSON.parse(clean) as unknown;
const n = QUICK ? 2_000 : 20_000;
const decodeUs = time(() => decode(cleanBuf, { now: NOW }), QUICK ? 5 : 15, n) * 1000;
const guardUs = time(() => guardJson(parsed), QUICK ? 5 : 15, n) * 1000;
const parseUs = time(() => JSON.parse(clean), QUICK ? 5 : 15, n) * 1000;
console.log(`clean canonical event (${cleanBuf.length} B):`);
console.log(`  decode (JSON + guard + schema)  ${decodeUs.toFixed(2)} µs`);
console.log(`  guard alone (guardJson)         ${guardUs.toFixed(2)} µs  (${(guardUs / parseUs).toFixed(2)}× JSON.parse)`);
console.log(`  JSON.parse baseline             ${parseUs.toFixed(2)} µs`);
console.log('');
console.log('hostile messages (≤ 64 KiB), median ms per message:');
console.log(`  ${'shape'.padEnd(34)} ${'bytes'.padStart(6)} ${'decode'.padStart(8)} ${'parse'.padStart(8)} ${'ratio'.padStart(7)}  outcome`);
let worst = 0;
for (const [name, text] of hostile) {
  const buf = Buffer.from(text);
  const runs = QUICK ? 7 : 21;
  const ms = time(() => decode(buf, { now: NOW }), runs);
  let p = 0;
  try {
    p = time(() => {
      try {
        JSON.parse(text);
      } catch {
        // not JSON: the baseline is the failed parse
      }
    }, runs);
  } catch {
    p = 0;
  }
  const d = decode(buf, { now: NOW });
  const outcome = d.ok ? (d.quarantine ? `ok + quarantine (${d.quarantine.reason})` : 'ok') : `dlq ${d.reason}`;
  worst = Math.max(worst, ms);
  console.log(`  ${name.padEnd(34)} ${String(buf.length).padStart(6)} ${ms.toFixed(3).padStart(8)} ${p.toFixed(3).padStart(8)} ${(p > 0 ? ms / p : 0).toFixed(1).padStart(6)}×  ${outcome}`);
}
console.log('');
console.log(`worst hostile median: ${worst.toFixed(3)} ms (budget ${BUDGET_MS} ms)`);
if (worst > BUDGET_MS) process.exitCode = 1;
