/**
 * The logger, built once with redaction paths (STYLE habit 11). Child loggers add context.
 * Credential-bearing fields are censored wherever they appear in a log object.
 */
import { pino, type Logger } from 'pino';

export const REDACT_PATHS = [
  'authorization',
  'Authorization',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["x-api-key"]',
  'token',
  '*.token',
  'credential',
  '*.credential',
  'apiKey',
  '*.apiKey',
  'fpKey',
  '*.fpKey',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'raw',
  '*.raw',
];

export type { Logger };

export function createLogger(opts: { level?: string; name?: string; destination?: number } = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'tokenwatch',
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: opts.destination ?? 2, sync: false }),
  );
}
