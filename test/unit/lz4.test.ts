/**
 * The LZ4 frame reader behind kafkajs' lz4 codec (src/io/codecs.ts): what other producers write
 * must decode — content size present, block and content checksums, uncompressed blocks, linked
 * blocks, 256 KiB–4 MiB block sizes — and a damaged frame must fail, naming the damage.
 */
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import kafkajs, { CompressionTypes } from 'kafkajs';
import { registerCodecs } from '../../src/io/codecs.js';

const require = createRequire(import.meta.url);
const lz4js = require('lz4js') as { compress(src: Uint8Array): Uint8Array; compressBound(n: number): number; compressBlock(src: Uint8Array, dst: Uint8Array, s: number, n: number, table: Uint32Array): number };
const xxh32 = (require('lz4js/xxh32.js') as { hash: (seed: number, src: Uint8Array, i: number, n: number) => number }).hash;

registerCodecs();
const codec = (kafkajs.CompressionCodecs as unknown as Record<number, () => { compress(e: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }>)[CompressionTypes.LZ4]!();

/** Text that compresses (records), with some randomness. */
const sample = (n: number) => Buffer.from(Array.from({ length: Math.ceil(n / 40) }, (_, i) => `{"id":"r-${i}","x":"${randomBytes(4).toString('hex')}"}`).join('').slice(0, n));

interface FrameOpts {
  contentSize?: boolean;
  blockSum?: boolean;
  contentSum?: boolean;
  raw?: boolean;
  bd?: number;
  block?: number;
}

/** An LZ4 frame as the spec allows other writers to make it (independent blocks). */
function frame(data: Buffer, o: FrameOpts = {}): Buffer {
  const flg = 0x40 | 0x20 | (o.blockSum ? 0x10 : 0) | (o.contentSize ? 0x08 : 0) | (o.contentSum ? 0x04 : 0);
  const head = [Buffer.from([0x04, 0x22, 0x4d, 0x18, flg, (o.bd ?? 4) << 4])];
  if (o.contentSize) {
    const cs = Buffer.alloc(8);
    cs.writeBigUInt64LE(BigInt(data.length));
    head.push(cs);
  }
  const h = Buffer.concat(head);
  const parts: Buffer[] = [h, Buffer.from([(xxh32(0, h, 4, h.length - 4) >>> 8) & 0xff])];
  const bs = o.block ?? 64 * 1024;
  for (let s = 0; s < data.length; s += bs) {
    const chunk = data.subarray(s, s + bs);
    let body: Buffer;
    let word: number;
    if (o.raw) {
      body = Buffer.from(chunk);
      word = (0x80000000 | chunk.length) >>> 0;
    } else {
      const dst = new Uint8Array(lz4js.compressBound(chunk.length));
      const n = lz4js.compressBlock(chunk, dst, 0, chunk.length, new Uint32Array(1 << 16));
      body = Buffer.from(dst.subarray(0, n));
      word = n;
    }
    const size = Buffer.alloc(4);
    size.writeUInt32LE(word);
    parts.push(size, body);
    if (o.blockSum) {
      const sum = Buffer.alloc(4);
      sum.writeUInt32LE(xxh32(0, body, 0, body.length) >>> 0);
      parts.push(sum);
    }
  }
  parts.push(Buffer.alloc(4));
  if (o.contentSum) {
    const sum = Buffer.alloc(4);
    sum.writeUInt32LE(xxh32(0, data, 0, data.length) >>> 0);
    parts.push(sum);
  }
  return Buffer.concat(parts);
}

describe('lz4 frames', () => {
  it('our own frames round-trip (one and several blocks)', async () => {
    for (const n of [0, 10, 65_536, 300_000]) {
      const d = sample(n);
      expect((await codec.decompress(await codec.compress({ buffer: d }))).equals(d)).toBe(true);
    }
  });

  it.each<[string, FrameOpts]>([
    ['content size present', { contentSize: true }],
    ['block checksums', { blockSum: true }],
    ['content checksum', { contentSum: true }],
    ['every option at once', { contentSize: true, blockSum: true, contentSum: true }],
    ['uncompressed blocks', { raw: true, blockSum: true }],
    ['256 KiB block size id', { bd: 5, block: 200_000 }],
    ['4 MiB block size id', { bd: 7, block: 1_000_000 }],
  ])('decodes frames of other writers: %s', async (_name, o) => {
    const d = sample(250_000);
    expect((await codec.decompress(frame(d, o))).equals(d)).toBe(true);
  });

  it('decodes linked blocks (lz4js own frame writer)', async () => {
    const d = sample(400_000);
    expect((await codec.decompress(Buffer.from(lz4js.compress(d)))).equals(d)).toBe(true);
  });

  it.each<[string, (f: Buffer) => Buffer, RegExp]>([
    ['bad magic', (f) => Buffer.concat([Buffer.from([0, 0, 0, 0]), f.subarray(4)]), /bad magic/],
    ['header checksum', (f) => Buffer.concat([f.subarray(0, 6), Buffer.from([f[6]! ^ 0xff]), f.subarray(7)]), /header checksum/],
    ['truncated', (f) => f.subarray(0, f.length - 10), /truncated|past the frame/],
    ['block checksum', (f) => Buffer.concat([f.subarray(0, 20), Buffer.from([f[20]! ^ 1]), f.subarray(21)]), /block checksum/],
  ])('a damaged frame fails, naming the damage: %s', async (_n, damage, why) => {
    const f = frame(sample(5_000), { blockSum: true });
    await expect(codec.decompress(damage(f))).rejects.toThrow(why);
  });
});
