#!/usr/bin/env node
// Runs the compiled CLI when present (npm run build), else the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
let mod;
if (existsSync(compiled)) {
  mod = await import(compiled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import('../src/cli/main.ts');
}
const code = await mod.main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
