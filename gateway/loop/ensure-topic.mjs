#!/usr/bin/env node
// Creates the gateway shipping topic when it is missing (scripts/gateway.sh up), with the
// project's kafkajs, and fails with a clear message when Kafka does not answer.
// Usage: node gateway/loop/ensure-topic.mjs <brokers> <topic> <partitions>
import kafkajs from 'kafkajs';

const [brokers = '127.0.0.1:9092', topic = 'gateway.nginx', partitions = '6'] = process.argv.slice(2);
const kafka = new kafkajs.Kafka({
  clientId: 'tokenwatch-gateway-setup',
  brokers: brokers.split(','),
  logLevel: kafkajs.logLevel.NOTHING,
  retry: { retries: 3, initialRetryTime: 300 },
  connectionTimeout: 3000,
});
const admin = kafka.admin();
try {
  await admin.connect();
  const existing = await admin.listTopics();
  if (existing.includes(topic)) {
    console.log(`topic ${topic} exists`);
  } else {
    await admin.createTopics({ topics: [{ topic, numPartitions: Number(partitions), replicationFactor: 1 }], waitForLeaders: true });
    console.log(`topic ${topic} created with ${partitions} partitions`);
  }
  await admin.disconnect();
} catch (e) {
  console.error(`Kafka is not reachable at ${brokers} (${e?.message ?? e}): start it with \`npm run services -- up\` or set KAFKA_BROKERS`);
  process.exit(1);
}
