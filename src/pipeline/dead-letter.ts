/**
 * Dead-letter records (DESIGN §2, schemas/dlq.ts), written by both stages that decode input: the
 * batch (`batch.ts`) and, in a re-keyed deployment, the re-keying stage (`rekey.ts`), so a
 * rejected or quarantined message gets the same record and the same counters wherever it is read.
 */
import type { SourceRef } from '../detect/contract.js';
import type { Decoded, DlqReason } from '../ingest/decode.js';
import { guardJson, redactionMarker, textExcerpt } from '../ingest/guard.js';
import type { BusBatch, BusRecord } from '../io/bus.js';
import type { Metrics } from '../telemetry/metrics.js';
import { DLQ_REASON_HEADER, dlqKey, type DlqRecord } from '../../schemas/dlq.js';
import { METRICS } from '../telemetry/catalogue.js';

type Message = BusBatch['messages'][number];

/**
 * The Kafka message key as a DLQ record may show it: producers key by `cred.sid ?? cred.sub ?? …`,
 * so a key can be the very secret the guard caught in the value — in any encoding. The guard reads
 * it as it reads a value (decoded, percent-decoded, base64); a key holding a secret is replaced
 * whole, any other goes through the text redactor.
 */
function safeKey(key: string): string {
  const g = guardJson(key);
  const first = g.findings[0];
  return first ? redactionMarker(first.reason) : textExcerpt(key, 200);
}

export class DeadLetters {
  constructor(private readonly deps: { topic: string; metrics: Metrics; now: () => number }) {}

  /** One DLQ record; `exc` and `redacted` must already be secret-free. Counted by reason. */
  record(reason: DlqReason, detail: string, exc: string, redacted: string | undefined, source: SourceRef, m: Message): BusRecord {
    const rec: DlqRecord = {
      v: 1,
      reason,
      detail,
      source: { ...source, timestamp: m.timestamp, key: m.key === null ? null : safeKey(m.key) },
      excerpt: exc,
      payload: redacted,
      at: new Date(this.deps.now()).toISOString(),
    };
    this.deps.metrics.inc(METRICS.dlq_total, { reason });
    return { topic: this.deps.topic, key: dlqKey(source), value: JSON.stringify(rec), headers: { [DLQ_REASON_HEADER]: reason } };
  }

  /**
   * What a decode result dead-letters: the record of a rejected message, or the quarantine record
   * written beside an event processed with redacted fields; undefined for a clean event.
   */
  ofDecoded(d: Decoded, source: SourceRef, m: Message): BusRecord | undefined {
    const { metrics } = this.deps;
    if (!d.ok) {
      if (d.reason.startsWith('secret_')) metrics.inc(METRICS.quarantined_total, { reason: d.reason, outcome: 'dropped' });
      return this.record(d.reason, d.detail, d.excerpt, d.redacted, source, m);
    }
    if (!d.quarantine) return undefined;
    // redact, don't blind: the quarantine record is written and the redacted event still detected on
    const q = d.quarantine;
    metrics.inc(METRICS.quarantined_total, { reason: q.reason, outcome: 'redacted_processed' });
    return this.record(q.reason, q.detail, q.excerpt, q.redacted, source, m);
  }
}
