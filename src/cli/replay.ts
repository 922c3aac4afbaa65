/** `tokenwatch replay <file|->`: the same hot path as `run` over NDJSON, no services. */
import { parseArgs } from 'node:util';
import { createWriteStream } from 'node:fs';
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../telemetry/log.js';
import { TokenwatchError } from '../../schemas/errors.js';
import { openInput, replay } from '../pipeline/index.js';
import { openGeo } from './shared.js';
import { INPUT_FORMATS, isInputFormat, type InputFormat } from '../ingest/adapters/index.js';

const HELP = `usage: tokenwatch replay <file|-> [--out FILE] [--format FORMAT] [--quiet]

Runs the same decode → secret guard → schema → detectors → response path as \`tokenwatch run\` over
a file of log lines (one message per LF-terminated line; - reads stdin), with no service. Writes
NDJSON to stdout or --out: {"type":"alert",…} rows as in ClickHouse, {"type":"revocation",…} as on
the denylist, {"type":"dlq",…} records as in the DLQ (their source offset is the line number).
Progress goes to stderr.

  -o, --out FILE      write the NDJSON there instead of stdout
  -f, --format NAME   what the lines are: ${INPUT_FORMATS.join(', ')}
                      (default: TOKENWATCH_INPUT_FORMAT of the first input topic, else canonical)
  -q, --quiet         no progress lines
  -h, --help          this text

The configuration (detectors, response policy, networks) comes from the same environment and
TOKENWATCH_CONFIG file as run: \`TOKENWATCH_CONFIG=tuned.json tokenwatch replay last-week.ndjson\`.
`;

export async function cmdReplay(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      format: { type: 'string', short: 'f' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const path = positionals[0];
  if (!path) throw new TokenwatchError('USAGE', `replay needs a file of log lines, or - for stdin\n\n${HELP}`);
  if (values.format !== undefined && !isInputFormat(values.format)) {
    throw new TokenwatchError('USAGE', `--format must be one of ${INPUT_FORMATS.join(', ')} (got "${values.format}")`);
  }
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
    format: values.format as InputFormat | undefined,
    output,
    progress: values.quiet ? undefined : (l) => process.stderr.write(l + '\n'),
  });
  if (values.out) await new Promise<void>((r) => (output as ReturnType<typeof createWriteStream>).end(r));
}
