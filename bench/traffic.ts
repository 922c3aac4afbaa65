/**
 * Synthetic benign traffic for the latency and memory phases of the bench: canonical events (RFC
 * 3339 `ts`, gateway-side `geo`, keyed as DESIGN §3 asks) from a pool of access tokens (one user and
 * session each) and API keys, every credential used from one fixed network. Pools are sized from
 * the rate so each credential keeps a plausible request rate (the simulator's API keys average
 * ~0.4 requests/s, its users' access tokens far less), whatever the total rate.
 *
 * Not the simulator: re-timing simulated traffic to 20,000 events/s would compress its event time
 * ~250× and turn every API key into a rate spike.
 */
import { createHash } from 'node:crypto';

/** Places the benign credentials live in: public /24s with gateway-side geo (lat, lon, accuracy, ASN). */
const PLACES = [
  { prefix: '85.214.132', city: 'Berlin', country: 'DE', lat: 52.52, lon: 13.405, acc: 20, asn: 6724 },
  { prefix: '91.64.20', city: 'Hamburg', country: 'DE', lat: 53.551, lon: 9.993, acc: 20, asn: 31334 },
  { prefix: '86.137.44', city: 'London', country: 'GB', lat: 51.507, lon: -0.128, acc: 10, asn: 2856 },
  { prefix: '90.45.61', city: 'Paris', country: 'FR', lat: 48.857, lon: 2.352, acc: 10, asn: 3215 },
  { prefix: '145.53.17', city: 'Amsterdam', country: 'NL', lat: 52.368, lon: 4.904, acc: 10, asn: 1136 },
  { prefix: '83.44.102', city: 'Madrid', country: 'ES', lat: 40.417, lon: -3.704, acc: 20, asn: 3352 },
  { prefix: '83.24.33', city: 'Warsaw', country: 'PL', lat: 52.23, lon: 21.012, acc: 20, asn: 5617 },
  { prefix: '78.70.12', city: 'Stockholm', country: 'SE', lat: 59.329, lon: 18.069, acc: 20, asn: 3301 },
] as const;

const KEY_ROUTES = ['/v1/orders', '/v1/orders/{id}', '/v1/inventory/{sku}', '/v1/events'] as const;
const TOKEN_ROUTES = ['/v1/me', '/v1/orders/{id}', '/v1/cart', '/v1/events'] as const;

export interface TrafficOptions {
  /** distinct access tokens (one user and session each) */
  tokens: number;
  /** distinct API keys */
  keys: number;
  /** share of events made with API keys (the simulator's traffic is ~0.9 API-key events) */
  keyShare: number;
  tenants: number;
  /** event id prefix, unique per run */
  idPrefix: string;
}

/**
 * Credential pools sized so each access token makes `tokenEps` and each API key `keyEps` requests
 * per second on average at `rateEps`, whatever the total rate.
 */
export function poolsForRate(rateEps: number, perCredential: { tokenEps: number; keyEps: number }, keyShare = 0.9): { tokens: number; keys: number } {
  return {
    tokens: Math.max(20, Math.ceil((rateEps * (1 - keyShare)) / perCredential.tokenEps)),
    keys: Math.max(10, Math.ceil((rateEps * keyShare) / perCredential.keyEps)),
  };
}

export function benchFingerprint(label: string): string {
  return `tfp1:${createHash('sha256').update(label).digest('base64url').slice(0, 22)}`;
}

export interface TrafficRecord {
  key: string;
  value: string;
}

export class BenignTraffic {
  private readonly tokenFps: string[] = [];
  private readonly keyFps: string[] = [];
  private seq = 0;
  private nextToken = 0;
  private nextKey = 0;
  private keyCredit = 0;

  constructor(private readonly o: TrafficOptions) {}

  private tokenFp(i: number): string {
    return (this.tokenFps[i] ??= benchFingerprint(`${this.o.idPrefix}:token:${i}`));
  }

  private keyFp(i: number): string {
    return (this.keyFps[i] ??= benchFingerprint(`${this.o.idPrefix}:key:${i}`));
  }

  /** An access-token request of token i at `tsMs`. */
  tokenEvent(i: number, tsMs: number): TrafficRecord {
    const p = PLACES[i % PLACES.length]!;
    const id = `${this.o.idPrefix}-${++this.seq}`;
    const sid = `bench-sess-${i}`;
    const value =
      `{"v":1,"id":"${id}","ts":"${new Date(tsMs).toISOString()}","ip":"${p.prefix}.${((i >> 3) % 250) + 1}","method":"GET",` +
      `"route":"${TOKEN_ROUTES[this.seq % TOKEN_ROUTES.length]}","status":200,"gateway":"bench-gw-1","tenant":"tenant-${i % this.o.tenants}",` +
      `"ua":"okhttp/4.12.0","cred":{"type":"access_token","fp":"${this.tokenFp(i)}","sub":"bench-user-${i}","client_id":"mobile-app","sid":"${sid}",` +
      `"exp":${Math.floor(tsMs / 1000) + 3600}},"geo":{"lat":${p.lat},"lon":${p.lon},"accuracy_km":${p.acc},"country":"${p.country}","asn":${p.asn},"city":"${p.city}"}}`;
    return { key: sid, value };
  }

  /** An API-key request of key i at `tsMs`. */
  keyEvent(i: number, tsMs: number): TrafficRecord {
    const p = PLACES[(i * 3 + 1) % PLACES.length]!;
    const id = `${this.o.idPrefix}-${++this.seq}`;
    const keyId = `bench-key-${i}`;
    const value =
      `{"v":1,"id":"${id}","ts":"${new Date(tsMs).toISOString()}","ip":"${p.prefix}.${((i >> 2) % 250) + 1}","method":"POST",` +
      `"route":"${KEY_ROUTES[this.seq % KEY_ROUTES.length]}","status":200,"gateway":"bench-gw-1","tenant":"tenant-${i % this.o.tenants}",` +
      `"ua":"bench-sdk/1.4.2 node/22","cred":{"type":"api_key","fp":"${this.keyFp(i)}","key_id":"${keyId}"},` +
      `"geo":{"lat":${p.lat},"lon":${p.lon},"accuracy_km":${p.acc},"country":"${p.country}","asn":${p.asn},"city":"${p.city}"}}`;
    return { key: keyId, value };
  }

  /** The next request of the mix (round-robin over each pool), at `tsMs`. */
  next(tsMs: number): TrafficRecord {
    this.keyCredit += this.o.keyShare;
    if (this.keyCredit >= 1 && this.o.keys > 0) {
      this.keyCredit -= 1;
      const i = this.nextKey;
      this.nextKey = (this.nextKey + 1) % this.o.keys;
      return this.keyEvent(i, tsMs);
    }
    const i = this.nextToken;
    this.nextToken = (this.nextToken + 1) % this.o.tokens;
    return this.tokenEvent(i, tsMs);
  }
}
