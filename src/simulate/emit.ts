/**
 * Building events: request ids, credential minting (raw credential → tfp1 fingerprint, raw
 * discarded), per-stream event construction, OAuth sessions (login, rotation, token use) and the
 * time-ordered merge of many lazy event streams.
 */
import type { AccessEventInput, CredentialType } from '../../schemas/event.js';
import { fingerprint } from '../../schemas/fingerprint.js';
import { fmix32, hash128, Rng } from './rng.js';
import { REVOKE_ROUTE, TOKEN_ROUTE, type Endpoint, type RouteSpec } from './world.js';

/** An event as streams produce it: `ts` is epoch ms until the output stage formats it. */
export type SimEvent = AccessEventInput & { ts: number };
export type Cred = SimEvent['cred'];

/** Called with every raw credential the simulator mints (tests use it to prove none leaks). */
export type CredentialHook = (raw: string, fp: string, type: CredentialType) => void;

/**
 * Request ids: a 4-round Feistel network over (stream index, sequence number) keyed by the seed.
 * A Feistel network is a bijection, so ids are unique without any bookkeeping, look random, and
 * depend only on the stream that made the event — not on how streams interleave.
 */
export class EventIds {
  private readonly k: [number, number, number, number];
  constructor(seed: number) {
    this.k = hash128(`tokenwatch-sim-ids|${seed}`);
  }
  id(stream: number, seq: number): string {
    let l = stream >>> 0;
    let r = seq >>> 0;
    for (let i = 0; i < 4; i++) {
      const f = fmix32((r + this.k[i]!) | 0);
      const nl = r;
      r = (l ^ f) >>> 0;
      l = nl;
    }
    return hex64(l, r);
  }
}

const HEX_CODES = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/** 16 lowercase hex digits of two 32-bit words, as one flat string. */
function hex64(l: number, r: number): string {
  const h = HEX_CODES;
  return String.fromCharCode(
    h[(l >>> 28) & 15]!, h[(l >>> 24) & 15]!, h[(l >>> 20) & 15]!, h[(l >>> 16) & 15]!,
    h[(l >>> 12) & 15]!, h[(l >>> 8) & 15]!, h[(l >>> 4) & 15]!, h[l & 15]!,
    h[(r >>> 28) & 15]!, h[(r >>> 24) & 15]!, h[(r >>> 20) & 15]!, h[(r >>> 16) & 15]!,
    h[(r >>> 12) & 15]!, h[(r >>> 8) & 15]!, h[(r >>> 4) & 15]!, h[r & 15]!,
  );
}

const PAD2: readonly string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const PAD3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * RFC 3339 UTC timestamps with milliseconds, exactly what `Date#toISOString` gives for years
 * 0000–9999, several times faster: the `YYYY-MM-DDTHH:` prefix is cached per hour.
 */
export class IsoFormatter {
  private hour = NaN;
  private prefix = '';
  format(ms: number): string {
    const h = Math.floor(ms / 3_600_000);
    if (h !== this.hour) {
      this.hour = h;
      this.prefix = new Date(h * 3_600_000).toISOString().slice(0, 14);
    }
    const inHour = ms - h * 3_600_000;
    const m = Math.floor(inHour / 60_000);
    const sec = Math.floor((inHour - m * 60_000) / 1000);
    return `${this.prefix}${PAD2[m]}:${PAD2[sec]}.${PAD3[inHour % 1000]}Z`;
  }
}

const JWT_HEADER = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InNpbS0xIn0';

/**
 * Mints credentials. The raw string exists only inside `mint` (and the debug hook); what leaves is
 * its tfp1 fingerprint, computed with the project's `fingerprint()`.
 */
export class CredentialMint {
  constructor(
    private readonly fpKey: string,
    private readonly hook?: CredentialHook,
  ) {}

  private finish(raw: string, type: CredentialType): string {
    const fp = fingerprint(raw, this.fpKey);
    this.hook?.(raw, fp, type);
    return fp;
  }

  /** A JWT-shaped access token (or an opaque one) → fingerprint. */
  accessToken(rng: Rng, jwt = true): string {
    const raw = jwt ? `${JWT_HEADER}.eyJ${rng.b64url(120)}.${rng.b64url(86)}` : `at_${rng.b62(40)}`;
    return this.finish(raw, 'access_token');
  }

  /** An opaque rotating refresh token → fingerprint. */
  refreshToken(rng: Rng): string {
    return this.finish(`rt_${rng.b64url(48)}`, 'refresh_token');
  }

  /** A secret API key in a well-known format (`sk_live_…`) → fingerprint. */
  apiKey(rng: Rng): string {
    return this.finish(`sk_live_${rng.b62(32)}`, 'api_key');
  }

  /** An IdP session cookie → fingerprint. */
  sessionCookie(rng: Rng): string {
    return this.finish(`idp_sess.${rng.b64url(43)}`, 'session');
  }
}

export interface SimContext {
  ids: EventIds;
  mint: CredentialMint;
  startMs: number;
  endMs: number;
}

/**
 * One lazily generated sequence of events with its own random numbers and request-id space.
 * Events share frozen nested objects (`geo`, `cred`) with other events of the same endpoint or
 * credential: treat emitted events as read-only.
 */
export class Stream {
  private seq = 0;

  constructor(
    readonly ctx: SimContext,
    readonly index: number,
    readonly rng: Rng,
  ) {}

  event(
    ts: number,
    ep: Endpoint,
    r: RouteSpec,
    status: number,
    cred: Cred,
    ua: string,
    tenant: string,
    refresh?: SimEvent['refresh'],
  ): SimEvent {
    const e: SimEvent = {
      v: 1,
      id: this.ctx.ids.id(this.index, this.seq++),
      ts: Math.round(ts),
      ip: ep.ip(this.rng),
      method: r.method,
      route: r.route,
      status,
      gateway: ep.gateway,
      tenant,
      ua,
      cred,
    };
    if (refresh) e.refresh = refresh;
    if (ep.geo) e.geo = ep.geo;
    return e;
  }
}

// ---------------------------------------------------------------------------------------------
// OAuth sessions

export interface ClientSpec {
  clientId: string;
  /** access-token lifetime, seconds */
  atTtlSec: number;
  /** JWT access tokens carry a jti */
  jwt: boolean;
  /** how often `cred.sid` is present: always, mostly (some refresh exchanges lack it), never */
  sid: 'always' | 'mostly' | 'never';
  /**
   * a browser app authenticated by a session cookie (`cred.type` session) instead of OAuth tokens:
   * no refresh, no logged login; `atTtlSec` is the cookie's idle lifetime
   */
  cookie?: boolean;
}

export const CLIENTS = {
  web: { clientId: 'web-app', atTtlSec: 900, jwt: true, sid: 'mostly' },
  ios: { clientId: 'ios-app', atTtlSec: 3600, jwt: true, sid: 'mostly' },
  android: { clientId: 'android-app', atTtlSec: 3600, jwt: true, sid: 'mostly' },
  cli: { clientId: 'shopctl', atTtlSec: 300, jwt: false, sid: 'never' },
  portal: { clientId: 'partner-portal', atTtlSec: 8 * 3600, jwt: false, sid: 'always', cookie: true },
} as const satisfies Record<string, ClientSpec>;

/** Share of refresh exchanges of a `mostly` client whose log line lacks the session id. */
const SID_ABSENT_SHARE = 0.06;

/**
 * A device's OAuth session: a session id (token family), the current refresh token and access
 * token. Every successful exchange rotates both; the chain is what refresh-reuse detection follows.
 */
export class OAuthSession {
  readonly sid: string;
  rt: string;
  at: string;
  /** access-token expiry, epoch ms */
  atExpMs: number;
  jti: string | undefined;
  /** number of rotations so far */
  generation = 0;
  /** refresh tokens of this chain, oldest first (bounded) */
  readonly history: string[] = [];
  private atCred: Cred | undefined;

  constructor(
    readonly sub: string,
    readonly tenant: string,
    readonly client: ClientSpec,
    readonly ua: string,
    private readonly mint: CredentialMint,
    rng: Rng,
    nowMs: number,
    /** for a session already running when the simulation starts: how long its access token has left */
    atRemainingMs?: number,
  ) {
    this.sid = `sid_${rng.b62(20)}`;
    if (client.cookie) {
      // a cookie session: `at` is the cookie, there is no refresh token
      this.rt = '';
      this.at = mint.sessionCookie(rng);
      this.jti = undefined;
    } else {
      this.rt = mint.refreshToken(rng);
      this.at = mint.accessToken(rng, client.jwt);
      this.jti = client.jwt ? rng.b62(16) : undefined;
      this.history.push(this.rt);
    }
    this.atExpMs = nowMs + (atRemainingMs ?? client.atTtlSec * 1000);
  }

  private refreshWithSid(rng: Rng): boolean {
    if (this.client.sid === 'never') return false;
    if (this.client.sid === 'always') return true;
    return rng.next() >= SID_ABSENT_SHARE;
  }

  /**
   * The credential API calls present, as the gateway logs it: the access token (or the session
   * cookie of a cookie client). One frozen object per token, shared by its events.
   */
  accessCred(): Cred {
    if (!this.atCred) {
      const c: Cred = { type: this.client.cookie ? 'session' : 'access_token', fp: this.at, sub: this.sub, client_id: this.client.clientId };
      if (this.client.sid !== 'never') c.sid = this.sid;
      if (this.jti) c.jti = this.jti;
      if (!this.client.cookie) c.exp = Math.floor(this.atExpMs / 1000);
      this.atCred = Object.freeze(c) as Cred;
    }
    return this.atCred;
  }

  /** A refresh-token credential (`fp` = the token presented). */
  refreshCred(rng: Rng, presented: string): Cred {
    const c: Cred = { type: 'refresh_token', fp: presented, sub: this.sub, client_id: this.client.clientId };
    if (this.refreshWithSid(rng)) c.sid = this.sid;
    return c;
  }

  /** The login (authorization-code exchange, the IdP session cookie presented) that issues the first pair. */
  login(st: Stream, t: number, ep: Endpoint): SimEvent {
    const cred: Cred = { type: 'session', fp: this.mint.sessionCookie(st.rng), sub: this.sub, client_id: this.client.clientId };
    if (this.client.sid !== 'never') cred.sid = this.sid;
    this.atExpMs = t + this.client.atTtlSec * 1000;
    this.atCred = undefined;
    return st.event(t, ep, TOKEN_ROUTE, 200, cred, this.ua, this.tenant, { issued_fp: this.rt, issued_access_fp: this.at });
  }

  /** Mints the next pair and makes it current. */
  private rotate(rng: Rng, t: number): { rt: string; at: string } {
    this.rt = this.mint.refreshToken(rng);
    this.at = this.mint.accessToken(rng, this.client.jwt);
    this.jti = this.client.jwt ? rng.b62(16) : undefined;
    this.atExpMs = t + this.client.atTtlSec * 1000;
    this.atCred = undefined;
    this.generation++;
    this.history.push(this.rt);
    if (this.history.length > 16) this.history.shift();
    return { rt: this.rt, at: this.at };
  }

  /**
   * A refresh exchange presenting `presented` (default: the current refresh token).
   * - status 2xx with `issue: 'new'` rotates the session to a freshly minted pair;
   * - `issue: {rt, at}` reports those fingerprints as issued (a server that answers a duplicate
   *   from its cache) without changing the session;
   * - any other status issues nothing.
   */
  exchange(
    st: Stream,
    t: number,
    ep: Endpoint,
    opts: { presented?: string; status?: number; issue?: 'new' | 'none' | { rt: string; at: string }; ua?: string } = {},
  ): SimEvent {
    const presented = opts.presented ?? this.rt;
    const status = opts.status ?? 200;
    const cred = this.refreshCred(st.rng, presented);
    let refresh: SimEvent['refresh'];
    const issue = opts.issue ?? (status < 300 ? 'new' : 'none');
    if (status < 300 && issue === 'new') {
      const p = this.rotate(st.rng, t);
      refresh = { issued_fp: p.rt, issued_access_fp: p.at };
    } else if (status < 300 && typeof issue === 'object') {
      refresh = { issued_fp: issue.rt, issued_access_fp: issue.at };
    }
    return st.event(t, ep, TOKEN_ROUTE, status, cred, opts.ua ?? this.ua, this.tenant, refresh);
  }

  /** Logout: the refresh token is revoked at the token endpoint's revocation route. */
  revoke(st: Stream, t: number, ep: Endpoint): SimEvent {
    return st.event(t, ep, REVOKE_ROUTE, 200, this.refreshCred(st.rng, this.rt), this.ua, this.tenant);
  }

  /** An API call with the current access token. */
  call(st: Stream, t: number, ep: Endpoint, r: RouteSpec, status: number): SimEvent {
    return st.event(t, ep, r, status, this.accessCred(), this.ua, this.tenant);
  }
}

// ---------------------------------------------------------------------------------------------
// Merging streams in event-time order

/**
 * What a stream yields: an event, or the time (epoch ms, rounded like `ts`) of the event it will
 * yield next. Announcing first lets the merger order a stream by its next time without building
 * the event yet, so the pending event does not sit in memory (and survive garbage collections)
 * while thousands of other streams go first. Announcing is optional; the next value after an
 * announcement must be the event itself.
 */
export type Step = SimEvent | number;

/** The announcement for an event at `t`. */
export function at(t: number): number {
  return Math.round(t);
}

interface Slot {
  ts: number;
  order: number;
  /** the pending event, or undefined when the stream only announced its time */
  ev: SimEvent | undefined;
  gen: Iterator<Step>;
}

function less(a: Slot, b: Slot): boolean {
  return a.ts < b.ts || (a.ts === b.ts && a.order < b.order);
}

/**
 * Merges lazy streams, each ordered by `ts`, into one ordered sequence (ties broken by the order the
 * streams were added, so the result is deterministic).
 */
export class StreamMerger {
  private readonly heap: Slot[] = [];
  private order = 0;

  add(gen: Iterator<Step>): void {
    const r = gen.next();
    if (r.done) return;
    const v = r.value;
    const heap = this.heap;
    const s: Slot = typeof v === 'number' ? { ts: v, order: this.order++, ev: undefined, gen } : { ts: v.ts, order: this.order++, ev: v, gen };
    heap.push(s);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(s, heap[p]!)) break;
      heap[i] = heap[p]!;
      i = p;
    }
    heap[i] = s;
  }

  /** Time of the next event, or undefined when every stream is exhausted. */
  peekTs(): number | undefined {
    return this.heap[0]?.ts;
  }

  /** The earliest pending event, or undefined when every stream is exhausted. */
  next(): SimEvent | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    let ev = top.ev;
    if (ev === undefined) {
      const r = top.gen.next();
      if (r.done || typeof r.value === 'number') throw new Error('simulator bug: a stream announced an event and did not produce it');
      ev = r.value;
    }
    const r = top.gen.next();
    if (r.done) {
      const last = heap.pop()!;
      if (heap.length === 0) return ev;
      heap[0] = last;
    } else if (typeof r.value === 'number') {
      top.ts = r.value;
      top.ev = undefined;
    } else {
      top.ev = r.value;
      top.ts = r.value.ts;
    }
    // sift the root down
    const n = heap.length;
    const s = heap[0]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const rr = l + 1;
      const c = rr < n && less(heap[rr]!, heap[l]!) ? rr : l;
      if (!less(heap[c]!, s)) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = s;
    return ev;
  }
}

/** Generator form of StreamMerger, for composing scenario sub-streams; it announces too. */
export function* mergeStreams(streams: Iterable<Iterator<Step>>): Generator<Step> {
  const m = new StreamMerger();
  for (const g of streams) m.add(g);
  for (let ts = m.peekTs(); ts !== undefined; ts = m.peekTs()) {
    yield ts;
    yield m.next()!;
  }
}
