/**
 * The gateway-adapter contract (DESIGN §2, "Gateway adapters"). An adapter turns ONE parsed JSON
 * record of a gateway's own access log into a canonical v1 input object, before the secret guard
 * and the schema run on it. Adapters are pure and synchronous, never throw, never copy a raw
 * credential into the event, and treat the record as untrusted input.
 */
import type { AccessEventInput } from '../../../schemas/event.js';

/** Registered adapter names; also the values of `TOKENWATCH_INPUT_FORMAT` besides `canonical`. */
export const ADAPTER_NAMES = ['nginx', 'haproxy', 'kong', 'apisix', 'envoy', 'traefik', 'aws-apigw'] as const;
export type AdapterName = (typeof ADAPTER_NAMES)[number];

/** Where the record came from; `timestampMs` is the fallback time for records without one. */
export interface AdaptContext {
  topic: string;
  partition: number;
  /** Kafka offset, as a decimal string */
  offset: string;
  /** Kafka message timestamp, epoch ms, fallback for records without a time */
  timestampMs?: number;
}

/**
 * A raw credential that the gateway's payload carried, by field NAME (never its value), with the
 * gateway setting that stops the gateway from logging it. tokenwatch quarantines such records.
 */
export interface RawSecret {
  /** where it sits in the gateway record, e.g. `request.headers.apikey` or `request.uri?apikey` */
  field: string;
  /** the gateway setting that stops the gateway logging it */
  setting: string;
}

export type AdaptResult =
  | {
      ok: true;
      event: AccessEventInput;
      /** raw credentials the gateway's payload carried; tokenwatch quarantines such records */
      rawSecrets?: RawSecret[];
    }
  | {
      ok: false;
      /** dotted path of the gateway field that is missing or unreadable, e.g. "request.headers" or "tw_fp" */
      field: string;
      /** secret-free explanation, <= 200 chars, never echoes a field value */
      detail: string;
      /** raw credentials seen before the failure, so the quarantine record can still name the setting */
      rawSecrets?: RawSecret[];
    };

export type AdaptFailure = Extract<AdaptResult, { ok: false }>;

/** One row of an adapter's case table (STYLE habit 6). */
export interface AdapterCase {
  name: string;
  /** a real-shaped gateway record (shape from the gateway's docs or source, fake values) */
  record: unknown;
  ctx?: Partial<AdaptContext>;
  expect:
    | {
        /** fields the produced event must have (deep-equal per key) */
        event: Partial<AccessEventInput> & Record<string, unknown>;
        /** `field`s of the raw secrets expected; absent means none */
        rawSecrets?: string[];
      }
    | { field: string; rawSecrets?: string[] };
}

export interface GatewayAdapter {
  name: AdapterName;
  /** human name of the gateway and of the log it reads */
  title: string;
  /** docs and source the mapping was written from */
  references: string[];
  /** true when the gateway's default payload can carry raw credentials (then a raw-credential case is required) */
  defaultPayloadSecrets: boolean;
  /**
   * true when one message of this gateway may carry a JSON array of records (a batching logger:
   * APISIX kafka-logger with `batch_max_size` > 1); each element is then one record
   */
  batches?: boolean;
  adapt(record: unknown, ctx: AdaptContext): AdaptResult;
  cases: AdapterCase[];
}

/** The DLQ reason code of an adapter failure: `adapter:<name>:<field>`. */
export function adapterReason(name: AdapterName, field: string): string {
  return `adapter:${name}:${field}`;
}
