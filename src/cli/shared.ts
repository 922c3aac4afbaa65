/** What several commands share: GeoIP opening, stdin, and running an operator command against both services. */
import { detectors } from '../../detectors/index.js';
import { loadConfig, type Config } from '../config/index.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { describeError } from '../../schemas/errors.js';
import { kafkaBus } from '../io/kafka.js';
import type { Bus } from '../io/bus.js';
import { AlertStore } from '../io/clickhouse.js';
import { openGeoLookup } from '../ingest/geoip/index.js';
import type { GeoLookup } from '../ingest/enrich.js';

/** The GeoIP/ASN databases; without the bundled ones only events with a geo field form locations (a licensed path that fails is an error). */
export async function openGeo(config: Config, log: Logger): Promise<GeoLookup | undefined> {
  try {
    return await openGeoLookup(config.geoip);
  } catch (e) {
    if (config.geoip.cityDbPath || config.geoip.asnDbPath) throw e;
    log.warn({ err: describeError(e) }, 'GeoIP databases unavailable; only events with a geo field form locations');
    return undefined;
  }
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Runs an operator command against both services: validated config, Kafka and ClickHouse pinged,
 * schema migrated; everything closed afterwards.
 */
export async function withServices<T>(fn: (s: { config: Config; bus: Bus; store: AlertStore; log: Logger }) => Promise<T>): Promise<T> {
  const config = loadConfig(detectors);
  const log = createLogger({ level: config.logLevel });
  const bus = kafkaBus(config.kafka.brokers, config.kafka.clientId, log);
  const store = new AlertStore(config.clickhouse, log);
  try {
    await bus.ping();
    await store.ping();
    await store.migrate(365);
    return await fn({ config, bus, store, log });
  } finally {
    await bus.close();
    await store.close();
  }
}

