/**
 * Decoding at the edge: a Kafka message value becomes either a validated canonical event or a
 * dead-letter record with a reason code. Bad input never throws out of here.
 *
 * Order matters: the size check first (cheap), then the secret guard on the raw text (a secret in
 * any field, known or unknown, quarantines the whole message), then JSON, then the schema.
 */
import { AccessEventSchema, MAX_EVENT_BYTES, type AccessEvent } from '../../schemas/event.js';
import { excerpt, scanForSecrets, redact, SECRET_REASONS } from './guard.js';

/** Reason codes of dead-letter records. Secret-bearing events carry the guard's reason (secret_*). */
export const DLQ_REASONS = ['empty', 'too_large', 'not_json', 'schema_invalid', 'detector_failed', ...SECRET_REASONS] as const;
export type DlqReason = (typeof DLQ_REASONS)[number];

export type Decoded =
  | { ok: true; event: AccessEvent }
  | {
      ok: false;
      reason: DlqReason;
      /** secret-free detail: which rule, which field */
      detail: string;
      /** redacted excerpt of the message */
      excerpt: string;
      /** the whole message with every secret redacted (absent for oversize messages) */
      redacted?: string;
    };

export function decode(value: Buffer | null): Decoded {
  if (value === null || value.length === 0) return { ok: false, reason: 'empty', detail: 'message has no value', excerpt: '' };
  const text = value.toString('utf8');
  if (value.length > MAX_EVENT_BYTES) {
    return { ok: false, reason: 'too_large', detail: `${value.length} bytes > ${MAX_EVENT_BYTES}`, excerpt: excerpt(text, 512) };
  }
  const hits = scanForSecrets(text);
  if (hits.length > 0) {
    const kinds = [...new Set(hits.map((h) => h.reason))];
    const red = redact(text, hits);
    return { ok: false, reason: kinds[0]!, detail: `raw secret quarantined: ${kinds.join(', ')}`, excerpt: excerpt(red, 512), redacted: red };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: 'not_json', detail: (e as Error).message.slice(0, 200), excerpt: excerpt(text, 512), redacted: text };
  }
  const r = AccessEventSchema.safeParse(json);
  if (!r.success) {
    const detail = r.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    return { ok: false, reason: 'schema_invalid', detail: detail.slice(0, 500), excerpt: excerpt(text, 512), redacted: text };
  }
  return { ok: true, event: r.data };
}
