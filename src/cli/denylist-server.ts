/** `tokenwatch denylist-server`: the gateway bridge (follows the denylist, answers auth_request / ext_authz). */
import type { AddressInfo } from 'node:net';
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../telemetry/log.js';
import { Metrics } from '../telemetry/metrics.js';
import { describeError } from '../../schemas/errors.js';
import { createDenylistChecker, serveBridge } from '../bridge/index.js';

export async function cmdDenylistServer(_args: string[] = []): Promise<void> {
  const config = loadConfig(detectors);
  const log = createLogger({ level: config.logLevel });
  const metrics = new Metrics();
  if (!config.fpKey) log.warn('TOKENWATCH_FP_KEY is not set: Authorization / X-API-Key credentials cannot be fingerprinted; only X-Tokenwatch-* headers are checked');
  const checker = createDenylistChecker({
    brokers: config.kafka.brokers,
    topic: config.topics.denylist,
    fpKey: config.fpKey,
    clientId: 'tokenwatch-bridge',
    group: config.group,
    log: log.child({ component: 'bridge' }),
    metrics,
  });
  const server = await serveBridge({ checker, host: config.bridge.host, port: config.bridge.port, metrics, log });
  const bound = server.address() as AddressInfo;
  log.info({ listen: `${config.bridge.host}:${bound.port}`, topic: config.topics.denylist }, 'denylist bridge listening; reading the denylist topic');
  checker.ready.then(
    () => log.info({ entries: checker.size }, 'denylist bridge ready'),
    (e) => {
      log.fatal({ err: describeError(e) }, 'denylist bridge cannot follow the denylist topic');
      log.flush?.();
      setTimeout(() => process.exit(1), 50);
    },
  );
  // a dead follower no longer sees revocations: exit (the server already answers 503, fail closed)
  checker.dead.catch((e) => {
    log.fatal({ err: describeError(e) }, 'denylist follower stopped and will not restart; exiting');
    log.flush?.();
    setTimeout(() => process.exit(1), 50);
  });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping the denylist bridge');
    server.close();
    await checker.close();
    log.flush?.();
    setTimeout(() => process.exit(0), 50);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
