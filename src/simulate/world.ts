/**
 * The simulated world: cities, access networks (ASNs and address prefixes), hosting providers,
 * relays, enterprise egress, tenants, and the endpoints devices send requests from.
 *
 * Prefixes are public blocks that the named networks plausibly announce (or the RFC 5737
 * documentation ranges for office NAT addresses); they are not a GeoIP database. Every event
 * carries its own `geo`, so the pipeline never has to look these addresses up. Private space is
 * used only for the internal service clients, which must never form a location.
 */
import type { Geo } from '../../schemas/event.js';
import { Rng } from './rng.js';

export type Region = 'eu' | 'na' | 'sa' | 'apac' | 'af' | 'me';

export interface City {
  id: string;
  name: string;
  /** ISO 3166-1 alpha-2 */
  country: string;
  lat: number;
  lon: number;
  /** UTC offset, hours (no daylight saving) */
  tz: number;
  region: Region;
}

function city(id: string, name: string, country: string, lat: number, lon: number, tz: number, region: Region): City {
  return { id, name, country, lat, lon, tz, region };
}

/** Where benign users live and tenants have offices. */
export const HOME_CITIES: readonly City[] = [
  city('london', 'London', 'GB', 51.5074, -0.1278, 0, 'eu'),
  city('manchester', 'Manchester', 'GB', 53.4808, -2.2426, 0, 'eu'),
  city('paris', 'Paris', 'FR', 48.8566, 2.3522, 1, 'eu'),
  city('lyon', 'Lyon', 'FR', 45.764, 4.8357, 1, 'eu'),
  city('berlin', 'Berlin', 'DE', 52.52, 13.405, 1, 'eu'),
  city('frankfurt', 'Frankfurt am Main', 'DE', 50.1109, 8.6821, 1, 'eu'),
  city('munich', 'Munich', 'DE', 48.1351, 11.582, 1, 'eu'),
  city('amsterdam', 'Amsterdam', 'NL', 52.3676, 4.9041, 1, 'eu'),
  city('madrid', 'Madrid', 'ES', 40.4168, -3.7038, 1, 'eu'),
  city('barcelona', 'Barcelona', 'ES', 41.3874, 2.1686, 1, 'eu'),
  city('stockholm', 'Stockholm', 'SE', 59.3293, 18.0686, 1, 'eu'),
  city('dublin', 'Dublin', 'IE', 53.3498, -6.2603, 0, 'eu'),
  city('warsaw', 'Warsaw', 'PL', 52.2297, 21.0122, 1, 'eu'),
  city('new_york', 'New York', 'US', 40.7128, -74.006, -5, 'na'),
  city('san_francisco', 'San Francisco', 'US', 37.7749, -122.4194, -8, 'na'),
  city('chicago', 'Chicago', 'US', 41.8781, -87.6298, -6, 'na'),
  city('austin', 'Austin', 'US', 30.2672, -97.7431, -6, 'na'),
  city('toronto', 'Toronto', 'CA', 43.6532, -79.3832, -5, 'na'),
  city('sao_paulo', 'São Paulo', 'BR', -23.5505, -46.6333, -3, 'sa'),
  city('singapore', 'Singapore', 'SG', 1.3521, 103.8198, 8, 'apac'),
  city('tokyo', 'Tokyo', 'JP', 35.6762, 139.6503, 9, 'apac'),
  city('osaka', 'Osaka', 'JP', 34.6937, 135.5023, 9, 'apac'),
  city('sydney', 'Sydney', 'AU', -33.8688, 151.2093, 10, 'apac'),
  city('melbourne', 'Melbourne', 'AU', -37.8136, 144.9631, 10, 'apac'),
  city('mumbai', 'Mumbai', 'IN', 19.076, 72.8777, 5.5, 'apac'),
  city('bangalore', 'Bengaluru', 'IN', 12.9716, 77.5946, 5.5, 'apac'),
];

/** Residential origins that appear only in attacks (credential thieves, proxy exits). */
export const ATTACKER_CITIES: readonly City[] = [
  city('lagos', 'Lagos', 'NG', 6.5244, 3.3792, 1, 'af'),
  city('ho_chi_minh', 'Ho Chi Minh City', 'VN', 10.8231, 106.6297, 7, 'apac'),
  city('jakarta', 'Jakarta', 'ID', -6.2088, 106.8456, 7, 'apac'),
  city('moscow', 'Moscow', 'RU', 55.7558, 37.6173, 3, 'eu'),
  city('bucharest', 'Bucharest', 'RO', 44.4268, 26.1025, 2, 'eu'),
  city('istanbul', 'Istanbul', 'TR', 41.0082, 28.9784, 3, 'me'),
  city('cairo', 'Cairo', 'EG', 30.0444, 31.2357, 2, 'af'),
  city('manila', 'Manila', 'PH', 14.5995, 120.9842, 8, 'apac'),
];

/** Data-centre locations of hosting providers. */
export const DC_CITIES: readonly City[] = [
  city('ashburn', 'Ashburn', 'US', 39.0438, -77.4874, -5, 'na'),
  city('boardman', 'Boardman', 'US', 45.8399, -119.7006, -8, 'na'),
  city('council_bluffs', 'Council Bluffs', 'US', 41.2619, -95.8608, -6, 'na'),
  city('boydton', 'Boydton', 'US', 36.6676, -78.3875, -5, 'na'),
  city('newark', 'Newark', 'US', 40.7357, -74.1724, -5, 'na'),
  city('dublin_dc', 'Dublin', 'IE', 53.3498, -6.2603, 0, 'eu'),
  city('frankfurt_dc', 'Frankfurt am Main', 'DE', 50.1109, 8.6821, 1, 'eu'),
  city('amsterdam_dc', 'Amsterdam', 'NL', 52.3676, 4.9041, 1, 'eu'),
  city('st_ghislain', 'Saint-Ghislain', 'BE', 50.449, 3.8186, 1, 'eu'),
  city('roubaix', 'Roubaix', 'FR', 50.6942, 3.1746, 1, 'eu'),
  city('falkenstein', 'Falkenstein', 'DE', 50.4779, 12.3713, 1, 'eu'),
  city('helsinki', 'Helsinki', 'FI', 60.1699, 24.9384, 2, 'eu'),
  city('bucharest_dc', 'Bucharest', 'RO', 44.4268, 26.1025, 2, 'eu'),
  city('singapore_dc', 'Singapore', 'SG', 1.3521, 103.8198, 8, 'apac'),
  city('tokyo_dc', 'Tokyo', 'JP', 35.6762, 139.6503, 9, 'apac'),
  city('bangalore_dc', 'Bengaluru', 'IN', 12.9716, 77.5946, 5.5, 'apac'),
  city('sao_paulo_dc', 'São Paulo', 'BR', -23.5505, -46.6333, -3, 'sa'),
];

const ALL_CITIES = new Map<string, City>([...HOME_CITIES, ...ATTACKER_CITIES, ...DC_CITIES].map((c) => [c.id, c]));

export function cityById(id: string): City {
  const c = ALL_CITIES.get(id);
  if (!c) throw new Error(`unknown city ${id}`);
  return c;
}

export interface IspSpec {
  asn: number;
  org: string;
  /** /16 bases ("86.128") the network allocates /24s from */
  v4: readonly string[];
  /** /32 base ("2a00:23c5") for IPv6 customers, when the network offers IPv6 */
  v6?: string;
}

export interface MobileSpec extends IspSpec {
  /**
   * Where GeoIP places the carrier's (CGNAT) addresses: the carrier's gateway city with a radius
   * that covers the country's big cities, or the country centroid with a radius so large that
   * location-based detectors ignore it (> 200 km).
   */
  geo: { lat: number; lon: number; accuracyKm: number; city?: string };
}

export interface CountrySpec {
  broadband: readonly IspSpec[];
  mobile?: MobileSpec;
}

export const COUNTRIES: Readonly<Record<string, CountrySpec>> = {
  GB: {
    broadband: [
      { asn: 2856, org: 'British Telecommunications PLC', v4: ['86.128', '86.140', '86.151', '86.162', '81.129'], v6: '2a00:23c5' },
      { asn: 5089, org: 'Virgin Media Limited', v4: ['82.1', '82.2', '82.24', '82.37'], v6: '2a02:c7f' },
      { asn: 5607, org: 'Sky UK Limited', v4: ['90.192', '90.201', '2.96', '2.97'] },
    ],
    mobile: { asn: 12576, org: 'EE Limited', v4: ['31.94', '31.95', '213.205'], geo: { lat: 51.5074, lon: -0.1278, accuracyKm: 200, city: 'London' } },
  },
  FR: {
    broadband: [
      { asn: 3215, org: 'Orange S.A.', v4: ['90.3', '90.24', '90.45', '86.201'], v6: '2a01:cb00' },
      { asn: 12322, org: 'Free SAS', v4: ['78.192', '78.221', '82.64', '82.65'], v6: '2a01:e0a' },
      { asn: 15557, org: 'Societe Francaise du Radiotelephone - SFR SA', v4: ['77.128', '77.141', '109.208'] },
    ],
    mobile: { asn: 5410, org: 'Bouygues Telecom SA', v4: ['176.128', '176.141', '176.162'], geo: { lat: 48.8566, lon: 2.3522, accuracyKm: 150, city: 'Paris' } },
  },
  DE: {
    broadband: [
      { asn: 3320, org: 'Deutsche Telekom AG', v4: ['79.192', '79.221', '91.3', '91.41', '87.161'], v6: '2003:e6' },
      { asn: 3209, org: 'Vodafone GmbH', v4: ['88.64', '88.70', '94.134'], v6: '2a02:8108' },
    ],
    mobile: { asn: 6805, org: 'Telefonica Germany GmbH & Co.OHG', v4: ['77.3', '77.11', '89.204'], geo: { lat: 51.1657, lon: 10.4515, accuracyKm: 300 } },
  },
  NL: {
    broadband: [
      { asn: 1136, org: 'KPN B.V.', v4: ['77.160', '77.161', '84.104'] },
      { asn: 33915, org: 'Vodafone Libertel B.V. (Ziggo)', v4: ['84.80', '84.85', '62.194'], v6: '2001:1c00' },
    ],
    mobile: { asn: 31615, org: 'Odido Netherlands B.V.', v4: ['62.140', '31.21'], geo: { lat: 52.3676, lon: 4.9041, accuracyKm: 100, city: 'Amsterdam' } },
  },
  ES: {
    broadband: [
      { asn: 3352, org: 'Telefonica de Espana S.A.U.', v4: ['83.32', '83.41', '88.3', '88.11'] },
      { asn: 6739, org: 'Vodafone Ono, S.A.', v4: ['95.16', '95.20'] },
    ],
    mobile: { asn: 12479, org: 'Orange Espagne SA', v4: ['90.160', '90.171'], geo: { lat: 40.4637, lon: -3.7492, accuracyKm: 400 } },
  },
  SE: {
    broadband: [
      { asn: 3301, org: 'Telia Company AB', v4: ['78.64', '78.70', '81.224'] },
      { asn: 8473, org: 'Bahnhof AB', v4: ['95.192', '155.4'] },
    ],
    mobile: { asn: 1257, org: 'Tele2 Sverige AB', v4: ['90.224', '90.230'], geo: { lat: 59.3293, lon: 18.0686, accuracyKm: 300, city: 'Stockholm' } },
  },
  IE: {
    broadband: [
      { asn: 5466, org: 'Eircom Limited', v4: ['86.40', '86.44', '79.97'] },
      { asn: 6830, org: 'Virgin Media Ireland Limited', v4: ['89.100', '89.101'] },
    ],
    mobile: { asn: 15502, org: 'Vodafone Ireland Limited', v4: ['89.19', '37.228'], geo: { lat: 53.3498, lon: -6.2603, accuracyKm: 150, city: 'Dublin' } },
  },
  PL: {
    broadband: [{ asn: 5617, org: 'Orange Polska Spolka Akcyjna', v4: ['83.3', '83.21', '83.30', '31.60'] }],
    mobile: { asn: 39603, org: 'P4 Sp. z o.o. (Play)', v4: ['37.47', '188.146'], geo: { lat: 51.9194, lon: 19.1451, accuracyKm: 300 } },
  },
  US: {
    broadband: [
      { asn: 7922, org: 'Comcast Cable Communications, LLC', v4: ['73.3', '73.42', '73.150', '98.207'], v6: '2601:1c0' },
      { asn: 701, org: 'Verizon Business (Fios)', v4: ['71.160', '71.171', '108.21'], v6: '2600:4040' },
      { asn: 12271, org: 'Charter Communications (Spectrum)', v4: ['66.108', '67.243', '72.229'], v6: '2603:7000' },
      { asn: 7018, org: 'AT&T Services, Inc.', v4: ['107.200', '99.100', '76.201'], v6: '2600:1700' },
    ],
    mobile: { asn: 21928, org: 'T-Mobile USA, Inc.', v4: ['172.56', '172.58', '172.59'], geo: { lat: 39.8283, lon: -98.5795, accuracyKm: 1000 } },
  },
  CA: {
    broadband: [
      { asn: 812, org: 'Rogers Communications Canada Inc.', v4: ['99.224', '99.231', '174.112'] },
      { asn: 577, org: 'Bell Canada', v4: ['70.48', '70.50', '142.112'] },
    ],
    mobile: { asn: 852, org: 'TELUS Communications Inc.', v4: ['154.20', '207.216'], geo: { lat: 56.1304, lon: -106.3468, accuracyKm: 1000 } },
  },
  BR: {
    broadband: [
      { asn: 18881, org: 'Telefonica Brasil S.A. (Vivo)', v4: ['177.32', '177.41', '187.100'] },
      { asn: 28573, org: 'Claro NXT Telecomunicacoes Ltda', v4: ['179.100', '189.60'] },
    ],
    mobile: { asn: 26615, org: 'TIM S/A', v4: ['177.80', '191.240'], geo: { lat: -14.235, lon: -51.9253, accuracyKm: 1000 } },
  },
  SG: {
    broadband: [
      { asn: 9506, org: 'Singtel Fibre Broadband', v4: ['116.86', '116.88', '118.200'] },
      { asn: 4657, org: 'StarHub Ltd', v4: ['116.87', '58.182'] },
    ],
    mobile: { asn: 4773, org: 'M1 Limited', v4: ['27.104', '119.56'], geo: { lat: 1.3521, lon: 103.8198, accuracyKm: 20, city: 'Singapore' } },
  },
  JP: {
    broadband: [
      { asn: 4713, org: 'NTT Communications Corporation (OCN)', v4: ['153.128', '153.201', '180.3'] },
      { asn: 2516, org: 'KDDI Corporation', v4: ['106.128', '111.96'] },
      { asn: 17676, org: 'SoftBank Corp.', v4: ['126.3', '126.100', '219.100'] },
    ],
    mobile: { asn: 9605, org: 'NTT DOCOMO, INC.', v4: ['1.72', '1.75', '49.96'], geo: { lat: 35.6762, lon: 139.6503, accuracyKm: 150, city: 'Tokyo' } },
  },
  AU: {
    broadband: [
      { asn: 1221, org: 'Telstra Limited', v4: ['101.160', '101.181', '58.160'] },
      { asn: 7545, org: 'TPG Telecom Limited', v4: ['110.174', '124.170'] },
    ],
    mobile: { asn: 4804, org: 'Optus (Microplex PTY LTD)', v4: ['49.176', '49.180'], geo: { lat: -25.2744, lon: 133.7751, accuracyKm: 1000 } },
  },
  IN: {
    broadband: [
      { asn: 24560, org: 'Bharti Airtel Ltd., Telemedia Services', v4: ['122.160', '122.171', '182.64'] },
      { asn: 24309, org: 'Atria Convergence Technologies (ACT)', v4: ['106.51', '49.205'] },
    ],
    mobile: { asn: 55836, org: 'Reliance Jio Infocomm Limited', v4: ['49.32', '49.36', '49.41'], geo: { lat: 20.5937, lon: 78.9629, accuracyKm: 1000 } },
  },
  NG: {
    broadband: [
      { asn: 29465, org: 'MTN NIGERIA Communication limited', v4: ['102.88', '197.210'] },
      { asn: 36873, org: 'Airtel Networks Limited', v4: ['105.112', '105.113'] },
    ],
  },
  VN: {
    broadband: [
      { asn: 45899, org: 'VNPT Corp', v4: ['113.160', '113.171', '14.160'] },
      { asn: 7552, org: 'Viettel Group', v4: ['171.224', '171.241', '27.64'] },
    ],
  },
  ID: { broadband: [{ asn: 7713, org: 'PT Telekomunikasi Indonesia', v4: ['36.64', '36.71', '180.241'] }] },
  RU: {
    broadband: [
      { asn: 25513, org: 'PJSC Moscow city telephone network (MGTS)', v4: ['109.252', '95.165'] },
      { asn: 12389, org: 'PJSC Rostelecom', v4: ['178.64', '188.254'] },
    ],
  },
  RO: { broadband: [{ asn: 8708, org: 'RCS & RDS SA', v4: ['86.120', '86.124', '79.112'] }] },
  TR: { broadband: [{ asn: 9121, org: 'Turk Telekomunikasyon Anonim Sirketi', v4: ['85.96', '85.101', '88.241'] }] },
  EG: { broadband: [{ asn: 8452, org: 'TE Data', v4: ['41.33', '41.40', '197.32'] }] },
  PH: { broadband: [{ asn: 9299, org: 'Philippine Long Distance Telephone Company', v4: ['112.198', '112.201', '122.52'] }] },
};

export interface HostingSpec {
  asn: number;
  org: string;
  /** data-centre city id → /16 bases */
  sites: Readonly<Record<string, readonly string[]>>;
}

export const HOSTING: Readonly<Record<string, HostingSpec>> = {
  aws: {
    asn: 16509,
    org: 'Amazon.com, Inc.',
    sites: {
      ashburn: ['3.80', '3.90', '52.3', '54.80'],
      boardman: ['35.80', '44.224', '52.32'],
      dublin_dc: ['34.240', '34.250', '54.72'],
      frankfurt_dc: ['3.120', '3.121', '18.184', '18.192'],
      singapore_dc: ['13.228', '13.250', '52.220'],
      tokyo_dc: ['13.112', '54.64'],
      sao_paulo_dc: ['18.228', '54.94'],
    },
  },
  gcp: {
    asn: 396982,
    org: 'Google LLC (Cloud)',
    sites: { council_bluffs: ['34.27', '35.184'], st_ghislain: ['34.76', '35.187'], singapore_dc: ['34.87', '35.198'] },
  },
  azure: { asn: 8075, org: 'Microsoft Corporation', sites: { amsterdam_dc: ['20.50', '40.68'], boydton: ['20.42', '40.76'] } },
  digitalocean: {
    asn: 14061,
    org: 'DigitalOcean, LLC',
    sites: {
      newark: ['159.203', '167.99', '198.211'],
      amsterdam_dc: ['188.166', '178.62'],
      frankfurt_dc: ['46.101', '164.90'],
      singapore_dc: ['128.199', '139.59'],
      bangalore_dc: ['143.110'],
    },
  },
  ovh: { asn: 16276, org: 'OVH SAS', sites: { roubaix: ['51.68', '51.75', '145.239'] } },
  hetzner: { asn: 24940, org: 'Hetzner Online GmbH', sites: { falkenstein: ['88.198', '116.202', '5.9'], helsinki: ['65.108', '95.216'] } },
  vultr: { asn: 20473, org: 'The Constant Company, LLC (Vultr)', sites: { newark: ['45.77', '149.28'], tokyo_dc: ['45.32', '108.61'] } },
  m247: { asn: 9009, org: 'M247 Europe SRL', sites: { bucharest_dc: ['37.120', '185.156'], amsterdam_dc: ['89.35', '146.70'] } },
};

/** Apple iCloud Private Relay egress on Akamai: an anonymous relay for the enricher. */
export const AKAMAI_RELAY: IspSpec = { asn: 36183, org: 'Akamai Technologies, Inc. (iCloud Private Relay)', v4: ['172.224', '172.225', '172.226', '172.232'], v6: '2a02:26f7' };
/** Starlink: a satellite network the enricher treats as anonymous. */
export const STARLINK: IspSpec = { asn: 14593, org: 'Space Exploration Technologies Corporation', v4: ['98.97', '129.222'], v6: '2605:59c8' };
/** Zscaler: the enterprise egress that tenants without an office NAT send traffic through. */
export const ZSCALER: IspSpec = { asn: 53813, org: 'Zscaler, Inc.', v4: ['165.225', '147.161', '136.226'] };
/** RFC 5737 documentation /24s, used for office NAT addresses. */
export const DOC_PREFIXES = ['203.0.113', '198.51.100', '192.0.2'] as const;

/** Great-circle distance, km. */
export function distanceKm(aLat: number, aLon: number, bLat: number, bLon: number): number {
  const rad = Math.PI / 180;
  const dLat = (bLat - aLat) * rad;
  const dLon = (bLon - aLon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(aLat * rad) * Math.cos(bLat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function cityDistanceKm(a: City, b: City): number {
  return distanceKm(a.lat, a.lon, b.lat, b.lon);
}

export function gatewayFor(region: Region): string {
  switch (region) {
    case 'na':
      return 'kong-us-east-1';
    case 'sa':
      return 'kong-sa-east-1';
    case 'apac':
      return 'kong-ap-southeast-1';
    default:
      return 'kong-eu-west-1';
  }
}

export type EndpointKind = 'broadband' | 'cellular' | 'office_nat' | 'egress_pool' | 'relay' | 'hosting' | 'internal';

/** A place on the network a request comes from: its address(es), ASN and what GeoIP says. */
export interface Endpoint {
  kind: EndpointKind;
  asn: number | undefined;
  gateway: string;
  /** put on every event (frozen, shared); `undefined` never happens for public endpoints */
  geo: Geo | undefined;
  /** the client address for the next request (fixed, dual-stack, or drawn from a pool) */
  ip(rng: Rng): string;
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

/** A GeoIP answer near a city: jittered by up to `jitterKm`, with the given accuracy radius. */
export function geoNear(c: City, asn: number | undefined, accuracyKm: number, rng: Rng, jitterKm = 0): Geo {
  const dLat = jitterKm ? rng.between(-jitterKm, jitterKm) / 111 : 0;
  const dLon = jitterKm ? rng.between(-jitterKm, jitterKm) / (111 * Math.max(0.2, Math.cos((c.lat * Math.PI) / 180))) : 0;
  const g: Geo = { lat: round4(c.lat + dLat), lon: round4(c.lon + dLon), accuracy_km: accuracyKm, country: c.country, city: c.name };
  if (asn !== undefined) g.asn = asn;
  return g;
}

function host(rng: Rng): number {
  return 2 + rng.int(252);
}

function hex4(rng: Rng): string {
  return rng.hex(4).replace(/^0+(?=.)/, '');
}

/** A /24 ("86.128.17") drawn from a network's /16 bases. */
export function prefix24(spec: IspSpec, rng: Rng): string {
  return `${rng.pick(spec.v4)}.${rng.int(256)}`;
}

/** A /48 ("2a00:23c5:1f") drawn from a network's IPv6 /32. */
export function prefix48(spec: IspSpec, rng: Rng): string | undefined {
  return spec.v6 ? `${spec.v6}:${hex4(rng)}` : undefined;
}

/** One fixed address (a home router, a hotel, an office NAT), optionally dual-stack. */
export function fixedEndpoint(
  kind: EndpointKind,
  v4: string,
  geo: Geo | undefined,
  region: Region,
  dualStack?: { v6: string; share: number },
): Endpoint {
  if (geo) Object.freeze(geo);
  const asn = geo?.asn;
  const gateway = gatewayFor(region);
  if (!dualStack) return { kind, asn, gateway, geo, ip: () => v4 };
  return { kind, asn, gateway, geo, ip: (rng) => (rng.next() < dualStack.share ? dualStack.v6 : v4) };
}

/** A pool of /24s (carrier-grade NAT, enterprise egress, relays): every request gets a random address. */
export function poolEndpoint(kind: EndpointKind, prefixes: readonly string[], geo: Geo | undefined, region: Region): Endpoint {
  if (geo) Object.freeze(geo);
  return { kind, asn: geo?.asn, gateway: gatewayFor(region), geo, ip: (rng) => `${rng.pick(prefixes)}.${host(rng)}` };
}

/** A home broadband line in a city: one IPv4 address, sometimes dual-stack with IPv6 (same ASN). */
export function broadbandEndpoint(c: City, rng: Rng, opts: { dualStack?: boolean; isp?: IspSpec } = {}): Endpoint {
  const spec = COUNTRIES[c.country];
  if (!spec) throw new Error(`no networks for ${c.country}`);
  const v6Isps = spec.broadband.filter((i) => i.v6);
  const isp = opts.isp ?? (opts.dualStack && v6Isps.length ? rng.pick(v6Isps) : rng.pick(spec.broadband));
  const v4 = `${prefix24(isp, rng)}.${host(rng)}`;
  const geo = geoNear(c, isp.asn, rng.pick([5, 10, 20, 20, 50]), rng, 15);
  const p48 = opts.dualStack ? prefix48(isp, rng) : undefined;
  const dual = p48 ? { v6: `${p48}:${hex4(rng)}:${hex4(rng)}:${hex4(rng)}:${hex4(rng)}:${hex4(rng)}`, share: 0.7 } : undefined;
  return fixedEndpoint('broadband', v4, geo, c.region, dual);
}

/** A different broadband network in the same city (another ISP when there is one). */
export function otherBroadbandEndpoint(c: City, notAsn: number | undefined, rng: Rng): Endpoint {
  const spec = COUNTRIES[c.country]!;
  const others = spec.broadband.filter((i) => i.asn !== notAsn);
  return broadbandEndpoint(c, rng, { isp: others.length ? rng.pick(others) : rng.pick(spec.broadband) });
}

/** A VM (or a few) at a hosting provider's data centre. */
export function hostingEndpoint(provider: string, siteId: string, rng: Rng, addresses = 1): Endpoint {
  const h = HOSTING[provider];
  const bases = h?.sites[siteId];
  if (!h || !bases) throw new Error(`no hosting site ${provider}/${siteId}`);
  const c = cityById(siteId);
  const geo = geoNear(c, h.asn, rng.pick([20, 50, 100]), rng);
  const spec: IspSpec = { asn: h.asn, org: h.org, v4: bases };
  const ips: string[] = [];
  const p = prefix24(spec, rng);
  for (let i = 0; i < addresses; i++) ips.push(`${i % 3 === 0 ? p : prefix24(spec, rng)}.${host(rng)}`);
  if (ips.length === 1) return fixedEndpoint('hosting', ips[0]!, geo, c.region);
  Object.freeze(geo);
  return { kind: 'hosting', asn: h.asn, gateway: gatewayFor(c.region), geo, ip: (r) => r.pick(ips) };
}

export function hostingSites(): Array<{ provider: string; site: string }> {
  const out: Array<{ provider: string; site: string }> = [];
  for (const [provider, h] of Object.entries(HOSTING)) for (const site of Object.keys(h.sites)) out.push({ provider, site });
  return out;
}

/** Cities (from a pool) at least `minKm` (and at most `maxKm`) from `from`. */
export function citiesBetween(from: City, pool: readonly City[], minKm: number, maxKm = Infinity): City[] {
  return pool.filter((c) => {
    const d = cityDistanceKm(from, c);
    return d >= minKm && d <= maxKm;
  });
}

// ---------------------------------------------------------------------------------------------
// Requests: routes, statuses, user agents

export interface RouteSpec {
  method: string;
  route: string;
  /** the status of a successful call */
  ok: number;
}

function route(method: string, path: string, ok = 200): RouteSpec {
  return { method, route: path, ok };
}

/** Routes that end-user apps call with access tokens, with their relative weights. */
export const USER_ROUTES: ReadonlyArray<readonly [RouteSpec, number]> = [
  [route('GET', '/v1/me'), 8],
  [route('GET', '/v1/orders'), 12],
  [route('GET', '/v1/orders/{id}'), 14],
  [route('POST', '/v1/orders', 201), 3],
  [route('GET', '/v1/products'), 10],
  [route('GET', '/v1/products/{id}'), 16],
  [route('GET', '/v1/search'), 9],
  [route('PUT', '/v1/cart/{id}'), 4],
  [route('DELETE', '/v1/cart/{id}/items/{itemId}', 204), 1],
  [route('GET', '/v1/notifications'), 7],
  [route('POST', '/v1/events', 202), 6],
  [route('GET', '/v1/invoices/{id}'), 2],
  [route('PATCH', '/v1/me/settings'), 1],
];

/** Routes that server-to-server integrations call with API keys. */
export const KEY_ROUTES: readonly RouteSpec[] = [
  route('GET', '/v1/customers/{id}'),
  route('GET', '/v1/customers'),
  route('POST', '/v1/charges', 201),
  route('GET', '/v1/charges/{id}'),
  route('POST', '/v1/webhooks/ack', 204),
  route('GET', '/v1/catalog/items'),
  route('POST', '/v1/messages', 202),
  route('GET', '/v1/reports/{id}'),
  route('PUT', '/v1/inventory/{sku}'),
  route('GET', '/v1/exports/{id}/download'),
];

export const TOKEN_ROUTE = route('POST', '/oauth/token');
export const REVOKE_ROUTE = route('POST', '/oauth/revoke');

/** A weighted route table with O(log n) picks. */
export class RouteTable {
  private readonly cum: number[] = [];
  private readonly total: number;
  constructor(readonly routes: readonly RouteSpec[], weights: readonly number[]) {
    let acc = 0;
    for (const w of weights) this.cum.push((acc += w));
    this.total = acc;
  }
  pick(rng: Rng): RouteSpec {
    const x = rng.next() * this.total;
    let lo = 0;
    let hi = this.cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cum[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return this.routes[lo]!;
  }
}

export const USER_ROUTE_TABLE = new RouteTable(
  USER_ROUTES.map(([r]) => r),
  USER_ROUTES.map(([, w]) => w),
);

const ERROR_STATUSES = [404, 404, 404, 404, 400, 422, 409, 500, 502, 503, 429] as const;

/** The status of one call: mostly the route's success code, sometimes an error. */
export function statusFor(r: RouteSpec, rng: Rng, errorRate = 0.025): number {
  return rng.next() < errorRate ? ERROR_STATUSES[rng.int(ERROR_STATUSES.length)]! : r.ok;
}

export const BROWSER_UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
] as const;
export const IOS_UAS = ['ShopApp/7.4.1 (iPhone; iOS 18.1; Scale/3.00)', 'ShopApp/7.4.0 (iPhone; iOS 17.6.1; Scale/3.00)'] as const;
export const ANDROID_UAS = ['ShopApp/7.4.1 (Android 14; Pixel 8)', 'ShopApp/7.3.9 (Android 13; SM-S911B)', 'okhttp/4.12.0'] as const;
export const CLI_UAS = ['shopctl/2.3.1 (linux; amd64)', 'shopctl/2.3.0 (darwin; arm64)'] as const;
export const SERVER_UAS = [
  'python-requests/2.32.3',
  'Go-http-client/2.0',
  'axios/1.7.7',
  'Java/21.0.5',
  'okhttp/4.12.0',
  'Stripe-Like-SDK/12.4.0 node/20.18.0',
  'Faraday v2.12.0',
] as const;
export const ATTACKER_UAS = [
  'python-requests/2.31.0',
  'curl/8.4.0',
  'Go-http-client/1.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'aiohttp/3.9.1',
] as const;

// ---------------------------------------------------------------------------------------------
// Travel

export interface TravelRoute {
  from: string;
  to: string;
  mode: 'flight' | 'train';
  /** door-to-door gap between the last request before and the first after, hours */
  minHours: number;
  maxHours: number;
}

/** Trips travellers take; every one is slower than the impossible-travel threshold. */
export const TRAVEL_ROUTES: readonly TravelRoute[] = [
  { from: 'london', to: 'new_york', mode: 'flight', minHours: 7, maxHours: 8 },
  { from: 'paris', to: 'lyon', mode: 'train', minHours: 2, maxHours: 2.25 },
  { from: 'new_york', to: 'london', mode: 'flight', minHours: 6.75, maxHours: 7.75 },
  { from: 'frankfurt', to: 'singapore', mode: 'flight', minHours: 12.5, maxHours: 13.5 },
  { from: 'san_francisco', to: 'new_york', mode: 'flight', minHours: 5.5, maxHours: 6.25 },
  { from: 'amsterdam', to: 'berlin', mode: 'flight', minHours: 1.4, maxHours: 1.9 },
  { from: 'madrid', to: 'barcelona', mode: 'train', minHours: 2.5, maxHours: 3 },
  { from: 'tokyo', to: 'osaka', mode: 'train', minHours: 2.4, maxHours: 2.75 },
  { from: 'sydney', to: 'melbourne', mode: 'flight', minHours: 1.5, maxHours: 2 },
  { from: 'stockholm', to: 'london', mode: 'flight', minHours: 2.6, maxHours: 3.2 },
];

// ---------------------------------------------------------------------------------------------
// Tenants

const TENANT_NAMES = [
  'acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'tyrell', 'cyberdyne', 'soylent',
  'wonka', 'piedpiper', 'vandelay', 'oscorp', 'aperture', 'blackmesa', 'gringotts', 'monarch', 'dunder', 'massive',
] as const;

export interface Tenant {
  name: string;
  region: Region;
  /** cities where the tenant has offices and its users live */
  cities: City[];
  /** one endpoint per office city: a single NAT address, or an enterprise egress pool */
  offices: Map<string, Endpoint>;
  /** typical API-key rate of the tenant, requests/min (the population prior for a new key) */
  keyRatePerMin: number;
  /** where the tenant's servers (API-key clients) run */
  cloud: { provider: string; site: string };
}

const REGION_WEIGHTS: ReadonlyArray<readonly [Region, number]> = [
  ['eu', 0.45],
  ['na', 0.35],
  ['apac', 0.15],
  ['sa', 0.05],
];

const CLOUD_BY_REGION: Readonly<Record<string, ReadonlyArray<{ provider: string; site: string }>>> = {
  eu: [
    { provider: 'aws', site: 'frankfurt_dc' },
    { provider: 'aws', site: 'dublin_dc' },
    { provider: 'gcp', site: 'st_ghislain' },
    { provider: 'azure', site: 'amsterdam_dc' },
    { provider: 'hetzner', site: 'falkenstein' },
  ],
  na: [
    { provider: 'aws', site: 'ashburn' },
    { provider: 'aws', site: 'boardman' },
    { provider: 'gcp', site: 'council_bluffs' },
    { provider: 'azure', site: 'boydton' },
  ],
  apac: [
    { provider: 'aws', site: 'singapore_dc' },
    { provider: 'aws', site: 'tokyo_dc' },
    { provider: 'gcp', site: 'singapore_dc' },
  ],
  sa: [{ provider: 'aws', site: 'sao_paulo_dc' }],
};

/** The shared, seed-determined parts of the world: tenants, carrier pools, relay pools. */
export class World {
  readonly tenants: Tenant[] = [];
  private readonly carriers = new Map<string, Endpoint>();
  private readonly relayPools: { akamai: string[]; starlink: string[] };

  constructor(seed: number, tenantCount: number) {
    const rng = new Rng(seed, 'world');
    for (const [country, spec] of Object.entries(COUNTRIES)) {
      const m = spec.mobile;
      if (!m) continue;
      const pool: string[] = [];
      for (let i = 0; i < 48; i++) pool.push(prefix24(m, rng));
      const anchor = HOME_CITIES.find((c) => c.country === country) ?? ATTACKER_CITIES.find((c) => c.country === country)!;
      const geo: Geo = { lat: m.geo.lat, lon: m.geo.lon, accuracy_km: m.geo.accuracyKm, country, asn: m.asn };
      if (m.geo.city) geo.city = m.geo.city;
      this.carriers.set(country, poolEndpoint('cellular', pool, geo, anchor.region));
    }
    const akamai: string[] = [];
    const starlink: string[] = [];
    for (let i = 0; i < 64; i++) akamai.push(prefix24(AKAMAI_RELAY, rng));
    for (let i = 0; i < 24; i++) starlink.push(prefix24(STARLINK, rng));
    this.relayPools = { akamai, starlink };

    let docIndex = 0;
    for (let i = 0; i < tenantCount; i++) {
      const base = TENANT_NAMES[i % TENANT_NAMES.length]!;
      const name = i < TENANT_NAMES.length ? base : `${base}-${Math.floor(i / TENANT_NAMES.length) + 1}`;
      const trng = new Rng(seed, 'tenant', i);
      // the first two tenants are European and North American; the rest are drawn
      const region: Region =
        i === 0
          ? 'eu'
          : i === 1
            ? 'na'
            : trng.weighted(
                REGION_WEIGHTS.map(([r]) => r),
                REGION_WEIGHTS.map(([, w]) => w),
              );
      const regional = HOME_CITIES.filter((c) => c.region === region);
      const cities = trng.shuffled(regional).slice(0, Math.min(regional.length, trng.intBetween(1, 3)));
      const offices = new Map<string, Endpoint>();
      // the first tenant has office NAT, the second an egress pool, so both look-alikes exist
      const useEgress = i === 0 ? false : i === 1 ? true : trng.chance(0.4);
      for (const c of cities) {
        if (useEgress) {
          const pool: string[] = [];
          const n = trng.intBetween(12, 40);
          for (let k = 0; k < n; k++) pool.push(prefix24(ZSCALER, trng));
          offices.set(c.id, poolEndpoint('egress_pool', pool, geoNear(c, ZSCALER.asn, 50, trng), c.region));
        } else {
          const isp = trng.pick(COUNTRIES[c.country]!.broadband);
          const ip =
            docIndex < DOC_PREFIXES.length * 240
              ? `${DOC_PREFIXES[docIndex % DOC_PREFIXES.length]}.${10 + Math.floor(docIndex / DOC_PREFIXES.length)}`
              : `${prefix24(isp, trng)}.${host(trng)}`;
          docIndex++;
          offices.set(c.id, fixedEndpoint('office_nat', ip, geoNear(c, isp.asn, 10, trng), c.region));
        }
      }
      this.tenants.push({
        name,
        region,
        cities,
        offices,
        keyRatePerMin: trng.logBetween(2, 12),
        cloud: trng.pick(CLOUD_BY_REGION[region]!),
      });
    }
  }

  /** The country's mobile carrier (CGNAT pool of many /24s, one ASN). */
  cellular(country: string): Endpoint {
    const e = this.carriers.get(country);
    if (!e) throw new Error(`no carrier for ${country}`);
    return e;
  }

  /**
   * An anonymous relay exit near a city (iCloud Private Relay keeps the user's region; Starlink's
   * PoP is in the same metro): every request gets another address of the relay's pool.
   */
  relay(c: City, which: 'akamai' | 'starlink', rng: Rng): Endpoint {
    const spec = which === 'akamai' ? AKAMAI_RELAY : STARLINK;
    const pool = which === 'akamai' ? this.relayPools.akamai : this.relayPools.starlink;
    return poolEndpoint('relay', pool, geoNear(c, spec.asn, 100, rng, 20), c.region);
  }
}
