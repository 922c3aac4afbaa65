/**
 * The dead-letter contract (DESIGN §2): topic `tokenwatch.dlq`, key `<topic>/<partition>/<offset>`
 * of the message, header `tokenwatch-reason`. Every message that is not processed is exactly one
 * such record; its excerpt and payload are redacted before they are written.
 */
import { z } from 'zod';

export const DLQ_REASON_HEADER = 'tokenwatch-reason';

export const DlqRecordSchema = z.object({
  v: z.literal(1),
  /** reason code: empty, too_large, not_json, schema_invalid, secret_*, detector_failed, adapter:<name>:<field>, … */
  reason: z.string(),
  /** secret-free detail: which rule, which field */
  detail: z.string(),
  source: z.object({
    topic: z.string(),
    partition: z.number().int(),
    offset: z.string(),
    /** Kafka message timestamp (epoch ms, as text) */
    timestamp: z.string(),
    /** the message key, redacted */
    key: z.string().nullable(),
  }),
  /** redacted excerpt of the message */
  excerpt: z.string(),
  /** the whole message with secrets redacted, when it was small enough */
  payload: z.string().optional(),
  /** when tokenwatch dead-lettered it (ISO 8601) */
  at: z.string(),
});
export type DlqRecord = z.infer<typeof DlqRecordSchema>;

/** The record key of a dead-lettered message. */
export function dlqKey(source: { topic: string; partition: number; offset: string }): string {
  return `${source.topic}/${source.partition}/${source.offset}`;
}
