/**
 * IP addresses, parsed once and in one place: the numeric parser (IPv4 as an integer, IPv6 as four
 * 32-bit words) used by the enricher and the GeoIP/ASN lookups, network prefixes (IPv4 /24, IPv6
 * /48), CIDR sets and reserved ranges.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** A set of CIDR blocks (IPv4 and IPv6) with a membership test. */
export class CidrSet {
  private readonly list = new BlockList();
  readonly cidrs: readonly string[];

  /** @throws Error naming the bad entry when a CIDR does not parse */
  constructor(cidrs: readonly string[]) {
    this.cidrs = cidrs;
    for (const c of cidrs) {
      const [addr, bits] = c.split('/') as [string, string | undefined];
      const type = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : undefined;
      const max = type === 'ipv4' ? 32 : 128;
      const n = bits === undefined ? max : Number(bits);
      if (!type || !Number.isInteger(n) || n < 0 || n > max) throw new Error(`not a CIDR block: "${c}"`);
      this.list.addSubnet(addr, n, type);
    }
  }

  has(ip: string): boolean {
    if (this.cidrs.length === 0) return false;
    const type = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : undefined;
    return type ? this.list.check(ip, type) : false;
  }

  /** The first configured block containing ip, or undefined. */
  match(ip: string): string | undefined {
    if (!this.has(ip)) return undefined;
    return this.cidrs.find((c) => new CidrSet([c]).has(ip));
  }
}

/**
 * Addresses that can never be a client's real location: private (RFC 1918, ULA), loopback,
 * link-local, carrier-grade NAT (RFC 6598), unspecified, multicast, benchmarking and the
 * reserved class E block. Documentation ranges (RFC 5737 / 3849) are NOT listed: they are what
 * examples and test traffic use, and they carry an explicit `geo` there.
 */
export const RESERVED_CIDRS = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
] as const;

/** A validated client address: IPv4 (also from an IPv4-mapped IPv6 address) or IPv6. */
export type Addr = { v: 4; text: string; n: number } | { v: 6; text: string; w: Uint32Array };

export function parseV4(s: string): number {
  let n = 0;
  let part = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      n = n * 256 + part;
      part = 0;
    } else part = part * 10 + (c - 48);
  }
  return n * 256 + part;
}

const v4Text = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/**
 * Parses an IPv6 address (no zone id) into four 32-bit words; undefined when it is not one.
 * Accepts `::` compression and a dotted IPv4 tail (`::ffff:1.2.3.4`).
 */
export function parseV6(s: string): Uint32Array | undefined {
  const groups: number[] = [];
  let gap = -1; // index in `groups` where `::` stands
  let i = 0;
  const n = s.length;
  if (n < 2 || n > 45) return undefined;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return undefined;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    // one group: hex digits, or a dotted IPv4 tail
    let v = 0;
    let digits = 0;
    const from = i;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      v = v * 16 + d;
      digits++;
    }
    if (i < n && s.charCodeAt(i) === 46) {
      const tail = s.slice(from);
      if (!isIPv4(tail) || groups.length > 6) return undefined;
      const x = parseV4(tail);
      groups.push(x >>> 16, x & 0xffff);
      i = n;
      break;
    }
    if (digits === 0 || digits > 4) return undefined;
    groups.push(v);
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return undefined;
    i++;
    if (i < n && s.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined;
      gap = groups.length;
      i++;
    } else if (i === n) return undefined; // trailing single ':'
  }
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return undefined;
  const w = new Uint32Array(4);
  const fill = 8 - groups.length;
  for (let g = 0, k = 0; g < 8; g++) {
    const val = gap >= 0 && g >= gap && g < gap + fill ? 0 : groups[k++]!;
    w[g >> 1] = g & 1 ? (w[g >> 1]! | val) >>> 0 : (val << 16) >>> 0;
  }
  return w;
}

/** RESERVED_CIDRS compiled for the numeric forms. */
const RESERVED4: Array<[number, number]> = [];
const RESERVED6: Array<{ w: Uint32Array; bits: number }> = [];
for (const c of RESERVED_CIDRS) {
  const [addr, len] = c.split('/') as [string, string];
  const bits = Number(len);
  if (isIPv4(addr)) {
    const start = parseV4(addr);
    RESERVED4.push([start, start + 2 ** (32 - bits) - 1]);
  } else RESERVED6.push({ w: parseV6(addr)!, bits });
}

function inPrefix(w: Uint32Array, p: Uint32Array, bits: number): boolean {
  for (let i = 0; i < 4 && bits > 0; i++, bits -= 32) {
    const mask = bits >= 32 ? 0xffffffff : ~(0xffffffff >>> bits) >>> 0;
    if (((w[i]! & mask) >>> 0) !== ((p[i]! & mask) >>> 0)) return false;
  }
  return true;
}

/** Whether a parsed address is in RESERVED_CIDRS. */
export function isReservedAddr(a: Addr): boolean {
  if (a.v === 4) return RESERVED4.some(([lo, hi]) => a.n >= lo && a.n <= hi);
  return RESERVED6.some((r) => inPrefix(a.w, r.w, r.bits));
}

export function parseAddr(ip: string): Addr | undefined {
  if (isIPv4(ip)) return { v: 4, text: ip, n: parseV4(ip) };
  const pct = ip.indexOf('%');
  const bare = pct >= 0 ? ip.slice(0, pct) : ip;
  const w = parseV6(bare);
  if (!w) return undefined;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) {
    const n = w[3]!;
    return { v: 4, text: v4Text(n), n };
  }
  return { v: 6, text: bare, w };
}


const hex = (x: number) => x.toString(16);

/** The network an address belongs to for counting purposes: IPv4 /24 or IPv6 /48 (the text itself when it is no address). */
export function networkPrefix(ip: string): string {
  const a = parseAddr(ip);
  if (!a) return ip;
  if (a.v === 4) return `${a.n >>> 24}.${(a.n >>> 16) & 255}.${(a.n >>> 8) & 255}.0/24`;
  return `${hex(a.w[0]! >>> 16)}:${hex(a.w[0]! & 0xffff)}:${hex(a.w[1]! >>> 16)}::/48`;
}

/** Whether an address can never be a client's real location (RESERVED_CIDRS; IPv4-mapped IPv6 judged as IPv4). */
export function isReservedIp(ip: string): boolean {
  const a = parseAddr(ip);
  return a ? isReservedAddr(a) : false;
}
