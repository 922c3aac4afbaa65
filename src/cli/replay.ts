/** `tokenwatch replay <file|->`: the same hot path as `run` over NDJSON, no services. */
import { parseArgs } from 'node:util';
import { createWriteStream } from 'node:fs';
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../telemetry/log.js';
import { TokenwatchError } from '../../schemas/errors.js';
import { openInput, replay } from '../pipeline/index.js';
import { openGeo } from './shared.js';

export async function cmdReplay(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string', short: 'o' }, quiet: { type: 'boolean', short: 'q' } } });
  const path = positionals[0];
  if (!path) throw new TokenwatchError('USAGE', 'replay needs an NDJSON file or - for stdin: tokenwatch replay events.ndjson [--out alerts.ndjson]');
  const config = loadConfig(detectors, { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const log = createLogger({ level: config.logLevel });
  const geo = await openGeo(config, log);
  const output = values.out ? createWriteStream(values.out) : process.stdout;
  await replay({
    config,
    detectors,
    log,
    geo,
    input: openInput(path),
    output,
    progress: values.quiet ? undefined : (l) => process.stderr.write(l + '\n'),
  });
  if (values.out) await new Promise<void>((r) => (output as ReturnType<typeof createWriteStream>).end(r));
}
