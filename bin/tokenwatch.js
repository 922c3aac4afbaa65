#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm ci` / `npm run build`), or — when there is none, or
// a source file changed since it was built — the TypeScript sources through tsx, saying why.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = join(root, 'dist/src/cli/main.js');

/** The newest modification time of the .ts sources under the folders the build compiles. */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ['src', 'detectors', 'schemas']) if (existsSync(join(root, d))) walk(join(root, d));
  return newest;
}

let mod;
const built = existsSync(compiled) ? statSync(compiled).mtimeMs : 0;
if (built && (process.env.TOKENWATCH_SKIP_BUILD_CHECK === '1' || newestSource() <= built)) {
  mod = await import(compiled);
} else {
  if (built) process.stderr.write('tokenwatch: dist/ is older than the sources; running the sources through tsx (npm run build to compile)\n');
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import('../src/cli/main.ts');
}
const code = await mod.main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
