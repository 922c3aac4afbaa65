/**
 * `refresh_reuse` — refresh-token reuse (DESIGN §4).
 *
 * Rebuilds each token family's rotation chain from token-endpoint exchanges. A refresh token is
 * *rotated* once a 2xx exchange of it issued a new, different refresh token; presenting a rotated
 * token again (any status) is reuse, i.e. the family has forked. The only tolerated re-presentation
 * is a client retry: the immediately previous token (one rotation back), at most `graceSec` after its
 * first exchange, from the same network (same ASN or same /24 · /48) as that exchange. The response
 * revokes the whole family: `family:<sid>` when the session is known, plus every refresh and access
 * fingerprint of the chain kept in state, both branches of the fork included.
 *
 * State is keyed by family: the family key the alias table recorded for the presented fingerprint
 * (`rt:<fp>`) when there is one, else `sid:<sid>` when the event carries `cred.sid`, else a new
 * `fam:<fp>` — so a family whose log lines carry the sid only sometimes never splits.
 */
import {
  defineDetector,
  type EnrichedEvent,
  type Finding,
  type Revocation,
  type Severity,
  type SourceRef,
  type StepResult,
} from '../../src/detect/contract.js';
import { dictDelete, dictGet, dictSet } from '../../src/detect/primitives/index.js';
import { cases } from './cases.js';
import { RefreshReuseConfigSchema, type RefreshReuseConfig } from './config.js';

/** One presentation of a refresh token at the token endpoint. Plain JSON. */
export interface Presentation {
  /** event id */
  id: string;
  /** event time, epoch ms */
  atMs: number;
  status: number;
  ip: string;
  /** /24 or /48 (or the trusted egress CIDR) */
  net: string;
  asn?: number;
  country?: string;
  /** anonymiser / relay network (from enrichment) */
  anonymous?: boolean;
  source?: SourceRef;
  /** new refresh fingerprint, set only when this presentation rotated the token (2xx, new fp) */
  issuedFp?: string;
  issuedAccessFp?: string;
}

/** What the family knows about one refresh token. Plain JSON. */
export interface TokenNode {
  /** generation within the family (root 0; a child is its parent + 1; only differences matter) */
  gen: number;
  /** refresh fingerprint whose exchange issued this token, when seen */
  parent?: string;
  /** event time of that exchange, epoch ms */
  issuedAtMs?: number;
  /** token expiry (cred.exp), epoch ms, when a presentation carried it */
  expMs?: number;
  /**
   * access fingerprints issued together with this refresh token, or by its own non-rotating 2xx
   * exchanges (newest maxPresentationsPerToken kept)
   */
  accessFps: string[];
  /** ascending by event time, ties in arrival order; capped by maxPresentationsPerToken */
  presentations: Presentation[];
  /** id of the event whose finding reported a fork on this token: fire once per forked token */
  forkReportedBy?: string;
}

/** State of one token family. Plain JSON (it is written to a changelog). */
export interface FamilyState {
  sid?: string;
  /** refresh fingerprint -> node */
  tokens: Record<string, TokenNode>;
}

type NetworkMatch = 'asn' | 'net' | 'none';

interface Verdict {
  tolerated: boolean;
  /** why the grace was not applied ('' when tolerated) */
  reason: string;
  rotationsSince: number;
  dtMs: number;
  sameNetwork: NetworkMatch;
}

const is2xx = (status: number): boolean => status >= 200 && status < 300;

/** The refresh fingerprint this event rotated the presented token into, if it was a rotation. */
function rotatedInto(e: EnrichedEvent): string | undefined {
  const issued = e.refresh?.issued_fp;
  return is2xx(e.status) && issued !== undefined && issued !== e.cred.fp ? issued : undefined;
}

function presentationOf(e: EnrichedEvent): Presentation {
  const p: Presentation = { id: e.id, atMs: e.ts, status: e.status, ip: e.ip, net: e.network.net };
  if (e.network.asn !== undefined) p.asn = e.network.asn;
  const country = e.location?.country ?? e.geo?.country;
  if (country !== undefined) p.country = country;
  if (e.network.anonymous) p.anonymous = true;
  if (e.source) p.source = e.source;
  const issued = rotatedInto(e);
  if (issued !== undefined) p.issuedFp = issued;
  if (is2xx(e.status) && e.refresh?.issued_access_fp !== undefined) p.issuedAccessFp = e.refresh.issued_access_fp;
  return p;
}

function maxGen(st: FamilyState): number {
  let m = Number.NEGATIVE_INFINITY;
  for (const n of Object.values(st.tokens)) m = Math.max(m, n.gen);
  return m;
}

/** Index of the token's first rotation (its legitimate first exchange), or -1. */
function firstRotation(node: TokenNode): number {
  return node.presentations.findIndex((p) => p.issuedFp !== undefined);
}

function childrenIndex(st: FamilyState): Map<string, string[]> {
  const idx = new Map<string, string[]>();
  for (const [fp, n] of Object.entries(st.tokens)) {
    if (n.parent === undefined) continue;
    const list = idx.get(n.parent) ?? [];
    list.push(fp);
    idx.set(n.parent, list);
  }
  return idx;
}

/**
 * How many rotations separate `fp` from the newest token descending from it, counting only
 * exchanges at or before `atMs` (so a late event is judged by what had happened at its time).
 */
function rotationsSince(st: FamilyState, children: Map<string, string[]>, fp: string, atMs: number, seen = new Set<string>()): number {
  if (seen.has(fp)) return 0;
  seen.add(fp);
  let rotated = false;
  let deepest = 0;
  const node = dictGet(st.tokens, fp);
  if (node?.presentations.some((p) => p.issuedFp !== undefined && p.atMs <= atMs)) rotated = true;
  for (const child of children.get(fp) ?? []) {
    const c = dictGet(st.tokens, child);
    if (c?.issuedAtMs === undefined || c.issuedAtMs > atMs) continue;
    rotated = true;
    deepest = Math.max(deepest, rotationsSince(st, children, child, atMs, seen));
  }
  return rotated ? 1 + deepest : 0;
}

function sameNetwork(a: Presentation, b: Presentation): NetworkMatch {
  if (a.asn !== undefined && a.asn === b.asn) return 'asn';
  if (a.net === b.net) return 'net';
  return 'none';
}

function judge(
  st: FamilyState,
  children: Map<string, string[]>,
  fp: string,
  first: Presentation,
  p: Presentation,
  config: RefreshReuseConfig,
): Verdict {
  const dtMs = p.atMs - first.atMs;
  const rotations = Math.max(1, rotationsSince(st, children, fp, p.atMs));
  const net = sameNetwork(first, p);
  let reason = '';
  if (rotations >= 2) reason = `${rotations} rotations back (a grace applies only to the immediately previous token)`;
  else if (config.graceSec === 0) reason = 'no grace configured (graceSec 0)';
  else if (dtMs > config.graceSec * 1000) reason = `after the ${config.graceSec} s grace window`;
  else if (net === 'none') reason = `from a different network inside the ${config.graceSec} s grace window`;
  return { tolerated: reason === '', reason, rotationsSince: rotations, dtMs, sameNetwork: net };
}

function fmtSec(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function uniq<T>(xs: Iterable<T | undefined>): T[] {
  const out: T[] = [];
  for (const x of xs) if (x !== undefined && !out.includes(x)) out.push(x);
  return out;
}

function uniqSources(xs: Array<SourceRef | undefined>): SourceRef[] {
  const seen = new Set<string>();
  const out: SourceRef[] = [];
  for (const s of xs) {
    if (s === undefined) continue;
    const k = `${s.topic}/${s.partition}/${s.offset}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(s);
  }
  return out;
}

function snapshot(p: Presentation): Record<string, unknown> {
  return {
    eventId: p.id,
    source: p.source ?? null,
    at: new Date(p.atMs).toISOString(),
    status: p.status,
    ip: p.ip,
    net: p.net,
    asn: p.asn ?? null,
    country: p.country ?? null,
    anonymous: p.anonymous ?? false,
    issuedFp: p.issuedFp ?? null,
    issuedAccessFp: p.issuedAccessFp ?? null,
  };
}

/** Every credential of the family kept in state, oldest generation first; family first when known. */
function familyRevocations(st: FamilyState): Revocation[] {
  const out: Revocation[] = [];
  if (st.sid !== undefined) out.push({ scope: 'family', id: st.sid });
  const seen = new Set<string>();
  const nodes = Object.entries(st.tokens).sort(([fa, a], [fb, b]) => a.gen - b.gen || (fa < fb ? -1 : fa > fb ? 1 : 0));
  const add = (id: string, expiresAtMs?: number): void => {
    if (seen.has(id)) return;
    seen.add(id);
    out.push(expiresAtMs !== undefined ? { scope: 'token', id, expiresAtMs } : { scope: 'token', id });
  };
  for (const [fp, n] of nodes) {
    add(fp, n.expMs);
    for (const a of n.accessFps) add(a);
  }
  return out;
}

function buildFinding(
  st: FamilyState,
  children: Map<string, string[]>,
  fp: string,
  node: TokenNode,
  first: Presentation,
  reuse: Presentation,
  v: Verdict,
  trigger: EnrichedEvent,
  key: string,
  config: RefreshReuseConfig,
): Finding {
  const revocations = familyRevocations(st);
  const revokedFingerprints = revocations.filter((r) => r.scope === 'token').map((r) => r.id);
  // Downgrade, never suppress (STYLE 13): a relay/anonymiser egress can change between a device's
  // request and its retry, so "other network inside the grace window" is weaker evidence there.
  const relayInsideGrace = v.rotationsSince === 1 && config.graceSec > 0 && v.dtMs <= config.graceSec * 1000 &&
    (first.anonymous === true || reuse.anonymous === true);
  const severity: Severity = relayInsideGrace ? 'high' : 'critical';
  const family = st.sid !== undefined ? `sid ${st.sid}` : key;
  const refused = is2xx(reuse.status) ? '' : ` (refused with ${reuse.status})`;
  const summary =
    `Refresh token ${fp} (generation ${node.gen}) presented again${refused} ${fmtSec(v.dtMs)} after its first exchange, ` +
    `${v.reason}: token family ${family} forked; revoking ${revocations.length} credential(s)`;
  return {
    severity,
    summary,
    trigger,
    discriminator: `fork:${fp}`,
    eventIds: uniq([first.id, reuse.id, trigger.id]),
    sources: uniqSources([first.source, reuse.source, trigger.source]),
    ips: uniq([first.ip, reuse.ip]),
    countries: uniq([first.country, reuse.country]),
    asns: uniq([first.asn, reuse.asn]),
    evidence: {
      familyKey: key,
      sid: st.sid ?? null,
      presentedFp: fp,
      presentedGeneration: node.gen,
      currentGeneration: node.gen + v.rotationsSince,
      latestGeneration: maxGen(st),
      rotationsSince: v.rotationsSince,
      deltaSec: v.dtMs / 1000,
      firstExchange: snapshot(first),
      reuse: snapshot(reuse),
      sameNetwork: v.sameNetwork !== 'none',
      sameNetworkBy: v.sameNetwork === 'none' ? null : v.sameNetwork,
      grace: { graceSec: config.graceSec, applied: false, reason: v.reason },
      forkedChildren: children.get(fp) ?? [],
      triggeredBy: trigger.id === reuse.id ? 'reuse' : 'late event completing the chain',
      downgraded: relayInsideGrace ? 'relay/anonymiser network inside the grace window' : null,
      revokedFingerprints,
    },
    revocations,
  };
}

/** Reports every not-yet-reported fork in the family (a late event can make an old one provable). */
function evaluate(st: FamilyState, trigger: EnrichedEvent, key: string, config: RefreshReuseConfig): Finding[] {
  const children = childrenIndex(st);
  const findings: Finding[] = [];
  const nodes = Object.entries(st.tokens).sort(([fa, a], [fb, b]) => a.gen - b.gen || (fa < fb ? -1 : fa > fb ? 1 : 0));
  for (const [fp, node] of nodes) {
    if (node.forkReportedBy !== undefined) continue;
    const fi = firstRotation(node);
    if (fi < 0) continue;
    const first = node.presentations[fi]!;
    for (const p of node.presentations.slice(fi + 1)) {
      const v = judge(st, children, fp, first, p, config);
      if (v.tolerated) continue;
      node.forkReportedBy = trigger.id;
      findings.push(buildFinding(st, children, fp, node, first, p, v, trigger, key, config));
      break;
    }
  }
  return findings;
}

/** Inserts in event-time order; equal times keep arrival order. */
function insertPresentation(node: TokenNode, p: Presentation): void {
  let i = node.presentations.length;
  while (i > 0 && node.presentations[i - 1]!.atMs > p.atMs) i--;
  node.presentations.splice(i, 0, p);
}

/** Keeps the first rotation and the newest presentations. */
function capPresentations(node: TokenNode, max: number): void {
  while (node.presentations.length > max) {
    const fi = firstRotation(node);
    node.presentations.splice(fi === 0 ? 1 : 0, 1);
  }
}

/** Drops generations older than the newest `maxGenerations`. */
function capGenerations(st: FamilyState, maxGenerations: number): void {
  const newest = maxGen(st);
  for (const [fp, n] of Object.entries(st.tokens)) if (n.gen <= newest - maxGenerations) dictDelete(st.tokens, fp);
}

function stepFamily(prev: FamilyState | undefined, e: EnrichedEvent, key: string, config: RefreshReuseConfig): StepResult<FamilyState> {
  const unchanged: StepResult<FamilyState> = { state: prev, findings: [] };
  if (e.cred.type !== 'refresh_token') return unchanged;
  const fp = e.cred.fp;
  const issued = rotatedInto(e);
  const known = prev ? dictGet(prev.tokens, fp) : undefined;
  // A presentation that did not rotate tells nothing about a token we never saw issued: keeping it
  // would let a flood of invalid refresh tokens fill state. Reuse needs an earlier rotation.
  if (known === undefined && issued === undefined) return unchanged;
  // At-least-once delivery: the same event twice is not a reuse.
  if (known?.presentations.some((p) => p.id === e.id)) return unchanged;

  const st: FamilyState = prev ? structuredClone(prev) : { tokens: {} };
  const sid = e.cred.sid ?? (key.startsWith('sid:') ? key.slice(4) : undefined);
  if (st.sid === undefined && sid !== undefined) st.sid = sid;

  let node = dictGet(st.tokens, fp);
  if (node === undefined) {
    const child = issued !== undefined ? dictGet(st.tokens, issued) : undefined;
    const gen = child !== undefined ? child.gen - 1 : Object.keys(st.tokens).length === 0 ? 0 : maxGen(st) + 1;
    node = { gen, accessFps: [], presentations: [] };
    dictSet(st.tokens, fp, node);
  }
  if (e.cred.exp !== undefined) node.expMs = e.cred.exp * 1000;
  const p = presentationOf(e);
  insertPresentation(node, p);
  let accessHolder = node;
  if (issued !== undefined) {
    let child = dictGet(st.tokens, issued);
    if (child === undefined) {
      child = { gen: node.gen + 1, parent: fp, issuedAtMs: e.ts, accessFps: [], presentations: [] };
      dictSet(st.tokens, issued, child);
    } else if (child.parent === undefined) {
      child.parent = fp;
      child.issuedAtMs = e.ts;
    }
    accessHolder = child;
  }
  if (p.issuedAccessFp !== undefined && !accessHolder.accessFps.includes(p.issuedAccessFp)) {
    accessHolder.accessFps.push(p.issuedAccessFp);
    if (accessHolder.accessFps.length > config.maxPresentationsPerToken) accessHolder.accessFps.shift();
  }

  const findings = evaluate(st, e, key, config);
  capPresentations(node, config.maxPresentationsPerToken);
  capGenerations(st, config.maxGenerations);

  const aliases: Record<string, string> = { [`rt:${fp}`]: key };
  if (issued !== undefined) aliases[`rt:${issued}`] = key;
  return { state: st, findings, aliases };
}

export const detector = defineDetector<RefreshReuseConfig, FamilyState>({
  meta: {
    id: 'refresh_reuse',
    title: 'Refresh-token reuse (a rotated refresh token presented again)',
    severity: 'critical',
    defaultAction: 'revoke',
    falsePositives: [
      'A client that fails to persist the rotated refresh token (crash or storage error between response and write) and later sends the old one again',
      'Several app instances, browser tabs or workers sharing one refresh token and refreshing concurrently from different networks',
      'A device whose egress changes between a request and its retry (relay/VPN egress rotation, Wi-Fi to cellular hand-off) inside the grace window; relay networks are downgraded to high',
      'A device restored from a backup that holds an old refresh token',
      'Gateways behind an untrusted proxy where every client shares one address (grace then applies to everyone); configure trusted proxies',
    ],
    references: [
      'https://www.rfc-editor.org/rfc/rfc9700#name-refresh-token-protection',
      'https://www.rfc-editor.org/rfc/rfc6749#section-10.4',
      'https://developer.okta.com/docs/guides/refresh-tokens/main/#refresh-token-rotation',
      'https://auth0.com/docs/secure/tokens/refresh-tokens/refresh-token-rotation',
      'https://attack.mitre.org/techniques/T1528/',
      'https://attack.mitre.org/techniques/T1550/001/',
    ],
  },
  config: RefreshReuseConfigSchema,
  keys(event, _config, aliases) {
    if (event.cred.type !== 'refresh_token') return [];
    // A family already known through this token keeps its key whether or not this log line carries
    // the sid (gateways do not always log it), so a chain never splits between two states.
    const known = aliases(`rt:${event.cred.fp}`);
    if (known !== undefined) return [known];
    if (event.cred.sid !== undefined) return [`sid:${event.cred.sid}`];
    return [`fam:${event.cred.fp}`];
  },
  stateTtlMs: (config) => config.familyTtlSec * 1000,
  step: (state, event, ctx) => stepFamily(state, event, ctx.key, ctx.config),
  cases,
});

export default detector;
