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
  decompress(src: Uint8Array): ArrayLike<number>;
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
function lz4Frame(lz4: Lz4js, xxh32: (seed: number, src: Uint8Array, index: number, length: number) => number, src: Buffer): Buffer {
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

let registered = false;

/** Registers snappy, lz4 and zstd in kafkajs (idempotent). Called by the kafkajs Bus before any client exists. */
export function registerCodecs(): void {
  if (registered) return;
  const snappy = require('kafkajs-snappy') as () => { compress(e: Encoder): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };
  const lz4 = require('lz4js') as Lz4js;
  const xxh32 = (require('lz4js/xxh32.js') as { hash: (seed: number, src: Uint8Array, index: number, length: number) => number }).hash;
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
        return Buffer.from(lz4.decompress(buffer) as Uint8Array);
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
