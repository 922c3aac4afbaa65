/**
 * Stage one of a re-keyed deployment (TOKENWATCH_REKEY): forwards the input to the repartition
 * topic keyed by the re-keying rule (schemas/keys.ts), so every detector key has one owner.
 */
import { rekeyKey } from '../../schemas/keys.js';
import type { BusConsumer, BusProducer, BusRecord } from '../io/bus.js';
import type { ProcessorDeps } from './batch.js';
import type { ConsumerHealth } from './health.js';
import { retrySink } from './retry.js';
import { repartitionTopic, SRC_OFFSET_HEADER, SRC_PARTITION_HEADER, SRC_TOPIC_HEADER } from './topics.js';

/** The re-keying key of a raw input message (schemas/keys.ts `rekeyKey`); null when it is not a JSON event naming a credential. */
export function routingKey(value: Buffer | null): string | null {
  if (!value || value.length > 65_536) return null;
  try {
    const e = JSON.parse(value.toString('utf8')) as { tenant?: unknown; cred?: Record<string, unknown> };
    return rekeyKey(e.tenant, e.cred ?? {}) ?? null;
  } catch {
    return null;
  }
}

/**
 * Stage one of a re-keyed deployment: reads the input as producers keyed it and forwards every
 * message, unchanged, to the repartition topic keyed by `routingKey` (Kafka's default murmur2
 * partitioner: a fixed key → partition mapping). Input offsets are committed after the forwarded
 * records are acknowledged; malformed messages are forwarded too and dead-lettered by stage two.
 */
export class Rekeyer {
  private consumer?: BusConsumer;
  private producer?: BusProducer;

  constructor(
    private readonly deps: Pick<ProcessorDeps, 'config' | 'bus' | 'log' | 'metrics'>,
    private readonly health?: ConsumerHealth,
  ) {}

  async start(): Promise<void> {
    const { config, bus, log, metrics } = this.deps;
    const target = repartitionTopic(config.groupId);
    this.producer = await bus.producer({ compression: config.compression.internal });
    this.consumer = bus.consumer(config.groupId, { maxWaitMs: config.fetchMaxWaitMs });
    this.health?.watch(this.consumer, 'rekey');
    log.info({ input: config.topics.input, repartition: target }, 're-keying the input');
    await this.consumer.run([config.topics.input], true, async (b) => {
      const records: BusRecord[] = b.messages.map((m) => ({
        topic: target,
        key: routingKey(m.value),
        value: m.value === null ? null : m.value.toString('utf8'),
        headers: { ...m.headers, [SRC_TOPIC_HEADER]: b.topic, [SRC_PARTITION_HEADER]: String(b.partition), [SRC_OFFSET_HEADER]: m.offset },
      }));
      await retrySink('repartition', () => this.producer!.send(records), { log, metrics, heartbeat: () => b.heartbeat() });
      const last = b.messages[b.messages.length - 1];
      if (last) await this.consumer!.commit(b.topic, b.partition, (BigInt(last.offset) + 1n).toString());
      metrics.inc('tokenwatch_rekeyed_total', 'input messages forwarded to the repartition topic', {}, b.messages.length);
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.stop().catch(() => undefined);
    await this.producer?.close().catch(() => undefined);
  }
}
