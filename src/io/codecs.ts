/**
 * Kafka compression codecs, registered once in kafkajs' codec registry (kafkajs ships gzip only).
 * Every consumer of ours (input, changelog, repartition, control, the bridge's denylist follower)
 * decodes whatever codec a producer chose — log shippers built on librdkafka compress with lz4,
 * snappy or zstd — and our own producers can compress with any of them.
 *
 * - gzip: kafkajs' own codec (node:zlib).
 * - snappy: kafkajs-snappy (the kafkajs project's codec, over the pure-JS snappyjs; it reads both
 *   raw snappy, as librdkafka writes it, and the xerial framing of the Java client).
 * - lz4: the LZ4 frame format (what Kafka's v2 record batches use) through lz4js, pure JS.
 * - zstd: node:zlib's Zstandard (Node.js ≥ 22.15), native code, no package.
 */
import { zstdCompress, zstdDecompress } from 'node:zlib';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import kafkajs, { CompressionTypes } from 'kafkajs';
import { TokenwatchError } from '../../schemas/errors.js';

const require = createRequire(import.meta.url);
// kafkajs is CommonJS: its codec registry is reached through the default export
const { CompressionCodecs } = kafkajs;

interface Lz4js {
  decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
  compressBound(n: number): number;
  compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
}

const LZ4_MAGIC = 0x184d2204;
/** FLG: version 01, blocks independent (Kafka refuses dependent blocks), no checksums, no content size */
const LZ4_FLG = 0x60;
/** BD: 64 KiB maximum block size (what librdkafka writes) */
const LZ4_BD = 4 << 4;
const LZ4_BLOCK = 64 * 1024;

/**
 * An LZ4 frame with independent blocks. lz4js' own frame writer links its blocks (one hash table
 * for the whole input) and says so in its header, which Kafka rejects ("Dependent block stream is
 * unsupported"); so the frame is written here from lz4js' block compressor, a fresh hash table per
 * block, and its header checksum (xxh32).
 */
function lz4Frame(lz4: Lz4js, xxh32: Xxh32, src: Buffer): Buffer {
  const blocks = Math.max(1, Math.ceil(src.length / LZ4_BLOCK));
  const out = Buffer.alloc(7 + blocks * (4 + lz4.compressBound(LZ4_BLOCK)) + 4);
  out.writeUInt32LE(LZ4_MAGIC, 0);
  out[4] = LZ4_FLG;
  out[5] = LZ4_BD;
  out[6] = (xxh32(0, out, 4, 2) >>> 8) & 0xff;
  let d = 7;
  const scratch = new Uint8Array(lz4.compressBound(LZ4_BLOCK));
  const table = new Uint32Array(1 << 16);
  for (let s = 0; s < src.length; s += LZ4_BLOCK) {
    const n = Math.min(LZ4_BLOCK, src.length - s);
    table.fill(0);
    const c = lz4.compressBlock(src, scratch, s, n, table);
    if (c > 0 && c < n) {
      out.writeUInt32LE(c, d);
      out.set(scratch.subarray(0, c), d + 4);
      d += 4 + c;
    } else {
      out.writeUInt32LE((0x80000000 | n) >>> 0, d);
      src.copy(out, d + 4, s, s + n);
      d += 4 + n;
    }
  }
  out.writeUInt32LE(0, d);
  return out.subarray(0, d + 4);
}

/** The codecs a producer of ours can use (TOKENWATCH_COMPRESSION / TOKENWATCH_OUTPUT_COMPRESSION). */
export const COMPRESSION_CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionCodec = (typeof COMPRESSION_CODECS)[number];

const TYPES: Record<CompressionCodec, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** kafkajs' compression type of a codec name. */
export function compressionType(codec: CompressionCodec): CompressionTypes {
  return TYPES[codec];
}

interface Encoder {
  buffer: Buffer;
}

function codecError(codec: string, op: string, e: unknown): TokenwatchError {
  return new TokenwatchError('CODEC_FAILED', `${codec} ${op} failed: ${(e as Error).message ?? String(e)}`, { cause: e });
}

type Xxh32 = (seed: number, src: Uint8Array, index: number, length: number) => number;

/** Maximum block size by the BD byte's block-size id (LZ4 frame format §3.1). */
const LZ4_BLOCK_MAX: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };

/**
 * Reads a whole LZ4 frame (the format of Kafka's lz4 record batches, LZ4 frame format v1.6): the
 * optional content size and dictionary id are skipped, the header checksum is checked, and block
 * and content checksums are verified when the flags say they are present; linked and independent
 * blocks both decode (one output buffer, so back-references reach earlier blocks). lz4js' own frame
 * reader misreads the 64-bit content size and skips a block checksum before its block, so only
 * its block decoder is used. A frame that is not well formed throws, naming what is wrong.
 */
function lz4Unframe(lz4: Lz4js, xxh32: Xxh32, src: Buffer): Buffer {
  const fail = (why: string): never => {
    throw new Error(`LZ4 frame: ${why}`);
  };
  if (src.length < 7 || src.readUInt32LE(0) !== LZ4_MAGIC) fail('bad magic number');
  const flg = src[4]!;
  if (flg >> 6 !== 1) fail(`unsupported version ${flg >> 6}`);
  const blockSum = (flg & 0x10) !== 0;
  const contentSum = (flg & 0x04) !== 0;
  let i = 6 + ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0);
  if (i >= src.length) fail('truncated header');
  if (src[i] !== ((xxh32(0, src, 4, i - 4) >>> 8) & 0xff)) fail('header checksum mismatch');
  i++;
  const maxBlock = LZ4_BLOCK_MAX[(src[5]! >> 4) & 7] ?? fail(`unsupported block size id ${(src[5]! >> 4) & 7}`);
  let out = new Uint8Array(Math.max(maxBlock, src.length * 4));
  let o = 0;
  for (;;) {
    if (i + 4 > src.length) fail('truncated (no end mark)');
    const word = src.readUInt32LE(i);
    i += 4;
    if (word === 0) break;
    const n = word & 0x7fffffff;
    if (n > maxBlock || i + n + (blockSum ? 4 : 0) > src.length) fail(`block of ${n} bytes past the frame or its maximum`);
    if (blockSum && src.readUInt32LE(i + n) !== xxh32(0, src, i, n) >>> 0) fail('block checksum mismatch');
    if (o + maxBlock > out.length) {
      const grown = new Uint8Array(Math.max(out.length * 2, o + maxBlock));
      grown.set(out.subarray(0, o));
      out = grown;
    }
    if ((word & 0x80000000) !== 0) {
      out.set(src.subarray(i, i + n), o);
      o += n;
    } else {
      o = lz4.decompressBlock(src, out, i, n, o);
    }
    i += n + (blockSum ? 4 : 0);
  }
  const result = Buffer.from(out.buffer, out.byteOffset, o);
  if (contentSum) {
    if (i + 4 > src.length) fail('truncated content checksum');
    if (src.readUInt32LE(i) !== xxh32(0, result, 0, o) >>> 0) fail('content checksum mismatch');
  }
  return result;
}

let registered = false;

/** Registers snappy, lz4 and zstd in kafkajs (idempotent). Called by the kafkajs Bus before any client exists. */
export function registerCodecs(): void {
  if (registered) return;
  const snappy = require('kafkajs-snappy') as () => { compress(e: Encoder): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };
  const lz4 = require('lz4js') as Lz4js;
  const xxh32 = (require('lz4js/xxh32.js') as { hash: Xxh32 }).hash;
  const zc = promisify(zstdCompress);
  const zd = promisify(zstdDecompress);
  const codecs = CompressionCodecs as Record<number, () => { compress(e: Encoder): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }>;
  codecs[CompressionTypes.Snappy] = snappy;
  codecs[CompressionTypes.LZ4] = () => ({
    async compress(encoder: Encoder) {
      try {
        return lz4Frame(lz4, xxh32, encoder.buffer);
      } catch (e) {
        throw codecError('lz4', 'compression', e);
      }
    },
    async decompress(buffer: Buffer) {
      try {
        return lz4Unframe(lz4, xxh32, buffer);
      } catch (e) {
        throw codecError('lz4', 'decompression', e);
      }
    },
  });
  codecs[CompressionTypes.ZSTD] = () => ({
    async compress(encoder: Encoder) {
      return zc(encoder.buffer).catch((e: unknown) => {
        throw codecError('zstd', 'compression', e);
      });
    },
    async decompress(buffer: Buffer) {
      return zd(buffer).catch((e: unknown) => {
        throw codecError('zstd', 'decompression', e);
      });
    },
  });
  registered = true;
}
