/**
 * `multi_ip_replay` — single-token multi-IP replay (DESIGN §4).
 *
 * Per credential fingerprint, over a sliding event-time window, the requests are mapped to a
 * network identity (the ASN; see {@link networkIdentity}) and the detector fires when
 *   - concurrency: the time-ordered requests switch between identities ≥ `minAlternations` times
 *     (a copied token used from two places at once interleaves; a device hand-off switches once
 *     or twice), or
 *   - spread: the window holds ≥ `minSpreadAsns` distinct known ASNs.
 * It fires once per episode: after a finding it stays quiet while the rule keeps matching, and an
 * episode ends once a whole window passes without a match.
 */
import type { EnrichedEvent, Finding, NetworkInfo, Severity, SourceRef } from '../../src/detect/contract.js';
import { defineDetector } from '../../src/detect/contract.js';
import {
  alternations,
  distinctValues,
  logCap,
  logEvictBefore,
  logInsert,
  newTimeLog,
  type TimeLog,
} from '../../src/detect/primitives/index.js';
import { cases } from './cases.js';
import { configSchema, type MultiIpReplayConfig } from './config.js';

export const DETECTOR_ID = 'multi_ip_replay';

/**
 * How long after a key's last event its state stays useful, beyond the window itself: covers the
 * runtime's allowed lateness (30 s by default) with headroom. The episode memory needs no more:
 * the last match is at or before the last event, so one window after it every episode has ended.
 */
export const STATE_TTL_MARGIN_MS = 60_000;

/** Runs of the network sequence kept in the evidence (the head and tail beyond it are elided). */
const MAX_EVIDENCE_RUNS = 24;

/** Networks named in a summary before the rest is counted as "+N more". */
const MAX_SUMMARY_NETWORKS = 4;

/** User agents are remembered up to this many characters (enough to tell clients apart, bounded state). */
const UA_MAX_CHARS = 160;

/** Distinct user agents listed per network in the evidence. */
const MAX_EVIDENCE_UAS = 5;

/** What kind of network identity a request was counted under. */
export type IdentityKind = 'asn' | 'trusted' | 'prefix';

/**
 * The network a request is counted under:
 * - `trusted` for every trusted proxy / egress CIDR or allowlisted ASN: together they are one
 *   network and never a distinct ASN;
 * - `AS<n>` when the ASN is known (AS0 means "no AS" and counts as unknown);
 * - `net:<prefix>` (IPv4 /24, IPv6 /48) when the ASN is unknown. Conservative fallback: such a
 *   network takes part in alternations but never counts towards the spread rule, and a finding
 *   that involves one is downgraded a step, because a carrier NAT pool of unknown ASN would
 *   otherwise look like many networks.
 */
export function networkIdentity(n: Pick<NetworkInfo, 'net' | 'asn' | 'trusted'>): { id: string; kind: IdentityKind } {
  if (n.trusted) return { id: 'trusted', kind: 'trusted' };
  if (n.asn !== undefined && n.asn !== 0) return { id: `AS${n.asn}`, kind: 'asn' };
  return { id: `net:${n.net}`, kind: 'prefix' };
}

/** One remembered request. Plain JSON: optional fields are omitted, never `undefined`-valued. */
export interface Sighting {
  id: string;
  ip: string;
  net: string;
  /** network identity, see {@link networkIdentity} */
  ident: string;
  kind: IdentityKind;
  asn?: number;
  ua?: string;
  country?: string;
  /** why the network is anonymous (VPN, relay, satellite...), when it is */
  anon?: string;
  src?: SourceRef;
}

/** The current episode: set by a finding, extended by every later match, ended by a quiet window. */
export interface Episode {
  /** event time of the finding that opened it, ms */
  firedAtMs: number;
  /** window end (ms) of the latest match */
  lastMatchMs: number;
}

/** Per-credential state. Plain JSON data (it goes to a changelog topic). */
export interface ReplayState {
  /** requests in the window, ascending by event time */
  log: TimeLog<Sighting>;
  /** newest event time seen for this key, ms: the end of the window */
  maxTs: number;
  episode?: Episode;
}

function sighting(e: EnrichedEvent): Sighting {
  const { id: ident, kind } = networkIdentity(e.network);
  const s: Sighting = { id: e.id, ip: e.ip, net: e.network.net, ident, kind };
  if (e.network.asn !== undefined && e.network.asn !== 0) s.asn = e.network.asn;
  if (e.ua !== undefined) s.ua = e.ua.slice(0, UA_MAX_CHARS);
  const country = e.location?.country ?? e.geo?.country;
  if (country !== undefined) s.country = country;
  if (e.network.anonymous) s.anon = e.network.anonymousReason ?? 'anonymous network';
  if (e.source) s.src = e.source;
  return s;
}

/** What the rule looks at in one window. */
export interface WindowMeasure {
  alternations: number;
  /** distinct known ASNs of untrusted requests: what the spread rule counts */
  spreadAsns: string[];
  identities: string[];
  uaChanged: boolean;
}

/** Measures a time-ordered window of sightings. */
export function measure(items: ReadonlyArray<{ t: number; v: Sighting }>): WindowMeasure {
  const uaItems = items.filter((it) => it.v.ua !== undefined);
  return {
    alternations: alternations(items, (s) => s.ident),
    spreadAsns: distinctValues(items, (s) => (s.kind === 'asn' ? s.ident : undefined)),
    identities: distinctValues(items, (s) => s.ident),
    // Two different user agents seen on two different networks (equivalently: some pair of requests
    // from different networks carries different user agents).
    uaChanged:
      distinctValues(uaItems, (s) => s.ua).length >= 2 && distinctValues(uaItems, (s) => s.ident).length >= 2,
  };
}

/**
 * Whether a time-ordered window matches either rule: the same decision as {@link measure} with
 * `alternations >= minAlternations || spreadAsns.length >= minSpreadAsns`, without allocating. It
 * walks from the newest request back (switches count the same in both directions) and stops as
 * soon as one rule is met, so a window that keeps matching during an episode costs a few items.
 */
export function windowMatches(
  items: ReadonlyArray<{ t: number; v: Sighting }>,
  cfg: Pick<MultiIpReplayConfig, 'minAlternations' | 'minSpreadAsns'>,
): boolean {
  const asns: string[] = [];
  let switches = 0;
  let next: string | undefined;
  for (let i = items.length - 1; i >= 0; i--) {
    const s = items[i]!.v;
    if (next !== undefined && s.ident !== next && ++switches >= cfg.minAlternations) return true;
    next = s.ident;
    if (s.kind === 'asn' && !asns.includes(s.ident)) {
      asns.push(s.ident);
      if (asns.length >= cfg.minSpreadAsns) return true;
    }
  }
  return false;
}

const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

function shift(s: Severity, by: number): Severity {
  const i = Math.min(SEVERITIES.length - 1, Math.max(0, SEVERITIES.indexOf(s) + by));
  return SEVERITIES[i]!;
}

/** The network sequence as runs, e.g. `AS2856×3`, `AS4837×1`, ... (long sequences keep head and tail). */
function runs(items: ReadonlyArray<{ t: number; v: Sighting }>): string[] {
  const out: Array<{ ident: string; n: number }> = [];
  for (const it of items) {
    const last = out[out.length - 1];
    if (last && last.ident === it.v.ident) last.n++;
    else out.push({ ident: it.v.ident, n: 1 });
  }
  const text = out.map((r) => `${r.ident}×${r.n}`);
  if (text.length <= MAX_EVIDENCE_RUNS) return text;
  const half = MAX_EVIDENCE_RUNS / 2;
  return [...text.slice(0, half), `… ${text.length - MAX_EVIDENCE_RUNS} runs …`, ...text.slice(-half)];
}

const iso = (ms: number): string => new Date(ms).toISOString();

const nameList = (xs: readonly string[]): string =>
  xs.length <= MAX_SUMMARY_NETWORKS
    ? xs.join(', ')
    : `${xs.slice(0, MAX_SUMMARY_NETWORKS).join(', ')} +${xs.length - MAX_SUMMARY_NETWORKS} more`;

function buildFinding(
  trigger: EnrichedEvent,
  items: ReadonlyArray<{ t: number; v: Sighting }>,
  m: WindowMeasure,
  rules: string[],
  windowStartMs: number,
  windowEndMs: number,
  cfg: MultiIpReplayConfig,
): Finding {
  const sightings = items.map((it) => it.v);
  const firstMs = items[0]!.t;
  const lastMs = items[items.length - 1]!.t;

  let severity: Severity = 'high';
  const severityReasons: string[] = [];
  if (m.uaChanged && cfg.raiseSeverityOnUaChange) {
    severity = shift(severity, +1);
    severityReasons.push('raised: the user agent differs between networks');
  }
  const anon = sightings.filter((s) => s.anon !== undefined);
  if (anon.length > 0) {
    severity = shift(severity, -1);
    severityReasons.push(
      `downgraded: ${anon.length} request(s) from anonymous networks (${[...new Set(anon.map((s) => s.anon))].join('; ')}), ` +
        'whose exits rotate for one user',
    );
  }
  const prefixNets = [...new Set(sightings.filter((s) => s.kind === 'prefix').map((s) => s.net))];
  if (prefixNets.length > 0) {
    severity = shift(severity, -1);
    severityReasons.push(
      `downgraded: ASN unknown for ${prefixNets.length} network(s), counted by /24 or /48 prefix, which may split one carrier`,
    );
  }

  const byIdentity = m.identities.map((ident) => {
    const mine = items.filter((it) => it.v.ident === ident);
    const asn = mine[0]!.v.asn;
    return {
      identity: ident,
      ...(mine[0]!.v.kind === 'asn' && asn !== undefined ? { asn } : {}),
      networks: distinctValues(mine, (s) => s.net),
      requests: mine.length,
      first: iso(mine[0]!.t),
      last: iso(mine[mine.length - 1]!.t),
      userAgents: distinctValues(mine, (s) => s.ua).slice(0, MAX_EVIDENCE_UAS),
    };
  });

  const asns = [...new Set(sightings.flatMap((s) => (s.asn !== undefined && s.kind === 'asn' ? [s.asn] : [])))];
  const networks = distinctValues(items, (s) => s.net);
  const fp = trigger.cred.fp;
  const what =
    rules[0] === 'concurrency'
      ? `used concurrently from ${m.identities.length} networks (${nameList(m.identities)}), ${m.alternations} alternations`
      : `used from ${m.spreadAsns.length} ASNs (${nameList(m.spreadAsns)})`;

  const evidence: Record<string, unknown> = {
    rules,
    credentialType: trigger.cred.type,
    windowSec: cfg.windowSec,
    windowStart: iso(windowStartMs),
    windowEnd: iso(windowEndMs),
    firstSeen: iso(firstMs),
    lastSeen: iso(lastMs),
    dtSec: (lastMs - firstMs) / 1000,
    requests: items.length,
    alternations: m.alternations,
    distinctIdentities: m.identities.length,
    distinctAsns: m.spreadAsns.length,
    distinctNetworks: networks.length,
    distinctIps: distinctValues(items, (s) => s.ip).length,
    identities: m.identities,
    networks,
    asns,
    sequence: runs(items),
    byIdentity,
    uaChanged: m.uaChanged,
    distinctUserAgents: distinctValues(items, (s) => s.ua).length,
    thresholds: {
      windowSec: cfg.windowSec,
      minAlternations: cfg.minAlternations,
      minSpreadAsns: cfg.minSpreadAsns,
    },
    severityReasons,
  };
  if (anon.length > 0) evidence.anonymous = { requests: anon.length, reasons: [...new Set(anon.map((s) => s.anon))] };
  if (prefixNets.length > 0) evidence.asnUnknownNetworks = prefixNets;

  const sources = sightings.flatMap((s) => (s.src ? [s.src] : []));
  return {
    severity,
    summary: `${trigger.cred.type} ${fp} ${what} within ${cfg.windowSec} s`,
    trigger,
    eventIds: sightings.map((s) => s.id),
    ...(sources.length > 0 ? { sources } : {}),
    ips: distinctValues(items, (s) => s.ip),
    countries: distinctValues(items, (s) => s.country),
    asns,
    evidence,
    revocations: [
      {
        scope: 'token',
        id: fp,
        ...(trigger.cred.exp !== undefined ? { expiresAtMs: trigger.cred.exp * 1000 } : {}),
      },
    ],
  };
}

export const detector = defineDetector<MultiIpReplayConfig, ReplayState>({
  meta: {
    id: DETECTOR_ID,
    title: 'Single-token multi-IP replay',
    severity: 'high',
    defaultAction: 'revoke',
    falsePositives: [
      'A device flapping between Wi-Fi and cellular several times within the window (3+ switches)',
      'A client whose requests alternate between a corporate egress/VPN and the direct path (split tunnelling)',
      'VPN or relay users whose exit rotates between providers (severity is downgraded, not suppressed)',
      'A token deliberately shared between a user and a server-side component on another network (a backend calling the API on behalf of the user)',
      'Networks of unknown ASN counted by /24 prefix, e.g. a carrier NAT pool missing from the ASN database (severity is downgraded)',
    ],
    references: [
      'https://datatracker.ietf.org/doc/html/rfc9700',
      'https://datatracker.ietf.org/doc/html/rfc6819',
      'https://datatracker.ietf.org/doc/html/rfc9449',
      'https://datatracker.ietf.org/doc/html/rfc8705',
      'https://attack.mitre.org/techniques/T1550/001/',
      'https://attack.mitre.org/techniques/T1528/',
      'https://datatracker.ietf.org/doc/html/rfc6888',
    ],
  },
  config: configSchema,

  keys(event, config) {
    if (!config.credentialTypes.includes(event.cred.type)) return [];
    if (config.ignoreStatusCodes.includes(event.status)) return [];
    // Private, loopback, CGNAT and other reserved addresses say nothing about where the client is
    // (an unresolved proxy hop, an internal caller); trusted ones still count as the trusted network.
    if (event.network.reserved && !event.network.trusted) return [];
    return [`fp:${event.cred.fp}`];
  },

  stateTtlMs(config) {
    return config.windowSec * 1000 + STATE_TTL_MARGIN_MS;
  },

  step(prev, event, ctx) {
    const cfg = ctx.config;
    const windowMs = cfg.windowSec * 1000;
    // The window ends at the newest event time seen for this key, so a late event lands inside it
    // and the rule is evaluated on the time-ordered window. Anchoring on the key (not on the
    // partition watermark) keeps a lagging key's own window intact; the runtime drops idle keys
    // against the watermark through stateTtlMs.
    const endMs = Math.max(prev?.maxTs ?? event.ts, event.ts);
    const startMs = endMs - windowMs;
    if (prev && event.ts < startMs) return { state: prev, findings: [] }; // too late: outside the open window
    // A redelivered event was seen with its own event time, so it is at or before the key's newest
    // one: the scan is needed only for requests that do not advance the window (rare: out of order).
    if (prev && event.ts <= prev.maxTs && prev.log.items.some((it) => it.v.id === event.id)) {
      return { state: prev, findings: [] }; // redelivery
    }

    // Updated in place: the runtime hands `prev` to this step only and keeps the returned state.
    const state: ReplayState = prev ?? { log: newTimeLog<Sighting>(), maxTs: endMs };
    state.maxTs = endMs;
    if (state.episode && endMs - state.episode.lastMatchMs > windowMs) delete state.episode;
    const seen = sighting(event);
    const prevLen = state.log.items.length;
    const prevLast = state.log.items[prevLen - 1];
    const at = logInsert(state.log, event.ts, seen);
    logEvictBefore(state.log, startMs);
    logCap(state.log, cfg.maxEventsPerKey);

    const items = state.log.items;
    // Fast path (most requests): outside an episode the previous window did not match, and a request
    // appended on the same network as the one before it adds no switch and no new ASN, while
    // eviction only removes; so the window still cannot match.
    if (!state.episode && prevLast && at === prevLen && prevLast.v.ident === seen.ident) {
      return { state, findings: [] };
    }
    if (!windowMatches(items, cfg)) return { state, findings: [] };
    if (state.episode) {
      state.episode.lastMatchMs = endMs;
      return { state, findings: [] };
    }
    const m = measure(items);
    const rules: string[] = [];
    if (m.alternations >= cfg.minAlternations) rules.push('concurrency');
    if (m.spreadAsns.length >= cfg.minSpreadAsns) rules.push('spread');
    state.episode = { firedAtMs: event.ts, lastMatchMs: endMs };
    return { state, findings: [buildFinding(event, items, m, rules, startMs, endMs, cfg)] };
  },

  cases,
});

export default detector;
