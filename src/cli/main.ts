#!/usr/bin/env node
/**
 * The `tokenwatch` command line (DESIGN §7): the composition root. One file per command beside
 * this one; this file only dispatches.
 */
import { ENV_SETTINGS } from '../config/index.js';
import { TokenwatchError, describeError } from '../../schemas/errors.js';
import { quietKnownWarnings } from '../telemetry/warnings.js';
import { cmdBreakerReset } from './breaker-reset.js';
import { cmdConfig } from './config.js';
import { cmdDenylistServer } from './denylist-server.js';
import { cmdFingerprint } from './fingerprint.js';
import { cmdMigrate } from './migrate.js';
import { cmdReplay } from './replay.js';
import { cmdRun } from './run.js';
import { simulateCommand } from './simulate.js';
import { unrevoke } from './unrevoke.js';

const USAGE = `tokenwatch — detect abused API credentials in gateway logs and revoke them

usage: tokenwatch <command> [options]

commands:
  run                       the stream processor: Kafka input → detectors → ClickHouse alerts + denylist
  replay <file|->           the same path as run over a file of log lines (v1 or --format), no services;
                            writes alerts, revocations and DLQ records as NDJSON (tokenwatch replay --help)
  simulate                  realistic gateway traffic with labelled attacks (tokenwatch simulate --help)
  migrate                   create / upgrade the ClickHouse schema
  unrevoke <scope:id>       lift a revocation (tombstone on the denylist)  --reason TEXT
  breaker-reset             close the revocation circuit breaker on every instance  --reason TEXT
  denylist-server           gateway bridge: follows the denylist topic, answers GET /v1/check (NGINX
                            auth_request) and /v1/ext_authz (Envoy); listens on TOKENWATCH_BRIDGE_LISTEN
  fingerprint               read a credential on stdin, print its tfp1 fingerprint (needs TOKENWATCH_FP_KEY)
  config                    validate the configuration and print the effective settings (no secrets)

environment:
${ENV_SETTINGS.map((s) => `  ${s.name.padEnd(30)} ${s.description}${s.default !== undefined ? ` (default: ${s.default || '""'})` : ''}`).join('\n')}
`;

/** Each command: what it runs, and whether it keeps running (a server) or returns its exit code. */
const COMMANDS: Record<string, { run: (args: string[]) => Promise<void>; serves?: boolean }> = {
  run: { run: cmdRun, serves: true },
  replay: { run: cmdReplay },
  simulate: { run: simulateCommand },
  migrate: { run: cmdMigrate },
  unrevoke: { run: unrevoke },
  'breaker-reset': { run: cmdBreakerReset },
  'denylist-server': { run: cmdDenylistServer, serves: true },
  fingerprint: { run: cmdFingerprint },
  config: { run: cmdConfig },
};

/** Runs one command; resolves to its exit code, or -1 for a server that keeps running. */
export async function main(argv: string[]): Promise<number> {
  quietKnownWarnings();
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!command) {
    process.stderr.write(`tokenwatch: unknown command "${cmd}"\n\n${USAGE}`);
    return 2;
  }
  try {
    await command.run(rest);
    return command.serves ? -1 : 0;
  } catch (e) {
    const code = e instanceof TokenwatchError ? e.code : 'ERROR';
    process.stderr.write(`tokenwatch ${cmd}: ${describeError(e)}\n`);
    return code === 'USAGE' ? 2 : 1;
  }
}
const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''));
if (isMain) {
  main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exitCode = code;
  });
}
