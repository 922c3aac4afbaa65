/** `tokenwatch fingerprint`: reads credentials on stdin, prints their tfp1 fingerprints. */
import { TokenwatchError } from '../../schemas/errors.js';
import { fingerprint } from '../../schemas/fingerprint.js';
import { readStdin } from './shared.js';

export async function cmdFingerprint(_args: string[] = []): Promise<void> {
  const key = process.env.TOKENWATCH_FP_KEY;
  if (!key) throw new TokenwatchError('CONFIG_INVALID', 'TOKENWATCH_FP_KEY must be set to the shared tfp1 key (at least 16 bytes) to fingerprint a credential');
  if (process.stdin.isTTY) process.stderr.write('credential (read from stdin, end with Ctrl-D): ');
  const lines = (await readStdin()).split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new TokenwatchError('USAGE', 'no credential on stdin: echo "$TOKEN" | tokenwatch fingerprint');
  for (const l of lines) process.stdout.write(fingerprint(l, key) + '\n');
}
