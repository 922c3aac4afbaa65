/**
 * The control topic contract (`TOKENWATCH_CONTROL_TOPIC`, default `tokenwatch.control`,
 * compacted, one partition): the revocation circuit breaker's shared state under key `breaker`.
 */
import { z } from 'zod';

export const BREAKER_CONTROL_KEY = 'breaker';

const isoTime = z.string().refine((s) => Number.isFinite(Date.parse(s)), 'must be an ISO 8601 time');

/** A record of the control topic under key `breaker`. */
export const BreakerControlRecordSchema = z.object({
  v: z.literal(1),
  type: z.literal('breaker'),
  state: z.enum(['open', 'closed']),
  /** when the breaker opened / was reset (ISO 8601) */
  at: isoTime,
  /** open: end of the cool-down (ISO 8601), null = alert-only until reset */
  until: isoTime.nullable().optional().transform((u) => u ?? null),
  reason: z.string().optional().transform((r) => r ?? ''),
  /** closed: who reset it */
  actor: z.string().optional(),
  /** open: the cap that tripped */
  trip: z
    .object({ scope: z.enum(['global', 'tenant']), tenant: z.string().optional(), count: z.number(), limit: z.number() })
    .optional(),
});
export type BreakerControlRecord = z.output<typeof BreakerControlRecordSchema>;
