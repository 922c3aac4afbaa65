/**
 * The README stays true: its commands exist, every setting the code reads is documented, and no
 * relative link in the README or docs/ points to a missing file or heading.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const root = fileURLToPath(new URL('../..', import.meta.url));

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const [, h] of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+)$/gm)) {
    out.add(h!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return out;
}

describe('relative links in README.md and docs/*.md', () => {
  const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

  it('point to files and headings that exist', () => {
    const broken: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(root, page), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue; // https:, mailto:
        const [path, hash] = target!.split('#') as [string, string | undefined];
        const file = path ? join(root, dirname(page), path) : join(root, page);
        if (!existsSync(file)) broken.push(`${page}: ${target} (no file ${relative(root, file)})`);
        else if (hash && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(hash)) broken.push(`${page}: ${target} (no heading #${hash})`);
      }
    }
    expect(broken).toEqual([]);
  });
});
