/**
 * The contract between the runtime (`src/`) and a detector (`detectors/<id>/`).
 *
 * A detector is a pure, keyed state machine over event time: `step(state, event, ctx)` returns the
 * key's next state and its findings. No clock, no I/O, no module-level mutable state. The runtime
 * owns storage, eviction, partitioning, changelogs, ids and sinks.
 */
import type { z } from 'zod';
import type { AccessEvent } from '../../schemas/event.js';

export type { Severity, RevocationScope } from '../../schemas/denylist.js';
import type { Severity, RevocationScope } from '../../schemas/denylist.js';
export type DetectorAction = 'alert' | 'revoke';

/** A resolved location of a request (from the event's `geo` or the GeoIP/ASN databases). */
export interface Location {
  lat: number;
  lon: number;
  /** accuracy radius, km (0 when unknown) */
  accuracyKm: number;
  country?: string;
  city?: string;
}

/** Network facts about the client address, computed by the runtime before detectors run. */
export interface NetworkInfo {
  /** IPv4 /24 or IPv6 /48 prefix, e.g. `203.0.113.0/24`; the trusted-egress CIDR when it matched one */
  net: string;
  /** autonomous system number, when known */
  asn?: number;
  /** AS organisation, when known */
  asOrg?: string;
  /** private, loopback, link-local, CGNAT or otherwise reserved address: never a location */
  reserved: boolean;
  /** address is in a configured trusted proxy / egress CIDR or allowlisted ASN */
  trusted: boolean;
  /** anonymiser / relay / satellite / hosting network (VPN, Tor, iCloud Private Relay, Starlink...) */
  anonymous: boolean;
  /** why `anonymous` is set, for the evidence */
  anonymousReason?: string;
}

/** Where the event came from: Kafka coordinates, or the line of a replay file. */
export interface SourceRef {
  topic: string;
  partition: number;
  offset: string;
}

/** What a detector sees: the canonical event plus the runtime's enrichment. */
export interface EnrichedEvent extends AccessEvent {
  network: NetworkInfo;
  /** undefined when the address cannot form a location (reserved, trusted, unknown, too coarse is decided by the detector) */
  location?: Location;
  source?: SourceRef;
}

export interface Revocation {
  scope: RevocationScope;
  id: string;
  /** credential expiry (epoch ms) when known; the runtime applies the configured TTL otherwise */
  expiresAtMs?: number;
}

/** One thing a detector found. The runtime derives ids, timestamps, source and action. */
export interface Finding {
  severity: Severity;
  /** short human sentence, no secrets: fingerprints only */
  summary: string;
  /** the event that triggered the finding (its id makes the alert id deterministic) */
  trigger: EnrichedEvent;
  /** distinguishes several findings triggered by one event under one key (e.g. scope) */
  discriminator?: string;
  /** ids of the events that make the evidence, trigger included */
  eventIds: string[];
  /** source offsets of those events, where known */
  sources?: SourceRef[];
  ips: string[];
  countries: string[];
  asns: number[];
  /** detector-specific facts: speeds, distances, radii, networks, Δt, counts, baseline... */
  evidence: Record<string, unknown>;
  /** what to revoke if the response policy allows it; empty for alert-only findings */
  revocations: Revocation[];
  /** set when the detector itself wants this finding alert-only (e.g. subject-level travel) */
  alertOnly?: boolean;
}

export interface DetectorMeta {
  /** stable id, equal to the folder name; never reused */
  id: string;
  title: string;
  severity: Severity;
  defaultAction: DetectorAction;
  /** known benign situations that can trigger it */
  falsePositives: string[];
  references: string[];
  /** experimental detectors are shipped alert-only by default */
  experimental?: boolean;
}

/** Read-only view of the detector's alias table (seen-before index kept by the runtime). */
export type AliasLookup = (alias: string) => string | undefined;

export interface StepContext<C> {
  config: C;
  /** the state key this step runs for */
  key: string;
  /** the highest event time the runtime has seen on this partition, ms */
  watermarkMs: number;
}

export interface StepResult<S> {
  /** next state for the key; `undefined` deletes it */
  state: S | undefined;
  findings: Finding[];
  /** aliases to record: alias -> key (e.g. a newly issued refresh fingerprint -> its family key) */
  aliases?: Record<string, string>;
}

export interface DetectorCaseEvent {
  /** seconds relative to the case start (may be negative or out of order) */
  at: number;
  /** fields of the canonical event; the runner fills the rest with defaults */
  [field: string]: unknown;
}

export interface ExpectedFinding {
  severity?: Severity;
  /** the trigger event's id */
  trigger?: string;
  /** revocation keys `<scope>:<id>` that must all be present */
  revokes?: string[];
  /** substring of the summary */
  summaryIncludes?: string;
  alertOnly?: boolean;
}

export interface DetectorCase {
  name: string;
  /** fires: a true positive; quiet: a look-alike that must not fire; boundary: just under/over a threshold */
  kind: 'fires' | 'quiet' | 'boundary';
  /** config overrides for this case */
  config?: Record<string, unknown>;
  events: DetectorCaseEvent[];
  /** exactly the findings expected, in order; [] means none */
  expect: ExpectedFinding[];
}

export interface Detector<C = any, S = any> {
  meta: DetectorMeta;
  /** strict zod schema: every field has a default and a description; units in the names */
  config: z.ZodType<C>;
  /** state keys this event updates (empty: the detector ignores the event) */
  keys(event: EnrichedEvent, config: C, aliases: AliasLookup): string[];
  /** upper bound on how long (event-time ms) a key's state stays useful after its last event */
  stateTtlMs(config: C): number;
  /**
   * Advances one key's state by one event. Deterministic: no clock, no I/O, no module state. The
   * runtime hands each state value to exactly one `step` and keeps only the returned one, so `step`
   * may update `state` in place and return it (the hot path does; nothing else holds it).
   */
  step(state: S | undefined, event: EnrichedEvent, ctx: StepContext<C>): StepResult<S>;
  cases: DetectorCase[];
}

/** Identity helper that keeps a detector's config and state types inferred. */
export function defineDetector<C, S>(d: Detector<C, S>): Detector<C, S> {
  return d;
}
