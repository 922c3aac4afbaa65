/** `tokenwatch breaker-reset --reason …`: closes the revocation circuit breaker on every instance. */
import { parseArgs } from 'node:util';
import { TokenwatchError } from '../../schemas/errors.js';
import { breakerResetRecord, breakerResetRow, controlTopicSpec, readBreakerState } from '../respond/breaker-control.js';
import { withServices } from './shared.js';

export async function cmdBreakerReset(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { reason: { type: 'string' }, actor: { type: 'string' } } });
  const reason = values.reason?.trim();
  if (!reason) throw new TokenwatchError('USAGE', 'breaker-reset needs --reason "why revocations may resume" (it is recorded in ClickHouse)');
  await withServices(async ({ config, bus, store, log }) => {
    await bus.ensureTopics([controlTopicSpec(config.topics.control)]);
    const previous = await readBreakerState(bus, config.topics.control, log);
    const actor = values.actor ?? process.env.USER ?? 'cli';
    const now = Date.now();
    const producer = await bus.producer();
    await producer.send([breakerResetRecord(config.topics.control, actor, reason, now)]);
    await producer.close();
    await store.insertAlerts([breakerResetRow(actor, reason, now, previous)]);
    const was = previous?.state === 'open' ? `it was open since ${previous.at}: ${previous.reason}` : 'it was not open';
    process.stdout.write(`breaker reset (${was}); closed record written to ${config.topics.control}, recorded in ${config.clickhouse.database}.alerts\n`);
  });
}
