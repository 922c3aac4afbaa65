/**
 * Decoding at the edge: a Kafka message value becomes a validated canonical event (possibly with
 * a quarantine record beside it) or a dead-letter record with a reason code. Bad input never
 * throws out of here.
 *
 * Order: size (cheap) → JSON → gateway adapter (`adapters/`, when the topic's input format is
 * not `canonical`) → secret guard on the decoded values (`guard/event.ts`) → fingerprint fields →
 * event-time unit → schema → event-time plausibility.
 *
 * Redact, don't blind (DESIGN §2): a secret in a field the detectors can do without (route and
 * query, user agent, gateway, method, geo text, unknown extras) is redacted — the field's whole
 * value replaced by `[REDACTED:<reason>]`, unknown extras dropped by the schema as always — and the
 * event is still returned, `ok`, with a `quarantine` record the pipeline dead-letters as well. Only
 * a secret in a field that becomes a state key, an alert column or a denylist key (`tenant`,
 * `cred.fp|sub|sid|key_id|client_id|jti`, `refresh.*`) keeps the event from the detectors. The
 * request `id` is replaced by a stable substitute when the caller gives one (`idSubstitute`).
 */
import { createHash } from 'node:crypto';
import { AccessEventSchema, MAX_EVENT_BYTES, type AccessEvent } from '../../schemas/event.js';
import { TFP1_RE } from '../../schemas/fingerprint.js';
import { adapterFor, adapterReason, type AdaptContext, type InputFormat, type RawSecret } from './adapters/index.js';
import {
  excerpt,
  guardJson,
  PRIORITY,
  redactText,
  percentDecode,
  unescapeJson,
  SECRET_REASONS,
  textExcerpt,
  type FieldFinding,
  type SecretReason,
} from './guard.js';

/** Reason codes of dead-letter records. Secret-bearing events carry the guard's reason (secret_*). */
export const DLQ_REASONS = [
  'empty',
  'too_large',
  'not_json',
  'schema_invalid',
  'fp_not_fingerprint',
  'ts_implausible',
  'adapter_invalid',
  'detector_failed',
  'processing_failed',
  ...SECRET_REASONS,
] as const;
export type DlqReason = (typeof DLQ_REASONS)[number];

/** Earliest plausible event time: 2000-01-01T00:00:00Z (older is a unit or clock error). */
export const TS_MIN_MS = Date.UTC(2000, 0, 1);
/**
 * How far past the wall clock an event time may lie, ms (default 5 min: generous NTP skew between
 * gateways and tokenwatch). A setting: `decode(…, { maxFutureSkewMs })`.
 */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;

export interface DecodeOptions {
  /** wall clock, epoch ms (default `Date.now`) */
  now?: () => number;
  /** how far in the future `ts` may be, ms (default {@link DEFAULT_MAX_FUTURE_SKEW_MS}) */
  maxFutureSkewMs?: number;
  /** earliest accepted `ts`, epoch ms (default {@link TS_MIN_MS}) */
  minTsMs?: number;
  /**
   * Stable, unique, secret-free text for this message (e.g. `topic/partition/offset`): when the
   * request `id` holds a secret, the event keeps being processed under `redacted-id:<hash of it>`.
   * Without it such an event is dead-lettered.
   */
  idSubstitute?: string;
  /** the input topic's format (`TOKENWATCH_INPUT_FORMAT`): `canonical` (default) or a gateway adapter */
  format?: InputFormat;
  /** where the message came from: the adapters' fallback time and record position */
  source?: AdaptContext;
}

/** The dead-letter record written beside an event that is processed with redacted fields. */
export interface Quarantine {
  /** the most specific secret reason found */
  reason: SecretReason;
  /** secret-free: which fields, which kinds */
  detail: string;
  /** redacted excerpt of the message */
  excerpt: string;
  /** the whole message with each secret field's value replaced by a marker */
  redacted: string;
  /** every field that held a secret */
  fields: FieldFinding[];
}

export type Decoded =
  | {
      ok: true;
      event: AccessEvent;
      /** present when fields were redacted: dead-letter it too (the event is still processed) */
      quarantine?: Quarantine;
    }
  | {
      ok: false;
      reason: DlqReason;
      /** secret-free detail: which rule, which field */
      detail: string;
      /** redacted excerpt of the message */
      excerpt: string;
      /** the whole message with every secret redacted (absent for oversize and empty messages) */
      redacted?: string;
      /** kinds of secrets the message carried (also when the reason is something else) */
      secrets?: SecretReason[];
    };

const FP_FIELDS = [
  ['cred', 'fp'],
  ['refresh', 'issued_fp'],
  ['refresh', 'issued_access_fp'],
] as const;

const MAX_DETAIL = 500;
const FP_MARKER = '[REDACTED:fp_not_fingerprint]';

function describeFindings(fs: readonly FieldFinding[]): string {
  return fs.map((f) => `${f.path}${f.key ? ' (key)' : ''}: ${f.reason}${f.format ? ` (${f.format})` : ''}`).join('; ');
}

/** Names the gateway fields that held raw credentials (dropped by the adapter) and the settings that stop them. */
function describeGatewaySecrets(name: string, secrets: readonly RawSecret[]): string {
  return `the ${name} record carried a raw credential, dropped by the adapter (event processed): ${secrets.map((s) => `${s.field} (stop it with ${s.setting})`).join('; ')}`;
}

function topReason(fs: readonly FieldFinding[]): SecretReason {
  let best = fs[0]!.reason;
  for (const f of fs) if (PRIORITY[f.reason] > PRIORITY[best]) best = f.reason;
  return best;
}

function kinds(fs: readonly FieldFinding[]): SecretReason[] {
  return [...new Set(fs.map((f) => f.reason))];
}

function clip(s: string): string {
  return s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL - 1)}…` : s;
}

/** Why a numeric `ts` is not epoch milliseconds, if it is not. */
function tsUnitProblem(ts: number): string | undefined {
  if (ts >= 1e17) return 'looks like epoch nanoseconds; expected epoch milliseconds';
  if (ts >= 1e14) return 'looks like epoch microseconds; expected epoch milliseconds';
  if (ts >= 1e8 && ts < 1e11) return 'looks like epoch seconds; expected epoch milliseconds';
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Shallow copy of `obj` with `key` set, keeping `__proto__`-named keys plain. */
function withField(obj: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  return Object.fromEntries([...Object.entries(obj).filter(([k]) => k !== key), [key, value]]);
}

/** Largest message of a batching gateway (a JSON array of records), bytes; each record is held to {@link MAX_EVENT_BYTES}. */
export const MAX_BATCH_BYTES = 1024 * 1024;

type Parsed = { ok: true; json: unknown; text: string } | { ok: false; decoded: Decoded };

/** Text with JSON escapes (`\\u0067`, nested ones too) and then percent escapes undone: what a reader of the text would see. */
function escapesUndone(text: string): string {
  const a = text.includes('\\') ? unescapeJson(text) : text;
  return a.includes('%') ? percentDecode(a) : a;
}

/** Size → white space → JSON, shared by {@link decode} and {@link decodeAll}. */
function parse(value: Buffer | null, maxBytes: number): Parsed {
  const no = (d: Decoded): Parsed => ({ ok: false, decoded: d });
  if (value === null || value.length === 0) return no({ ok: false, reason: 'empty', detail: 'message has no value', excerpt: '' });
  if (value.length > maxBytes) {
    const head = escapesUndone(value.subarray(0, 4096).toString('utf8'));
    return no({ ok: false, reason: 'too_large', detail: `${value.length} bytes > ${maxBytes}`, excerpt: textExcerpt(head + (value.length > 4096 ? '…' : ''), 512) });
  }
  const text = value.toString('utf8');
  if (text.trim() === '') return no({ ok: false, reason: 'empty', detail: `message is only white space (${value.length} bytes)`, excerpt: '' });
  try {
    return { ok: true, json: JSON.parse(text), text };
  } catch (e) {
    // V8's message quotes a piece of the input: drop the quote, keep the position
    const why = (e as Error).message.replace(/, "(?:[^"\\]|\\.)*"(?:\.\.\.)? is not valid JSON/, ' (not valid JSON)').replace(/Unexpected token '[^']*'/, 'Unexpected character');
    // not parsed, so not decoded by the guard: the excerpt and payload show the text with its JSON
    // and percent escapes undone, and are redacted on that view (a secret behind escapes is seen)
    const view = escapesUndone(text);
    return no({ ok: false, reason: 'not_json', detail: redactText(why, 200), excerpt: textExcerpt(view, 512), redacted: redactText(view) });
  }
}

/**
 * Decodes one message value. `opts.now` is the wall clock the event time is checked against.
 */
export function decode(value: Buffer | null, opts: DecodeOptions = {}): Decoded {
  const p = parse(value, MAX_EVENT_BYTES);
  return p.ok ? decodeJson(p.json, opts) : p.decoded;
}

/**
 * Decodes one message into the events it carries: one, or — for a gateway that batches
 * ({@link GatewayAdapter.batches}, a JSON array of records, up to {@link MAX_BATCH_BYTES}) — one
 * result per element, each judged alone (a bad element is one DLQ result, the others go on) and
 * given `idSubstitute#<index>`.
 */
export function decodeAll(value: Buffer | null, opts: DecodeOptions = {}): Decoded[] {
  const adapter = opts.format === undefined ? undefined : adapterFor(opts.format);
  if (!adapter?.batches) return [decode(value, opts)];
  const p = parse(value, MAX_BATCH_BYTES);
  if (!p.ok) return [p.decoded];
  if (!Array.isArray(p.json)) {
    if (p.text.length > MAX_EVENT_BYTES) return [{ ok: false, reason: 'too_large', detail: `${value!.length} bytes > ${MAX_EVENT_BYTES} (one record)`, excerpt: textExcerpt(p.text.slice(0, 4096), 512) }];
    return [decodeJson(p.json, opts)];
  }
  if (p.json.length === 0) {
    return [{ ok: false, reason: 'adapter_invalid', detail: `${adapterReason(adapter.name, '(batch)')}: an empty array of records`, excerpt: '[]', redacted: '[]' }];
  }
  return p.json.map((el, i) => {
    const sub = { ...opts, idSubstitute: opts.idSubstitute === undefined ? undefined : `${opts.idSubstitute}#${i}` };
    const size = Buffer.byteLength(JSON.stringify(el) ?? '');
    if (size > MAX_EVENT_BYTES) return { ok: false, reason: 'too_large', detail: `record ${i} of the batch: ${size} bytes > ${MAX_EVENT_BYTES}`, excerpt: '' } satisfies Decoded;
    return decodeJson(el, sub);
  });
}

/** Adapter → guard → fingerprint fields → ts unit → schema → ts plausibility, for one parsed record. */
function decodeJson(parsed: unknown, opts: DecodeOptions): Decoded {
  let json = parsed;
  const adapter = opts.format === undefined ? undefined : adapterFor(opts.format);
  let gatewaySecrets: RawSecret[] = [];
  if (adapter) {
    const ctx: AdaptContext = opts.source ?? { topic: '', partition: 0, offset: '' };
    const a = adapter.adapt(json, ctx);
    gatewaySecrets = a.rawSecrets ?? [];
    if (!a.ok) {
      const red = JSON.stringify(guardJson(json).value) ?? 'null';
      const also = gatewaySecrets.length ? `; ${describeGatewaySecrets(adapter.name, gatewaySecrets)}` : '';
      return {
        ok: false,
        reason: 'adapter_invalid',
        detail: clip(`${adapterReason(adapter.name, a.field)}: ${a.detail}${also}`),
        excerpt: excerpt(red.slice(0, 2048), 512),
        redacted: red,
      };
    }
    json = a.event;
  }

  const g = guardJson(json);
  let payload = g.value;
  const findings = g.findings;
  const blocking = findings.filter((f) => f.identity && !(f.path === 'id' && opts.idSubstitute !== undefined));
  const secrets = findings.length > 0 ? kinds(findings) : undefined;
  const redactedText = (): string => JSON.stringify(payload) ?? 'null';
  const fail = (reason: DlqReason, detail: string): Decoded => {
    const red = redactedText();
    const extra = findings.length > 0 && !reason.startsWith('secret_') ? `; raw secrets redacted: ${describeFindings(findings)}` : '';
    return { ok: false, reason, detail: clip(detail + extra), excerpt: excerpt(red.slice(0, 2048), 512), redacted: red, secrets };
  };

  if (blocking.length > 0) {
    const others = findings.filter((f) => !blocking.includes(f));
    return fail(
      topReason(blocking),
      `raw secret in an identifying field, event not processed: ${describeFindings(blocking)}${others.length ? `; also redacted: ${describeFindings(others)}` : ''}`,
    );
  }

  // fingerprint fields hold fingerprints, never the credential (a raw token would become a denylist key)
  if (isRecord(payload)) {
    const bad: string[] = [];
    let p: Record<string, unknown> = payload;
    for (const [obj, field] of FP_FIELDS) {
      const o = p[obj];
      if (!isRecord(o) || !Object.hasOwn(o, field)) continue;
      const v = o[field];
      if (typeof v === 'string' && !TFP1_RE.test(v)) {
        bad.push(`${obj}.${field}`);
        p = withField(p, obj, withField(o, field, FP_MARKER));
      }
    }
    if (bad.length > 0) {
      payload = p;
      return fail('fp_not_fingerprint', `${bad.join(', ')}: not a tfp1 fingerprint ("tfp1:" + 22 base64url characters); the value was removed`);
    }
    if (typeof p.ts === 'number') {
      const unit = tsUnitProblem(p.ts);
      if (unit !== undefined) return fail('ts_implausible', `ts: ${unit} (got ${p.ts})`);
    }
  }

  let input: unknown = payload;
  let idNote = '';
  if (opts.idSubstitute !== undefined && isRecord(payload) && findings.some((f) => f.identity && f.path === 'id')) {
    const sub = `redacted-id:${createHash('sha256').update(opts.idSubstitute).digest('base64url').slice(0, 32)}`;
    input = withField(payload, 'id', sub);
    idNote = `; id replaced by ${sub}`;
  }

  const r = AccessEventSchema.safeParse(input);
  if (!r.success) {
    const detail = r.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    return fail('schema_invalid', redactText(detail, MAX_DETAIL));
  }
  const event = r.data;
  const nowMs = (opts.now ?? Date.now)();
  const maxFuture = opts.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  const minTs = opts.minTsMs ?? TS_MIN_MS;
  if (event.ts < minTs) return fail('ts_implausible', `ts: ${new Date(event.ts).toISOString()} is before ${new Date(minTs).toISOString()}`);
  if (event.ts > nowMs + maxFuture) {
    return fail(
      'ts_implausible',
      `ts: ${new Date(event.ts).toISOString()} is ${Math.round((event.ts - nowMs) / 1000)} s ahead of the wall clock (at most ${Math.round(maxFuture / 1000)} s allowed)`,
    );
  }

  if (findings.length === 0 && gatewaySecrets.length === 0) return { ok: true, event };
  const red = redactedText();
  const parts = [
    findings.length ? `raw secret redacted, event processed without it: ${describeFindings(findings)}${idNote}` : '',
    gatewaySecrets.length && adapter ? describeGatewaySecrets(adapter.name, gatewaySecrets) : '',
  ].filter((x) => x !== '');
  return {
    ok: true,
    event,
    quarantine: {
      reason: findings.length ? topReason(findings) : 'secret_credential_field',
      detail: clip(parts.join('; ')),
      excerpt: excerpt(red.slice(0, 2048), 512),
      redacted: red,
      fields: findings,
    },
  };
}
