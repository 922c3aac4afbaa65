/** `tokenwatch migrate`: creates / upgrades the ClickHouse schema. */
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../telemetry/log.js';
import { AlertStore } from '../io/clickhouse.js';

export async function cmdMigrate(_args: string[] = []): Promise<void> {
  const config = loadConfig(detectors);
  const log = createLogger({ level: config.logLevel });
  const store = new AlertStore(config.clickhouse, log);
  try {
    await store.ping();
    const r = await store.migrate(365);
    process.stdout.write(
      `ClickHouse ${store.version.join('.')} at ${config.clickhouse.url}, database ${config.clickhouse.database}: ` +
        `${r.applied.length ? `applied migrations ${r.applied.join(', ')}` : 'schema up to date'}` +
        `${r.skipped.length ? `; skipped ${r.skipped.join(', ')} (server too old, retention falls back to dropping partitions)` : ''}\n`,
    );
  } finally {
    await store.close();
  }
}
