/**
 * Bench child: the throughput floor. A kafkajs consumer (fresh group, the consumer settings of
 * src/io/kafka.ts: eachBatch, one partition at a time, 100 ms max wait) that only fetches every message
 * of a topic and JSON-parses its value, until it reaches the topic's end offsets. Prints one JSON
 * line: events/s measured from the end of the first batch to the last message, like the
 * processor's figure.
 *
 *   node --import tsx bench/baseline-consumer.ts --brokers 127.0.0.1:9092 --topic T --group G
 */
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { quietKafkajsTimerWarnings } from './lib.js';

export interface BaselineResult {
  messages: number;
  parsed: number;
  firstBatch: number;
  seconds: number;
  eps: number;
  sinceJoinSeconds: number;
  maxRssBytes: number;
}

async function main(): Promise<void> {
  quietKafkajsTimerWarnings();
  const { values } = parseArgs({ options: { brokers: { type: 'string' }, topic: { type: 'string' }, group: { type: 'string' } } });
  const kafka = new Kafka({ clientId: 'tokenwatch-bench-baseline', brokers: values.brokers!.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(values.topic!);
  await admin.disconnect();
  const remaining = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  const total = ends.reduce((a, e) => a + Number(e.high) - Number(e.low), 0);
  const c = kafka.consumer({ groupId: values.group!, maxWaitTimeInMs: 100, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
  await c.connect();
  await c.subscribe({ topics: [values.topic!], fromBeginning: true });
  let joinedAt = 0;
  c.on(c.events.GROUP_JOIN, () => (joinedAt = performance.now()));
  let count = 0;
  let parsed = 0;
  let firstAt = 0;
  let firstBatch = 0;
  let lastAt = 0;
  await new Promise<void>((resolve, reject) => {
    c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, resolveOffset }) => {
        for (const m of batch.messages) {
          if (m.value) {
            const v = JSON.parse(m.value.toString('utf8')) as { id?: unknown };
            if (v.id !== undefined) parsed++;
          }
        }
        count += batch.messages.length;
        const last = batch.messages[batch.messages.length - 1];
        if (last) resolveOffset(last.offset);
        const now = performance.now();
        if (firstAt === 0) {
          firstAt = now;
          firstBatch = count;
        }
        lastAt = now;
        if (last && BigInt(last.offset) + 1n >= (remaining.get(batch.partition) ?? 0n)) remaining.delete(batch.partition);
        if (remaining.size === 0) resolve();
      },
    }).catch(reject);
  });
  await c.disconnect();
  const seconds = (lastAt - firstAt) / 1000;
  const result: BaselineResult = {
    messages: count,
    parsed,
    firstBatch,
    seconds,
    eps: seconds > 0 ? (count - firstBatch) / seconds : 0,
    sinceJoinSeconds: (lastAt - joinedAt) / 1000,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  if (count < total) throw new Error(`read ${count} of ${total} messages`);
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  process.stderr.write(`baseline consumer failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
