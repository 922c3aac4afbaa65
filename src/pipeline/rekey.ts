/**
 * Stage one of a re-keyed deployment (TOKENWATCH_REKEY): decodes the input (its format's adapter,
 * the secret guard, the schema), dead-letters what it rejects or quarantines, and forwards each
 * accepted event — guarded canonical v1, never the raw message — to the repartition topic keyed by
 * a hash of the re-keying rule (schemas/keys.ts), so every detector key has one owner and no raw
 * id or secret is copied to an internal topic.
 */
import type { SourceRef } from '../detect/contract.js';
import type { BusConsumer, BusProducer, BusRecord } from '../io/bus.js';
import { decodeMessage, type ProcessorDeps } from './batch.js';
import { DeadLetters } from './dead-letter.js';
import type { ConsumerHealth } from './health.js';
import { retrySink } from './retry.js';
import { repartitionTopic } from './topics.js';
import { forwardRecord } from './forward.js';

export { routingKey } from './forward.js';
import { METRICS } from '../telemetry/catalogue.js';

/**
 * Stage one of a re-keyed deployment: reads the input topics as producers keyed them, decodes each
 * message with its topic's format, and forwards accepted events to the repartition topic (Kafka's
 * default murmur2 partitioner: a fixed key → partition mapping) with the source position in
 * headers. DLQ and quarantine records are written here (with the output compression, like every
 * DLQ record). Input offsets are committed after everything sent is acknowledged.
 */
export class Rekeyer {
  private consumer?: BusConsumer;
  private producer?: BusProducer;
  /** DLQ and quarantine records: what other tools read, so with the output compression */
  private dlqProducer?: BusProducer;

  constructor(
    private readonly deps: Pick<ProcessorDeps, 'config' | 'bus' | 'log' | 'metrics' | 'now'>,
    private readonly health?: ConsumerHealth,
  ) {}

  async start(): Promise<void> {
    const { config, bus, log, metrics } = this.deps;
    const now = this.deps.now ?? Date.now;
    const target = repartitionTopic(config.groupId);
    const formats = new Map(config.topics.inputs.map((i) => [i.topic, i.format]));
    const deadLetters = new DeadLetters({ topic: config.topics.dlq, metrics, now });
    this.producer = await bus.producer({ compression: config.compression.internal });
    this.dlqProducer = await bus.producer({ compression: config.compression.output });
    this.consumer = bus.consumer(config.groupId, { maxWaitMs: config.fetchMaxWaitMs, sessionTimeoutMs: config.group.sessionTimeoutMs, heartbeatMs: config.group.heartbeatMs });
    this.health?.watch(this.consumer, 'rekey');
    log.info({ input: config.topics.inputs, repartition: target }, 're-keying the input');
    await this.consumer.run([...formats.keys()], true, async (b) => {
      const records: BusRecord[] = [];
      const dead: BusRecord[] = [];
      let forwarded = 0;
      for (const m of b.messages) {
        const source: SourceRef = { topic: b.topic, partition: b.partition, offset: m.offset };
        for (const d of decodeMessage(m, source, formats.get(b.topic) ?? 'canonical', now)) {
          const letter = deadLetters.ofDecoded(d, source, m);
          if (letter) dead.push(letter);
          if (!d.ok) continue;
          records.push(forwardRecord(target, d.event, source));
          forwarded++;
        }
      }
      await Promise.all([
        retrySink('repartition', () => this.producer!.send(records), { log, metrics, heartbeat: () => b.heartbeat() }),
        retrySink('kafka', () => this.dlqProducer!.send(dead), { log, metrics, heartbeat: () => b.heartbeat() }),
      ]);
      const last = b.messages[b.messages.length - 1];
      if (last) await this.consumer!.commit(b.topic, b.partition, (BigInt(last.offset) + 1n).toString());
      metrics.inc(METRICS.rekeyed_total, {}, forwarded);
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.stop().catch(() => undefined);
    await this.producer?.close().catch(() => undefined);
    await this.dlqProducer?.close().catch(() => undefined);
  }
}
