/**
 * The README stays true: its commands exist and every setting the code reads is documented.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ENV_SETTINGS } from '../../src/config/index.js';
import { detectors } from '../../detectors/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');

describe('README', () => {
  it('opens with the two commands, and they exist', () => {
    const head = readme.slice(0, 1500);
    expect(head).toContain('npm ci && npm run demo');
    expect(head).toContain('npm ci && npm test');
    expect(pkg.scripts.demo).toBeDefined();
    expect(pkg.scripts.test).toBeDefined();
    expect(ci).toMatch(/^npm test$/m);
  });

  it('documents every environment setting', () => {
    const missing = ENV_SETTINGS.map((s) => s.name).filter((n) => !readme.includes(`\`${n}\``));
    expect(missing).toEqual([]);
  });

  it('lists every registered detector', () => {
    const missing = detectors.map((d) => d.meta.id).filter((id) => !readme.includes(`\`${id}\``));
    expect(missing).toEqual([]);
  });
});
