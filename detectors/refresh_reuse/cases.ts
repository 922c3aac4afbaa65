/**
 * Case table of `refresh_reuse`: event sketches (relative seconds) → expected findings. Run by the
 * generic runner (src/testing/cases.ts). Addresses are MaxMind test-data or documentation ranges;
 * ASNs are documentation ASNs (RFC 5398) except where a real relay network is the point.
 */
import type { DetectorCase, DetectorCaseEvent } from '../../src/detect/contract.js';

/** A tfp1-shaped fingerprint: "tfp1:" + 22 base64url characters. */
const fp = (tag: string): string => `tfp1:${tag.padEnd(22, 'x')}`;

/** Refresh token `n` of family `fam` and the access token issued with it. */
const rt = (fam: string, n: number | string): string => fp(`${fam}rt${n}`);
const at = (fam: string, n: number | string): string => fp(`${fam}at${n}`);

interface Where {
  ip: string;
  geo: { lat: number; lon: number; asn: number; country: string };
  network?: Record<string, unknown>;
}

/** The owner at home (London ISP, AS64496). */
const HOME: Where = { ip: '81.2.69.160', geo: { lat: 51.5142, lon: -0.0931, asn: 64496, country: 'GB' } };
/** The same home network, another address in the same /24. */
const HOME_2: Where = { ip: '81.2.69.142', geo: { lat: 51.5142, lon: -0.0931, asn: 64496, country: 'GB' } };
/** Same ISP (AS64496), another /24: a carrier NAT pool hands out a new address. */
const HOME_POOL: Where = { ip: '81.2.70.23', geo: { lat: 51.5142, lon: -0.0931, asn: 64496, country: 'GB' } };
/** The owner's phone on a mobile carrier (AS64511). */
const MOBILE: Where = { ip: '203.0.113.57', geo: { lat: 51.5072, lon: -0.1276, asn: 64511, country: 'GB' } };
/** The thief (Stockholm hosting, AS64500). */
const THIEF: Where = { ip: '89.160.20.112', geo: { lat: 59.3294, lon: 18.0686, asn: 64500, country: 'SE' } };
/** An iCloud Private Relay egress (AS36183, flagged anonymous by enrichment). */
const RELAY: Where = {
  ip: '198.51.100.23',
  geo: { lat: 51.5, lon: -0.12, asn: 36183, country: 'GB' },
  network: { anonymous: true, anonymousReason: 'anonymous/relay ASN 36183' },
};

interface ExchangeOpts {
  id?: string;
  sid?: string;
  status?: number;
  /** refresh token issued (omit for a refused or non-rotating exchange) */
  issued?: string;
  issuedAccess?: string;
  exp?: number;
}

/** A token-endpoint refresh exchange presenting `presented`. */
function exchange(atSec: number, where: Where, presented: string, o: ExchangeOpts = {}): DetectorCaseEvent {
  const e: DetectorCaseEvent = {
    at: atSec,
    ip: where.ip,
    geo: where.geo,
    method: 'POST',
    route: '/oauth/token',
    status: o.status ?? 200,
    cred: {
      type: 'refresh_token',
      fp: presented,
      sub: 'user-42',
      client_id: 'orders-mobile',
      ...(o.sid !== undefined ? { sid: o.sid } : {}),
      ...(o.exp !== undefined ? { exp: o.exp } : {}),
    },
  };
  if (o.id !== undefined) e.id = o.id;
  if (where.network) e.network = where.network;
  if (o.issued !== undefined || o.issuedAccess !== undefined) {
    e.refresh = {
      ...(o.issued !== undefined ? { issued_fp: o.issued } : {}),
      ...(o.issuedAccess !== undefined ? { issued_access_fp: o.issuedAccess } : {}),
    };
  }
  return e;
}

/** A rotation of refresh token n of `fam` into n+1 (with access token n+1). */
function rotate(atSec: number, where: Where, fam: string, n: number, o: Omit<ExchangeOpts, 'issued' | 'issuedAccess'> = {}): DetectorCaseEvent {
  return exchange(atSec, where, rt(fam, n), { ...o, issued: rt(fam, n + 1), issuedAccess: at(fam, n + 1) });
}

/** An API call made with an access token (ignored by this detector). */
function apiCall(atSec: number, where: Where, accessFp: string): DetectorCaseEvent {
  return { at: atSec, ip: where.ip, geo: where.geo, method: 'GET', route: '/v1/orders', status: 200, cred: { type: 'access_token', fp: accessFp, sub: 'user-42' } };
}

/** Twelve rotations, every 15 minutes, moving between home and mobile, with API calls in between. */
function healthyChain(): DetectorCaseEvent[] {
  const out: DetectorCaseEvent[] = [];
  for (let n = 0; n < 12; n++) {
    const where = n % 3 === 2 ? MOBILE : HOME;
    out.push(rotate(n * 900, where, 'H', n, { sid: 'sess-healthy' }));
    out.push(apiCall(n * 900 + 5, where, at('H', n + 1)));
    out.push(apiCall(n * 900 + 420, where, at('H', n + 1)));
  }
  return out;
}

export const cases: DetectorCase[] = [
  // ------------------------------------------------------------------ fires
  {
    name: 'thief replays an old refresh token after the owner rotated it (other network, after grace)',
    kind: 'fires',
    events: [
      rotate(0, HOME, 'A', 0, { sid: 'sess-a' }),
      apiCall(60, HOME, at('A', 1)),
      rotate(900, HOME, 'A', 1, { sid: 'sess-a' }),
      exchange(1800, THIEF, rt('A', 1), { id: 'thief-reuse', sid: 'sess-a', issued: fp('AthiefRt2'), issuedAccess: fp('AthiefAt2') }),
      // the thief retries and keeps rotating its branch: same fork, no second alert
      exchange(1810, THIEF, rt('A', 1), { sid: 'sess-a', status: 400 }),
      exchange(2700, THIEF, fp('AthiefRt2'), { sid: 'sess-a', issued: fp('AthiefRt3'), issuedAccess: fp('AthiefAt3') }),
    ],
    expect: [
      {
        severity: 'critical',
        trigger: 'thief-reuse',
        summaryIncludes: rt('A', 1),
        revokes: [
          'family:sess-a',
          `token:${rt('A', 0)}`,
          `token:${rt('A', 1)}`,
          `token:${rt('A', 2)}`,
          `token:${fp('AthiefRt2')}`,
          `token:${at('A', 1)}`,
          `token:${at('A', 2)}`,
          `token:${fp('AthiefAt2')}`,
        ],
      },
    ],
  },
  {
    name: "owner's refresh is refused (400) after the thief rotated the token first",
    kind: 'fires',
    events: [
      rotate(0, HOME, 'B', 0, { sid: 'sess-b' }),
      exchange(600, THIEF, rt('B', 1), { sid: 'sess-b', issued: fp('BthiefRt2'), issuedAccess: fp('BthiefAt2') }),
      exchange(3600, HOME, rt('B', 1), { id: 'owner-refused', sid: 'sess-b', status: 400 }),
      exchange(3601, HOME, rt('B', 1), { sid: 'sess-b', status: 400 }),
    ],
    expect: [
      {
        severity: 'critical',
        trigger: 'owner-refused',
        summaryIncludes: 'refused with 400',
        revokes: ['family:sess-b', `token:${rt('B', 1)}`, `token:${fp('BthiefRt2')}`, `token:${fp('BthiefAt2')}`],
      },
    ],
  },
  {
    name: 'reuse inside the grace window from another network',
    kind: 'fires',
    events: [
      rotate(0, HOME, 'C', 0, { sid: 'sess-c' }),
      exchange(12, THIEF, rt('C', 0), { id: 'thief-in-grace', sid: 'sess-c', issued: fp('CthiefRt1'), issuedAccess: fp('CthiefAt1') }),
    ],
    expect: [
      {
        severity: 'critical',
        trigger: 'thief-in-grace',
        summaryIncludes: 'different network',
        revokes: ['family:sess-c', `token:${rt('C', 1)}`, `token:${fp('CthiefRt1')}`, `token:${at('C', 1)}`, `token:${fp('CthiefAt1')}`],
      },
    ],
  },
  {
    name: 'older generation (two rotations back) from the same network inside the grace window',
    kind: 'fires',
    events: [
      rotate(0, HOME, 'D', 0, { sid: 'sess-d' }),
      rotate(5, HOME, 'D', 1, { sid: 'sess-d' }),
      exchange(10, HOME_2, rt('D', 0), { id: 'two-back', sid: 'sess-d', status: 400 }),
    ],
    expect: [{ severity: 'critical', trigger: 'two-back', summaryIncludes: '2 rotations back', revokes: ['family:sess-d', `token:${rt('D', 2)}`] }],
  },
  {
    name: "sid logged on some lines only: the owner's rotation lacks it, the thief's reuse carries it",
    kind: 'fires',
    events: [
      rotate(0, HOME, 'M', 0),
      exchange(12, THIEF, rt('M', 0), { id: 'thief-mixed-sid', sid: 'sess-m', issued: fp('MthiefRt1'), issuedAccess: fp('MthiefAt1') }),
    ],
    expect: [
      {
        severity: 'critical',
        trigger: 'thief-mixed-sid',
        revokes: ['family:sess-m', `token:${rt('M', 1)}`, `token:${fp('MthiefRt1')}`],
      },
    ],
  },
  {
    name: 'family without sid: the chain is followed through the alias table',
    kind: 'fires',
    events: [
      rotate(0, HOME, 'E', 0),
      rotate(900, MOBILE, 'E', 1),
      rotate(1800, HOME, 'E', 2),
      exchange(2000, THIEF, rt('E', 2), { id: 'thief-nosid', issued: fp('EthiefRt3'), issuedAccess: fp('EthiefAt3') }),
    ],
    expect: [
      {
        severity: 'critical',
        trigger: 'thief-nosid',
        summaryIncludes: rt('E', 2),
        revokes: [
          `token:${rt('E', 0)}`,
          `token:${rt('E', 1)}`,
          `token:${rt('E', 2)}`,
          `token:${rt('E', 3)}`,
          `token:${fp('EthiefRt3')}`,
          `token:${at('E', 3)}`,
          `token:${fp('EthiefAt3')}`,
        ],
      },
    ],
  },
  {
    name: "out of order: the owner's earlier exchange arrives after the thief's (15 s apart, other network)",
    kind: 'fires',
    events: [
      rotate(0, HOME, 'F', 0, { sid: 'sess-f' }),
      exchange(40, THIEF, rt('F', 1), { id: 'thief-first-arrival', sid: 'sess-f', issued: fp('FthiefRt2'), issuedAccess: fp('FthiefAt2') }),
      rotate(25, HOME, 'F', 1, { id: 'owner-late-arrival', sid: 'sess-f' }),
    ],
    expect: [
      {
        severity: 'critical',
        trigger: 'owner-late-arrival',
        summaryIncludes: rt('F', 1),
        revokes: ['family:sess-f', `token:${rt('F', 2)}`, `token:${fp('FthiefRt2')}`],
      },
    ],
  },
  {
    name: 'a second fork in the same family alerts again',
    kind: 'fires',
    events: [
      rotate(0, HOME, 'G', 0, { sid: 'sess-g' }),
      rotate(900, HOME, 'G', 1, { sid: 'sess-g' }),
      exchange(1000, THIEF, rt('G', 0), { id: 'fork-1', sid: 'sess-g', status: 400 }),
      exchange(1100, THIEF, rt('G', 1), { id: 'fork-2', sid: 'sess-g', status: 400 }),
    ],
    expect: [
      { severity: 'critical', trigger: 'fork-1', summaryIncludes: rt('G', 0) },
      { severity: 'critical', trigger: 'fork-2', summaryIncludes: rt('G', 1) },
    ],
  },
  {
    name: 'other network inside grace through a relay network: fires, downgraded to high',
    kind: 'fires',
    events: [rotate(0, HOME, 'R', 0, { sid: 'sess-r' }), exchange(8, RELAY, rt('R', 0), { id: 'via-relay', sid: 'sess-r', status: 400 })],
    expect: [{ severity: 'high', trigger: 'via-relay', revokes: ['family:sess-r', `token:${rt('R', 1)}`] }],
  },
  // ------------------------------------------------------------------ quiet
  {
    name: 'healthy rotation chain: 12 rotations, home and mobile networks, API calls in between',
    kind: 'quiet',
    events: healthyChain(),
    expect: [],
  },
  {
    name: 'double-submit race: the same device retries within the grace window and continues with the retry result',
    kind: 'quiet',
    events: [
      rotate(0, HOME, 'J', 0, { sid: 'sess-j' }),
      exchange(0.4, HOME, rt('J', 0), { sid: 'sess-j', issued: fp('Jrt1retry'), issuedAccess: fp('Jat1retry') }),
      exchange(900, HOME, fp('Jrt1retry'), { sid: 'sess-j', issued: rt('J', 2), issuedAccess: at('J', 2) }),
      rotate(1800, HOME, 'J', 2, { sid: 'sess-j' }),
    ],
    expect: [],
  },
  {
    name: 'a failed exchange does not rotate: 503 then success',
    kind: 'quiet',
    events: [
      rotate(0, HOME, 'K', 0, { sid: 'sess-k' }),
      exchange(900, MOBILE, rt('K', 1), { sid: 'sess-k', status: 503 }),
      exchange(902, MOBILE, rt('K', 1), { sid: 'sess-k', status: 400 }),
      rotate(960, HOME, 'K', 1, { sid: 'sess-k' }),
      rotate(1860, HOME, 'K', 2, { sid: 'sess-k' }),
    ],
    expect: [],
  },
  {
    name: 'retry inside grace from the same ASN, another /24 (carrier NAT pool)',
    kind: 'quiet',
    events: [rotate(0, HOME, 'L', 0, { sid: 'sess-l' }), exchange(3, HOME_POOL, rt('L', 0), { sid: 'sess-l', status: 400 })],
    expect: [],
  },
  {
    name: 'non-rotating client: the same refresh token is exchanged again and again from several networks',
    kind: 'quiet',
    events: [
      exchange(0, HOME, rt('M', 0), { sid: 'sess-m', issuedAccess: at('M', 1) }),
      exchange(900, MOBILE, rt('M', 0), { sid: 'sess-m', issuedAccess: at('M', 2) }),
      exchange(1800, HOME, rt('M', 0), { sid: 'sess-m', issued: rt('M', 0), issuedAccess: at('M', 3) }),
      exchange(2700, HOME_POOL, rt('M', 0), { sid: 'sess-m', issuedAccess: at('M', 4) }),
    ],
    expect: [],
  },
  {
    name: 'out of order: a same-device retry arrives before the exchange it retried',
    kind: 'quiet',
    events: [
      rotate(0, HOME, 'N', 0),
      exchange(901, HOME_2, rt('N', 1), { status: 400 }),
      rotate(900, HOME, 'N', 1),
      rotate(1800, HOME, 'N', 2),
    ],
    expect: [],
  },
  // ------------------------------------------------------------------ boundary
  {
    name: 'same network at graceSec − 1 (29 s): tolerated retry',
    kind: 'boundary',
    events: [rotate(0, HOME, 'P', 0, { sid: 'sess-p' }), exchange(29, HOME_2, rt('P', 0), { sid: 'sess-p', status: 400 })],
    expect: [],
  },
  {
    name: 'same network at graceSec + 1 (31 s): reuse',
    kind: 'boundary',
    events: [rotate(0, HOME, 'Q', 0, { sid: 'sess-q' }), exchange(31, HOME_2, rt('Q', 0), { id: 'just-over', sid: 'sess-q', status: 400 })],
    expect: [{ severity: 'critical', trigger: 'just-over', summaryIncludes: 'after the 30 s grace window', revokes: ['family:sess-q'] }],
  },
  {
    name: 'graceSec 0 (Auth0 default): a same-device retry 1 s later is reuse',
    kind: 'boundary',
    config: { graceSec: 0 },
    events: [rotate(0, HOME, 'S', 0, { sid: 'sess-s' }), exchange(1, HOME, rt('S', 0), { id: 'no-grace', sid: 'sess-s', status: 400 })],
    expect: [{ severity: 'critical', trigger: 'no-grace', summaryIncludes: 'no grace configured' }],
  },
];
