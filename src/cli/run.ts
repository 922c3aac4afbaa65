/** `tokenwatch run`: the stream processor, with metrics/health endpoints and a graceful stop on SIGTERM. */
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../telemetry/log.js';
import { Metrics, serveMetrics } from '../telemetry/metrics.js';
import { kafkaBus } from '../io/kafka.js';
import { AlertStore } from '../io/clickhouse.js';
import { Processor } from '../pipeline/index.js';
import { openGeo } from './shared.js';

export async function cmdRun(_args: string[] = []): Promise<void> {
  const config = loadConfig(detectors);
  const log = createLogger({ level: config.logLevel });
  const geo = await openGeo(config, log);
  const metrics = new Metrics();
  const bus = kafkaBus(config.kafka.brokers, config.kafka.clientId, log);
  const store = new AlertStore(config.clickhouse, log);
  const processor = new Processor({ config, detectors, bus, store, log, metrics, geo });
  const server = config.metricsPort ? await serveMetrics(metrics, config.metricsPort, () => processor.isReady()) : undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing the batch, flushing, committing');
    const force = setTimeout(() => {
      log.error('graceful stop took longer than 30 s; exiting (uncommitted input is re-read on restart)');
      process.exit(1);
    }, 30_000);
    force.unref();
    await processor.stop();
    await bus.close();
    await store.close();
    server?.close();
    log.info('stopped');
    log.flush?.();
    setTimeout(() => process.exit(0), 50);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // a consumer gone for good: the process must not look alive (the last log line names cause and fix)
  processor.health.failed.catch(async () => {
    if (stopping) return;
    stopping = true;
    await Promise.race([processor.stop(), new Promise((r) => setTimeout(r, 5_000))]);
    await bus.close().catch(() => undefined);
    log.flush?.();
    setTimeout(() => process.exit(1), 50);
  });
  await processor.start();
}
