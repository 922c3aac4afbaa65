/**
 * Case table of `multi_ip_replay`: event sequences (times in seconds from the case start, listed in
 * arrival order) → the findings expected. Run by the generic runner (src/testing/cases.ts).
 *
 * Networks used (ASN and place given through `geo`, the way a gateway's enrichment sends them):
 * the owner's home broadband and phone in London, a thief in China, hosting and ISP networks for
 * a key spray, a carrier pool and an enterprise egress pool, and a trusted cloud-proxy egress.
 */
import type { DetectorCase, DetectorCaseEvent } from '../../src/detect/contract.js';

const FP = 'tfp1:caseToken0000000000001';
const REVOKE = `token:${FP}`;

/** Owner at home: BT broadband, London. */
const HOME = { lat: 51.5142, lon: -0.0931, asn: 2856, country: 'GB' };
/** Owner's phone: EE mobile, London. */
const CELL = { lat: 51.5074, lon: -0.1278, asn: 12576, country: 'GB' };
/** A thief: China Unicom, Changchun. */
const THIEF = { lat: 43.88, lon: 125.3228, asn: 4837, country: 'CN' };
/** A thief with IPv6: China Telecom. */
const THIEF6 = { lat: 31.2222, lon: 121.4581, asn: 4134, country: 'CN' };
/** Bredband2, Linköping (an ISP whose subscribers sit behind a large address pool). */
const ISP_SE = { lat: 58.4167, lon: 15.6167, asn: 29518, country: 'SE' };
/** Cloud hosting (DigitalOcean, New York). */
const HOSTING = { lat: 40.7357, lon: -74.1724, asn: 14061, country: 'US' };
/** Cloud hosting (AWS, Ashburn). */
const AWS = { lat: 39.0438, lon: -77.4874, asn: 16509, country: 'US' };
/** An enterprise with its own AS (documentation ASN) and three egress /24s. */
const CORP = { lat: 48.8566, lon: 2.3522, asn: 64496, country: 'FR' };
/** A commercial VPN exit (M247, hosting). */
const VPN = { lat: 50.1109, lon: 8.6821, asn: 9009, country: 'DE' };

const APP_UA = 'OrdersApp/5.2.1 (iPhone; iOS 17.5)';
const SCRIPT_UA = 'python-requests/2.31.0';

/** `n` events from one place, `stepSec` apart from `fromSec`, ids `<prefix>-1..n`. */
function series(prefix: string, fromSec: number, stepSec: number, n: number, fields: Record<string, unknown>): DetectorCaseEvent[] {
  return Array.from({ length: n }, (_, i) => ({ at: fromSec + i * stepSec, id: `${prefix}-${i + 1}`, ...fields }));
}

const owner = (at: number, id: string, extra: Record<string, unknown> = {}): DetectorCaseEvent => ({
  at,
  id,
  ip: '81.2.69.160',
  geo: HOME,
  ua: APP_UA,
  ...extra,
});
const thief = (at: number, id: string, extra: Record<string, unknown> = {}): DetectorCaseEvent => ({
  at,
  id,
  ip: '175.16.199.37',
  geo: THIEF,
  ua: APP_UA,
  ...extra,
});

/** A leaked API key, sent by the same script from wherever it runs. */
const KEY_FP = 'tfp1:leakedKey0000000000001';
const spray = (at: number, id: string, ip: string, geo: object): DetectorCaseEvent => ({
  at,
  id,
  ip,
  geo,
  ua: 'curl/8.5.0',
  cred: { type: 'api_key', fp: KEY_FP, key_id: 'key_7Hq2' },
});

export const cases: DetectorCase[] = [
  // ------------------------------------------------------------------ fires
  {
    name: 'owner and thief interleave across 2 ASNs, thief with a scripted client (critical)',
    kind: 'fires',
    events: [
      owner(0, 'owner-1'),
      owner(30, 'owner-2'),
      thief(42, 'thief-1', { ua: SCRIPT_UA }),
      owner(60, 'owner-3'),
      thief(71, 'thief-2', { ua: SCRIPT_UA }),
      owner(90, 'owner-4'),
      thief(101, 'thief-3', { ua: SCRIPT_UA, route: '/v1/accounts/{id}/export' }),
      owner(120, 'owner-5'),
      thief(133, 'thief-4', { ua: SCRIPT_UA, route: '/v1/accounts/{id}/export' }),
    ],
    expect: [{ severity: 'critical', trigger: 'thief-2', revokes: [REVOKE], summaryIncludes: FP }],
  },
  {
    name: 'leaked API key sprayed from 4 ASNs in 3 countries (fires once, at the third ASN)',
    kind: 'fires',
    events: [
      spray(0, 'spray-1', '89.160.20.112', ISP_SE),
      spray(20, 'spray-2', '175.16.199.5', THIEF),
      spray(40, 'spray-3', '203.0.113.54', HOSTING),
      spray(60, 'spray-4', '192.0.2.201', AWS),
      spray(80, 'spray-5', '89.160.20.128', ISP_SE),
    ],
    expect: [{ severity: 'high', trigger: 'spray-3', revokes: [`token:${KEY_FP}`], summaryIncludes: '3 ASNs' }],
  },
  {
    name: 'IPv6: owner and thief interleave between two /48s in two ASNs, same client software (high)',
    kind: 'fires',
    events: [
      { at: 0, id: 'v6-owner-1', ip: '2a02:c7c:8a4e:1b00::15', geo: HOME, ua: APP_UA },
      { at: 15, id: 'v6-thief-1', ip: '240e:3b7:3272:d8d0::8', geo: THIEF6, ua: APP_UA },
      { at: 31, id: 'v6-owner-2', ip: '2a02:c7c:8a4e:1b00::15', geo: HOME, ua: APP_UA },
      { at: 44, id: 'v6-thief-2', ip: '240e:3b7:3272:d8d0::8', geo: THIEF6, ua: APP_UA },
      { at: 62, id: 'v6-owner-3', ip: '2a02:c7c:8a4e:1b00::15', geo: HOME, ua: APP_UA },
    ],
    expect: [{ severity: 'high', trigger: 'v6-thief-2', revokes: [REVOKE] }],
  },
  {
    name: 'out-of-order arrival: a late request (20 s late) completes the interleaving',
    kind: 'fires',
    events: [
      owner(0, 'owner-1'),
      owner(20, 'owner-2'),
      thief(30, 'thief-2'),
      // arrives last but happened at 10 s: in time order the requests are A B A B
      thief(10, 'thief-1-late'),
    ],
    expect: [{ severity: 'high', trigger: 'thief-1-late', revokes: [REVOKE] }],
  },
  {
    name: 'owner behind the trusted corporate egress, thief outside it',
    kind: 'fires',
    events: [
      { at: 0, id: 'corp-1', ip: '165.225.72.10', geo: { ...CORP, asn: 53813 }, network: { trusted: true, net: '165.225.0.0/17' } },
      thief(25, 'thief-1'),
      { at: 50, id: 'corp-2', ip: '165.225.72.10', geo: { ...CORP, asn: 53813 }, network: { trusted: true, net: '165.225.0.0/17' } },
      thief(75, 'thief-2'),
    ],
    expect: [{ severity: 'high', trigger: 'thief-2', revokes: [REVOKE] }],
  },
  {
    name: 'thief on a commercial VPN: downgraded to medium, not suppressed',
    kind: 'fires',
    events: [
      owner(0, 'owner-1'),
      { at: 12, id: 'vpn-1', ip: '89.238.130.71', geo: VPN, ua: APP_UA, network: { anonymous: true, anonymousReason: 'VPN exit (AS9009 M247)' } },
      owner(24, 'owner-2'),
      { at: 36, id: 'vpn-2', ip: '89.238.130.71', geo: VPN, ua: APP_UA, network: { anonymous: true, anonymousReason: 'VPN exit (AS9009 M247)' } },
    ],
    expect: [{ severity: 'medium', trigger: 'vpn-2', revokes: [REVOKE] }],
  },
  {
    name: 'ASN unknown for the second network: interleaving by /24 prefix fires, downgraded to medium',
    kind: 'fires',
    events: [
      owner(0, 'owner-1'),
      { at: 10, id: 'noasn-1', ip: '198.51.100.77', geo: { lat: 52.52, lon: 13.405, country: 'DE' }, ua: APP_UA },
      owner(20, 'owner-2'),
      { at: 30, id: 'noasn-2', ip: '198.51.100.77', geo: { lat: 52.52, lon: 13.405, country: 'DE' }, ua: APP_UA },
    ],
    expect: [{ severity: 'medium', trigger: 'noasn-2', revokes: [REVOKE] }],
  },
  {
    name: 'one finding per episode: fires again only after a whole window without a match',
    kind: 'fires',
    events: [
      owner(0, 'owner-1'),
      thief(10, 'thief-1'),
      owner(20, 'owner-2'),
      thief(30, 'thief-2'),
      ...series('owner-alone', 100, 100, 4, { ip: '81.2.69.160', geo: HOME, ua: APP_UA }),
      owner(700, 'owner-3'),
      thief(710, 'thief-3'),
      owner(720, 'owner-4'),
      thief(730, 'thief-4'),
    ],
    expect: [
      { severity: 'high', trigger: 'thief-2' },
      { severity: 'high', trigger: 'thief-4' },
    ],
  },

  // ------------------------------------------------------------------ quiet
  {
    name: 'Wi-Fi → cellular hand-off: A A A B B B (one switch)',
    kind: 'quiet',
    events: [
      ...series('wifi', 0, 20, 3, { ip: '81.2.69.160', geo: HOME, ua: APP_UA }),
      ...series('cell', 70, 20, 3, { ip: '198.51.100.23', geo: CELL, ua: APP_UA }),
    ],
    expect: [],
  },
  {
    name: 'Wi-Fi ↔ cellular: walks out of range and back (A A B B A A, two switches)',
    kind: 'quiet',
    events: [
      ...series('wifi', 0, 15, 2, { ip: '81.2.69.160', geo: HOME, ua: APP_UA }),
      ...series('cell', 40, 15, 2, { ip: '198.51.100.23', geo: CELL, ua: APP_UA }),
      ...series('wifi-again', 100, 15, 2, { ip: '81.2.69.160', geo: HOME, ua: APP_UA }),
    ],
    expect: [],
  },
  {
    name: 'carrier NAT churn: one ASN, a different /24 on every request',
    kind: 'quiet',
    events: [20, 21, 22, 23, 24, 25, 26, 27].map((third, i) => ({
      at: i * 25,
      id: `cgn-${i + 1}`,
      ip: `89.160.${third}.${40 + i}`,
      geo: ISP_SE,
      ua: APP_UA,
    })),
    expect: [],
  },
  {
    name: 'enterprise egress pool: one ASN, requests spread over three /24s',
    kind: 'quiet',
    events: ['192.0.2.30', '198.51.100.140', '203.0.113.9', '192.0.2.31', '198.51.100.141', '203.0.113.10'].map(
      (ip, i) => ({ at: i * 12, id: `egress-${i + 1}`, ip, geo: CORP, ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)' }),
    ),
    expect: [],
  },
  {
    name: 'trusted cloud-proxy egress in two ASNs counts as one network',
    kind: 'quiet',
    events: [0, 1, 2, 3, 4, 5].map((i) =>
      i % 2 === 0
        ? { at: i * 10, id: `zs-${i + 1}`, ip: '165.225.72.10', geo: { ...CORP, asn: 53813 }, network: { trusted: true, net: '165.225.0.0/17' } }
        : { at: i * 10, id: `zs-${i + 1}`, ip: '147.161.128.5', geo: { ...CORP, asn: 62044 }, network: { trusted: true, net: '147.161.128.0/17' } },
    ),
    expect: [],
  },
  {
    name: 'requests far apart: three networks alternate, but never two inside one 300 s window',
    kind: 'quiet',
    events: [
      owner(0, 'a-1'),
      thief(400, 'b-1'),
      owner(800, 'a-2'),
      { at: 1200, id: 'c-1', ip: '203.0.113.54', geo: HOSTING },
      thief(1600, 'b-2'),
    ],
    expect: [],
  },
  {
    name: 'office NAT: five tokens behind one address (each token is its own key)',
    kind: 'quiet',
    events: [0, 1, 2, 3, 4].flatMap((u) => [
      { at: u * 3, id: `office-${u}-1`, ip: '81.2.69.192', geo: HOME, cred: { fp: `tfp1:officeUser00000000000${u}` } },
      { at: 60 + u * 3, id: `office-${u}-2`, ip: '81.2.69.192', geo: HOME, cred: { fp: `tfp1:officeUser00000000000${u}` } },
    ]),
    expect: [],
  },
  {
    name: 'two devices of one user, each with its own token, interleave across 2 ASNs',
    kind: 'quiet',
    events: [0, 1, 2, 3, 4, 5].map((i) =>
      i % 2 === 0
        ? owner(i * 10, `laptop-${i}`, { cred: { fp: 'tfp1:laptopToken0000000001', sub: 'user-42' } })
        : { at: i * 10, id: `phone-${i}`, ip: '198.51.100.23', geo: CELL, ua: APP_UA, cred: { fp: 'tfp1:phoneToken00000000001', sub: 'user-42' } },
    ),
    expect: [],
  },
  {
    name: 'refresh tokens are left to refresh_reuse',
    kind: 'quiet',
    events: [0, 1, 2, 3].map((i) =>
      (i % 2 === 0 ? owner : thief)(i * 10, `refresh-${i}`, {
        route: '/oauth/token',
        method: 'POST',
        cred: { type: 'refresh_token', fp: 'tfp1:refreshToken000000001' },
      }),
    ),
    expect: [],
  },
  {
    name: 'sender-constrained token: replays by the thief are rejected (401) and do not count',
    kind: 'quiet',
    events: [
      owner(0, 'owner-1'),
      thief(10, 'thief-1', { status: 401 }),
      owner(20, 'owner-2'),
      thief(30, 'thief-2', { status: 401 }),
      owner(40, 'owner-3'),
    ],
    expect: [],
  },
  {
    name: 'an unresolved private proxy hop (10.x) between public requests does not count',
    kind: 'quiet',
    events: [0, 1, 2, 3, 4].map((i) =>
      i % 2 === 0 ? owner(i * 10, `pub-${i}`) : { at: i * 10, id: `lb-${i}`, ip: '10.20.30.40', ua: APP_UA },
    ),
    expect: [],
  },
  {
    name: 'ASN unknown: three /24 prefixes never make a spread',
    kind: 'quiet',
    events: ['198.51.100.7', '203.0.113.7', '192.0.2.7'].map((ip, i) => ({
      at: i * 20,
      id: `noasn-${i + 1}`,
      ip,
      geo: { lat: 52.52, lon: 13.405, country: 'DE' },
    })),
    expect: [],
  },

  // ------------------------------------------------------------------ boundary
  {
    name: 'two alternations (A B A), one under the threshold of 3',
    kind: 'boundary',
    events: [owner(0, 'owner-1'), thief(20, 'thief-1'), owner(40, 'owner-2'), owner(60, 'owner-3')],
    expect: [],
  },
  {
    name: 'exactly three alternations (A B A B) fires on the third switch',
    kind: 'boundary',
    events: [owner(0, 'owner-1'), thief(20, 'thief-1'), owner(40, 'owner-2'), thief(60, 'thief-2'), owner(80, 'owner-3')],
    expect: [{ severity: 'high', trigger: 'thief-2', revokes: [REVOKE] }],
  },
  {
    name: 'two ASNs in the same window, not interleaving (A×4 then B×4)',
    kind: 'boundary',
    events: [
      ...series('first', 0, 10, 4, { ip: '81.2.69.160', geo: HOME, ua: APP_UA }),
      ...series('second', 50, 10, 4, { ip: '175.16.199.37', geo: THIEF, ua: APP_UA }),
    ],
    expect: [],
  },
  {
    name: 'three ASNs with only two switches (A A B B C) fires by spread',
    kind: 'boundary',
    events: [
      owner(0, 'home-1'),
      owner(10, 'home-2'),
      { at: 20, id: 'cell-1', ip: '198.51.100.23', geo: CELL, ua: APP_UA },
      { at: 30, id: 'cell-2', ip: '198.51.100.23', geo: CELL, ua: APP_UA },
      thief(40, 'thief-1'),
    ],
    expect: [{ severity: 'high', trigger: 'thief-1', summaryIncludes: '3 ASNs' }],
  },
  {
    name: 'window edge: A B A B spanning exactly 300 s fires (the window is inclusive)',
    kind: 'boundary',
    events: [owner(0, 'owner-1'), thief(100, 'thief-1'), owner(200, 'owner-2'), thief(300, 'thief-2')],
    expect: [{ trigger: 'thief-2' }],
  },
  {
    name: 'window edge: A B A B spanning 301 s is quiet (the first request has left the window)',
    kind: 'boundary',
    events: [owner(0, 'owner-1'), thief(100, 'thief-1'), owner(200, 'owner-2'), thief(301, 'thief-2')],
    expect: [],
  },
];
