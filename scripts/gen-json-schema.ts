/**
 * Writes schemas/event.schema.json from the zod schema (the JSON Schema producers in other
 * languages validate against). `--check` exits 1 when the committed file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eventJsonSchema } from '../schemas/json-schema.js';

const path = fileURLToPath(new URL('../schemas/event.schema.json', import.meta.url));
const text = JSON.stringify(eventJsonSchema(), null, 2) + '\n';
if (process.argv.includes('--check')) {
  const current = readFileSync(path, 'utf8');
  if (current !== text) {
    process.stderr.write('schemas/event.schema.json is stale: run `npm run schema:gen`\n');
    process.exit(1);
  }
} else {
  writeFileSync(path, text);
  process.stdout.write(`wrote ${path}\n`);
}
