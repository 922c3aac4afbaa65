import { describe, expect, it } from 'vitest';
import { CidrSet, isReservedIp, networkPrefix } from '../../src/ingest/net.js';

describe('network helpers', () => {
  it.each([
    ['81.2.69.160', '81.2.69.0/24'],
    ['2001:db8:abcd:12::1', '2001:db8:abcd::/48'],
    ['::ffff:81.2.69.1', '81.2.69.0/24'],
    ['2a02:1:2:3:4::9', '2a02:1:2::/48'],
  ])('prefix of %s is %s', (ip, net) => expect(networkPrefix(ip)).toBe(net));

  it.each(['10.1.2.3', '192.168.0.7', '172.20.1.1', '100.64.3.4', '127.0.0.1', '169.254.1.1', '::1', 'fd12::1', 'fe80::1', '::ffff:10.0.0.1'])(
    '%s is reserved',
    (ip) => expect(isReservedIp(ip)).toBe(true),
  );

  it.each(['81.2.69.160', '8.8.8.8', '2a00:1450::1', '203.0.113.7'])('%s is not reserved', (ip) => expect(isReservedIp(ip)).toBe(false));

  it('matches CIDR sets and names bad entries', () => {
    const s = new CidrSet(['81.2.69.0/24', '2a02::/16']);
    expect(s.match('81.2.69.9')).toBe('81.2.69.0/24');
    expect(s.has('2a02:5::1')).toBe(true);
    expect(s.has('81.2.70.1')).toBe(false);
    expect(() => new CidrSet(['81.2.69.0/33'])).toThrow(/81\.2\.69\.0\/33/);
  });
});
