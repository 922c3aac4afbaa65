/**
 * The record that carries a decoded, guarded event to the repartition topic (DESIGN §3): keyed by
 * `rk1:` + SHA-256 of the re-keying rule (so every detector key has one owner and no raw id is
 * copied to an internal topic), the source position in headers. Written by the re-keying stage
 * (TOKENWATCH_REKEY=true) and by the detect stage for messages not keyed by the contract (auto).
 */
import { createHash } from 'node:crypto';
import { rekeyKey } from '../../schemas/keys.js';
import type { AccessEvent } from '../../schemas/event.js';
import type { SourceRef } from '../detect/contract.js';
import type { BusRecord } from '../io/bus.js';
import { SRC_OFFSET_HEADER, SRC_PARTITION_HEADER, SRC_TOPIC_HEADER } from './topics.js';

/**
 * The repartition key of a decoded event: `rk1:` + base64url SHA-256 of schemas/keys.ts
 * `rekeyKey` (tenant | sub ?? sid ?? key_id ?? fp). Equal rules give equal keys, hence one
 * partition; the ids themselves stay out of the topic. Null when the event names no credential.
 */
export function routingKey(event: Pick<AccessEvent, 'tenant' | 'cred'>): string | null {
  const k = rekeyKey(event.tenant, event.cred);
  return k === undefined ? null : `rk1:${createHash('sha256').update(k).digest('base64url')}`;
}

/** The repartition record of one accepted event (guarded canonical v1, never the raw message). */
export function forwardRecord(topic: string, event: AccessEvent, source: SourceRef): BusRecord {
  return {
    topic,
    key: routingKey(event),
    value: JSON.stringify(event),
    headers: { [SRC_TOPIC_HEADER]: source.topic, [SRC_PARTITION_HEADER]: String(source.partition), [SRC_OFFSET_HEADER]: source.offset },
  };
}
