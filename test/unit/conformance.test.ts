/**
 * Keeps the detector registry honest (STYLE habit 7): walks every registered detector and fails
 * with the list of all offenders.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { detectors } from '../../detectors/index.js';

const root = fileURLToPath(new URL('../../detectors/', import.meta.url));
const SECTIONS = ['What it detects', 'Triage', 'False positives', 'Tuning', 'Response', 'References'];

function offenders(check: (d: (typeof detectors)[number]) => string[]): string[] {
  return detectors.flatMap((d) => check(d).map((p) => `${d.meta.id}: ${p}`));
}

describe('detector registry conformance', () => {
  it('ids are unique, stable-looking and equal to their folder; every folder is registered', () => {
    const ids = detectors.map((d) => d.meta.id);
    expect(new Set(ids).size).toBe(ids.length);
    const folders = readdirSync(root).filter((f) => statSync(root + f).isDirectory());
    expect(folders.sort()).toEqual([...ids].sort());
    expect(offenders((d) => (/^[a-z][a-z0-9_]*$/.test(d.meta.id) ? [] : ['id must be snake_case']))).toEqual([]);
  });

  it('metadata is complete', () => {
    expect(
      offenders((d) => [
        ...(d.meta.title ? [] : ['no title']),
        ...(['low', 'medium', 'high', 'critical'].includes(d.meta.severity) ? [] : ['bad severity']),
        ...(['alert', 'revoke'].includes(d.meta.defaultAction) ? [] : ['bad defaultAction']),
        ...(d.meta.falsePositives.length ? [] : ['no false positives listed']),
        ...(d.meta.references.length ? [] : ['no references']),
      ]),
    ).toEqual([]);
  });

  it('README has every section', () => {
    expect(
      offenders((d) => {
        const path = `${root}${d.meta.id}/README.md`;
        if (!existsSync(path)) return ['README.md missing'];
        const text = readFileSync(path, 'utf8');
        return SECTIONS.filter((s) => !new RegExp(`^##\\s+${s}\\s*$`, 'm').test(text)).map((s) => `README lacks "## ${s}"`);
      }),
    ).toEqual([]);
  });

  it('config is a strict object whose every field has a default and a description', () => {
    expect(
      offenders((d) => {
        const schema = d.config as unknown as z.ZodObject;
        const shape = (schema as { shape?: Record<string, z.ZodType> }).shape;
        if (!shape) return ['config is not a zod object'];
        const defaults = d.config.safeParse({});
        if (!defaults.success) return ['config({}) fails: a field has no default'];
        const problems: string[] = [];
        for (const [k, f] of Object.entries(shape)) {
          if (!f.description) problems.push(`config field ${k} has no description`);
          if ((defaults.data as Record<string, unknown>)[k] === undefined) problems.push(`config field ${k} has no default`);
        }
        if (d.config.safeParse({ surelyNotAField: 1 }).success) problems.push('config accepts unknown keys (not strict)');
        return problems;
      }),
    ).toEqual([]);
  });

  it('cases include one that fires, a look-alike that must not, and a boundary case', () => {
    expect(
      offenders((d) => {
        const p: string[] = [];
        if (!d.cases.some((c) => c.kind === 'fires' && c.expect.length > 0)) p.push('no firing case');
        if (!d.cases.some((c) => c.kind === 'quiet' && c.expect.length === 0)) p.push('no quiet look-alike');
        if (!d.cases.some((c) => c.kind === 'boundary')) p.push('no boundary case');
        const names = d.cases.map((c) => c.name);
        if (new Set(names).size !== names.length) p.push('duplicate case names');
        return p;
      }),
    ).toEqual([]);
  });
});
