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

/**
 * `{"v":1, …, "x": <filler>}` as large as fits in 64 KiB, always valid JSON: `make(n)` builds the
 * filler from a size hint, and the hint shrinks until the whole message fits (JSON escaping can
 * make the filler longer than the hint, so nothing is ever cut mid-token).
 */
function padded(make: (room: number) => string): string {
  const head = clean.slice(0, -1);
  let room = LIMIT - Buffer.byteLength(head) - 16;
  for (;;) {
    const text = `${head},"x":${make(room)}}`;
    const over = Buffer.byteLength(text) - LIMIT;
    if (over <= 0) return text;
    room -= Math.max(8, over);
  }
}
const str = (body: string): string => JSON.stringify(body);
const repeat = (unit: string, room: number): string => unit.repeat(Math.max(0, Math.floor(room / unit.length)));
/** `"<n>"` JSON string items joined by `,` up to `room` characters (an array body). */
const items = (room: number, one: (i: number) => string): string => {
  const out: string[] = [];
  let len = 2;
  for (let i = 0; ; i++) {
    const it = one(i);
    if (len + it.length + 1 > room) break;
    out.push(it);
    len += it.length + 1;
  }
  return out.join(',');
};
/** Every character of a text as a JSON `\uXXXX` escape (the parsed string is the text). */
const uEscaped = (t: string): string => [...t].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
const pctAll = (t: string): string => [...Buffer.from(t)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

const B64CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const printable = 'the quick brown fox jumps over the lazy dog 0123456789 '.repeat(1000);
const hostile: Array<[string, string]> = [
  ['many eyJ candidates', padded((r) => str(repeat('eyJ', r - 2)))],
  ['eyJ runs, one dot each', padded((r) => str(repeat('eyJabcdefgh.', r - 2)))],
  ['structural-JWT dots (ew0…)', padded((r) => str(repeat('ew0KICJh.', r - 2)))],
  ['huge base64 run (printable)', padded((r) => str(Buffer.from(printable).toString('base64').slice(0, Math.floor((r - 2) / 4) * 4)))],
  ['huge base64url run (random)', padded((r) => str(rnd(r - 2, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')))],
  ['many base64 runs (16 chars, printable)', padded((r) => str(repeat(`${Buffer.from('user:password').toString('base64').slice(0, 16)} `, r - 2)))],
  ['base64 of base64 of eyJ', padded((r) => str(Buffer.from(Buffer.from(repeat('eyJhbGciOi.', r)).toString('base64')).toString('base64').slice(0, Math.floor((r - 2) / 4) * 4)))],
  ['long %-encoded run (random bytes)', padded((r) => str(pctAll(rnd(Math.floor((r - 2) / 3), B64CHARS))))],
  ['long %-encoded run (eyJ…)', padded((r) => str(pctAll(repeat('eyJabcdefgh.', Math.floor((r - 2) / 3)))))],
  ['double %-encoding (%2565…)', padded((r) => str(repeat('%2565%2579%254A', r - 2)))],
  ['many % escapes', padded((r) => str(repeat('%65%79%4A', r - 2)))],
  ['deep nesting (arrays)', padded((r) => '['.repeat(Math.floor((r - 1) / 2)) + ']'.repeat(Math.floor((r - 1) / 2)))],
  ['deep nesting (objects)', padded((r) => '{"a":'.repeat(Math.floor(r / 6)) + '1' + '}'.repeat(Math.floor(r / 6)))],
  ['deep nesting (JSON in strings)', padded((r) => str(repeat('{"a":"', Math.floor(r / 4))))],
  ['thousands of keys', padded((r) => `{${items(r, (i) => `"Kx${i}${rnd(4)}":"v${rnd(8)}"`)}}`)],
  ['thousands of credential keys', padded((r) => `{${items(r, (i) => `"api_key${i}":"${rnd(10)}"`)}}`)],
  ['many short strings', padded((r) => `[${items(r, () => `"${rnd(6)}"`)}]`)],
  ['long string, no separators (letters)', padded((r) => str('a'.repeat(r - 2)))],
  ['long string, no separators (alnum)', padded((r) => str(rnd(r - 2)))],
  ['unicode escapes everywhere', padded((r) => `"${uEscaped(repeat('eyJ0.Bearer x=', Math.floor((r - 2) / 6)))}"`)],
  ['unicode escapes in values (raw)', padded((r) => `[${items(r, () => `"${uEscaped('eyJhbGci')}"`)}]`)],
  ['many JSON \\u escapes in a string', padded((r) => str(repeat('\\u0065yJ', r - 2)))],
  ['Bearer Bearer …', padded((r) => str(repeat('Bearer ', r - 2)))],
  ['token=token=…', padded((r) => str(repeat('token=', r - 2)))],
  ['header lines password: …', padded((r) => str(repeat('password: ab\n', r - 2)))],
  ['anchor characters _-./~', padded((r) => str(repeat('_-./~ ', r - 2)))],
  ['URL userinfo ://', padded((r) => str(repeat('a://b:c@', r - 2)))],
  ['nested JSON string', padded((r) => str(repeat('{"a":"b",', r - 2)))],
  ['spaced JWT candidates', padded((r) => str(repeat('ey .ew ', r - 2)))],
  ['HAR pairs', padded((r) => `[${items(r, () => `{"name":"Authorization","value":"${rnd(16)}"}`)}]`)],
  ['PEM headers', padded((r) => str(repeat('-----BEGIN PRIVATE KEY-----', r - 2)))],
];
/** Not JSON: the DLQ path (redactText / textExcerpt), measured too but outside the guard proper. */
const notJson: Array<[string, string]> = [
  ['not JSON, random tokens', rnd(LIMIT - 8, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ')],
  ['not JSON, eyJ everywhere', repeat('eyJ', LIMIT)],
];
for (const [name, text] of hostile) {
  try {
    JSON.parse(text);
  } catch (e) {
    throw new Error(`bench generator built invalid JSON for "${name}": ${(e as Error).message}`);
  }
  if (Buffer.byteLength(text) > LIMIT) throw new Error(`bench generator built more than 64 KiB for "${name}"`);
}

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
console.log('hostile messages (valid JSON, ≤ 64 KiB), median µs per message:');
console.log(`  guard = guardJson on the parsed value; decode = JSON.parse + guard + schema; ratio = guard / JSON.parse`);
console.log(`  ${'shape'.padEnd(40)} ${'bytes'.padStart(6)} ${'parse'.padStart(9)} ${'guard'.padStart(9)} ${'decode'.padStart(9)} ${'ratio'.padStart(8)}  budget   outcome`);
let worst = 0;
let worstName = '';
const runs = QUICK ? 7 : 21;
function outcomeOf(buf: Buffer): string {
  const d = decode(buf, { now: NOW });
  return d.ok ? (d.quarantine ? `ok + quarantine (${d.quarantine.reason})` : 'ok') : `dlq ${d.reason}`;
}
for (const [name, text] of hostile) {
  const buf = Buffer.from(text);
  const value = JSON.parse(text) as unknown;
  const p = time(() => JSON.parse(text), runs) * 1000;
  const g = time(() => guardJson(value), runs) * 1000;
  const ms = time(() => decode(buf, { now: NOW }), runs);
  const met = ms <= BUDGET_MS ? 'met' : 'NOT MET';
  if (ms > worst) {
    worst = ms;
    worstName = name;
  }
  console.log(
    `  ${name.padEnd(40)} ${String(buf.length).padStart(6)} ${p.toFixed(0).padStart(9)} ${g.toFixed(0).padStart(9)} ${(ms * 1000).toFixed(0).padStart(9)} ${(g / p).toFixed(1).padStart(7)}×  ${met.padEnd(7)}  ${outcomeOf(buf)}`,
  );
}
console.log('');
console.log('not JSON (dead-lettered: redactText + textExcerpt), median µs per message:');
for (const [name, text] of notJson) {
  const buf = Buffer.from(text);
  const ms = time(() => decode(buf, { now: NOW }), runs);
  const met = ms <= BUDGET_MS ? 'met' : 'NOT MET';
  if (ms > worst) {
    worst = ms;
    worstName = name;
  }
  console.log(`  ${name.padEnd(40)} ${String(buf.length).padStart(6)} ${(ms * 1000).toFixed(0).padStart(9)}  ${met.padEnd(7)}  ${outcomeOf(buf)}`);
}
console.log('');
console.log(`worst median: ${worst.toFixed(3)} ms (${worstName}); budget ≤ ${BUDGET_MS} ms per hostile 64 KiB message: ${worst <= BUDGET_MS ? 'met' : 'NOT MET'}`);
if (worst > BUDGET_MS) process.exitCode = 1;
