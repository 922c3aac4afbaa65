/**
 * IP address helpers: network prefixes (IPv4 /24, IPv6 /48), CIDR sets and reserved ranges.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** Expands an IPv6 address to 8 groups of 4 hex digits (handles `::` and an embedded IPv4 tail). */
export function expandIPv6(ip: string): string[] {
  let addr = ip.toLowerCase();
  const pct = addr.indexOf('%');
  if (pct >= 0) addr = addr.slice(0, pct);
  const v4 = addr.match(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    addr = addr.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? new Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => g.padStart(4, '0'));
}

/** The network an address belongs to for counting purposes: IPv4 /24 or IPv6 /48. */
export function networkPrefix(ip: string): string {
  if (isIPv4(ip)) {
    const p = ip.split('.');
    return `${p[0]}.${p[1]}.${p[2]}.0/24`;
  }
  if (isIPv6(ip)) {
    const g = expandIPv6(ip);
    const mapped = g.slice(0, 5).every((x) => x === '0000') && g[5] === 'ffff';
    if (mapped) {
      const hi = parseInt(g[6]!, 16);
      return `${hi >> 8}.${hi & 255}.${parseInt(g[7]!, 16) >> 8}.0/24`;
    }
    return `${g.slice(0, 3).map((x) => x.replace(/^0+(?=.)/, '')).join(':')}::/48`;
  }
  return ip;
}

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

const reserved = new CidrSet(RESERVED_CIDRS);

export function isReservedIp(ip: string): boolean {
  if (isIPv6(ip)) {
    const g = expandIPv6(ip);
    if (g.slice(0, 5).every((x) => x === '0000') && g[5] === 'ffff') {
      const a = parseInt(g[6]!, 16);
      const b = parseInt(g[7]!, 16);
      return reserved.has(`${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`);
    }
  }
  return reserved.has(ip);
}
