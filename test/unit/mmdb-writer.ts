/**
 * A minimal MaxMind DB (MMDB v2) writer for tests: builds small databases in MaxMind's or DB-IP's
 * record layout so the GeoIP code can be tested without shipping a licensed database.
 * Spec: https://maxmind.github.io/MaxMind-DB/ (24-bit records, IPv4 stored under ::/96).
 */
import { isIPv4 } from 'node:net';

export type MmdbValue = string | number | boolean | MmdbValue[] | { [k: string]: MmdbValue };

export interface MmdbEntry {
  /** e.g. `81.2.69.0/24` or `2001:db8::/32` */
  cidr: string;
  data: { [k: string]: MmdbValue };
}

export interface MmdbOptions {
  databaseType: string;
  /** 6 (default): one tree for both families; 4: IPv4 only */
  ipVersion?: 4 | 6;
  entries: MmdbEntry[];
}

function ctrl(type: number, size: number): Buffer {
  const bytes: number[] = [];
  let first = type <= 7 ? type << 5 : 0;
  const ext = type > 7 ? [type - 7] : [];
  const sizeBytes: number[] = [];
  if (size < 29) first |= size;
  else if (size < 285) {
    first |= 29;
    sizeBytes.push(size - 29);
  } else if (size < 65821) {
    first |= 30;
    sizeBytes.push(((size - 285) >> 8) & 255, (size - 285) & 255);
  } else {
    first |= 31;
    const s = size - 65821;
    sizeBytes.push((s >> 16) & 255, (s >> 8) & 255, s & 255);
  }
  bytes.push(first, ...ext, ...sizeBytes);
  return Buffer.from(bytes);
}

function uintBytes(n: bigint): Buffer {
  const out: number[] = [];
  while (n > 0n) {
    out.unshift(Number(n & 255n));
    n >>= 8n;
  }
  return Buffer.from(out);
}

function encode(v: MmdbValue, typeHint?: 'uint16' | 'uint64'): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([ctrl(2, b.length), b]);
  }
  if (typeof v === 'boolean') return ctrl(14, v ? 1 : 0);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) {
      const b = uintBytes(BigInt(v));
      const type = typeHint === 'uint16' ? 5 : typeHint === 'uint64' ? 9 : 6;
      return Buffer.concat([ctrl(type, b.length), b]);
    }
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return Buffer.concat([ctrl(3, 8), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([ctrl(11, v.length), ...v.map((x) => encode(x))]);
  const keys = Object.keys(v);
  return Buffer.concat([ctrl(7, keys.length), ...keys.flatMap((k) => [encode(k), encode(v[k]!)])]);
}

function cidrBits(cidr: string, ipVersion: 4 | 6): number[] {
  const [addr, len] = cidr.split('/') as [string, string];
  const bits: number[] = [];
  if (isIPv4(addr)) {
    if (ipVersion === 6) for (let i = 0; i < 96; i++) bits.push(0);
    const n = addr.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    for (let i = 31; i >= 0; i--) bits.push(Math.floor(n / 2 ** i) % 2);
    return bits.slice(0, (ipVersion === 6 ? 96 : 0) + Number(len));
  }
  if (ipVersion === 4) throw new Error(`IPv6 network ${cidr} in an IPv4 database`);
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g, 16));
  for (const g of groups) for (let i = 15; i >= 0; i--) bits.push((g >> i) & 1);
  return bits.slice(0, Number(len));
}

/** Builds an MMDB file's bytes. Networks must not nest. */
export function buildMmdb(opts: MmdbOptions): Buffer {
  const ipVersion = opts.ipVersion ?? 6;
  // records: >= 0 node index, -1 empty, -(2 + k) data item k
  const nodes: Array<[number, number]> = [[-1, -1]];
  const dataChunks: Buffer[] = [];
  const dataOffsets: number[] = [];
  let dataLen = 0;
  for (const e of opts.entries) {
    const bits = cidrBits(e.cidr, ipVersion);
    const item = dataChunks.length;
    const chunk = encode(e.data);
    dataChunks.push(chunk);
    dataOffsets.push(dataLen);
    dataLen += chunk.length;
    let node = 0;
    for (let d = 0; d < bits.length - 1; d++) {
      const b = bits[d]!;
      let next = nodes[node]![b]!;
      if (next < 0) {
        if (next !== -1) throw new Error(`network ${e.cidr} nests in another`);
        next = nodes.push([-1, -1]) - 1;
        nodes[node]![b] = next;
      }
      node = next;
    }
    nodes[node]![bits[bits.length - 1]!] = -(2 + item);
  }
  const nodeCount = nodes.length;
  const tree = Buffer.alloc(nodeCount * 6);
  const recordValue = (r: number): number => (r >= 0 ? r : r === -1 ? nodeCount : nodeCount + 16 + dataOffsets[-r - 2]!);
  nodes.forEach(([l, r], i) => {
    tree.writeUIntBE(recordValue(l), i * 6, 3);
    tree.writeUIntBE(recordValue(r), i * 6 + 3, 3);
  });
  const meta = Buffer.concat([
    ctrl(7, 9),
    encode('node_count'),
    encode(nodeCount),
    encode('record_size'),
    encode(24, 'uint16'),
    encode('ip_version'),
    encode(ipVersion, 'uint16'),
    encode('database_type'),
    encode(opts.databaseType),
    encode('languages'),
    encode(['en']),
    encode('binary_format_major_version'),
    encode(2, 'uint16'),
    encode('binary_format_minor_version'),
    encode(0, 'uint16'),
    encode('build_epoch'),
    encode(1_700_000_000, 'uint64'),
    encode('description'),
    encode({ en: 'tokenwatch test fixture' }),
  ]);
  return Buffer.concat([
    tree,
    Buffer.alloc(16),
    ...dataChunks,
    Buffer.from('\xab\xcd\xefMaxMind.com', 'latin1'),
    meta,
  ]);
}
