import { describe, expect, it } from 'vitest';
import { chunkRecords } from '../../src/io/kafka.js';

describe('Kafka send chunking', () => {
  it('splits records so no send exceeds the byte budget, keeping order', () => {
    const recs = Array.from({ length: 100 }, (_, i) => ({ topic: 't', key: `k${i}`, value: 'x'.repeat(10_000) }));
    const chunks = chunkRecords(recs, 100_000);
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks.flat()).toEqual(recs);
    for (const c of chunks) expect(c.reduce((n, r) => n + (r.key?.length ?? 0) + (r.value?.length ?? 0), 0)).toBeLessThanOrEqual(100_000);
    expect(chunkRecords([{ topic: 't', key: 'big', value: 'y'.repeat(200_000) }], 100_000)).toHaveLength(1);
  });
});
