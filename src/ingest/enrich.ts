/**
 * Enrichment: turns a validated event into what detectors see (network facts and a location).
 * Runs once per event before any detector, so every detector agrees on networks and places.
 */
import { z } from 'zod';
import type { AccessEvent } from '../../schemas/event.js';
import type { EnrichedEvent, Location, NetworkInfo, SourceRef } from '../detect/contract.js';
import { CidrSet, isReservedIp, networkPrefix } from './net.js';

/** A GeoIP/ASN database (see src/ingest/geoip); absent when none is configured. */
export interface GeoLookup {
  city(ip: string): Location | undefined;
  asn(ip: string): { asn: number; org?: string } | undefined;
}

export interface EnrichOptions {
  /** trusted proxy / egress CIDRs: they count as one network and never form a location */
  trustedCidrs: readonly string[];
  /** ASNs that never form a location (e.g. the company's own egress) */
  allowlistAsns: readonly number[];
  /** anonymiser / relay / satellite ASNs: not cached as a last location, findings downgraded */
  anonymousAsns: readonly number[];
  /** anonymiser CIDRs (e.g. Tor exits, VPN ranges), same treatment as anonymousAsns */
  anonymousCidrs: readonly string[];
  geo?: GeoLookup;
}

/**
 * Well-known relay / satellite networks whose addresses do not say where the user is.
 * 14593 Starlink; 36183 Akamai (iCloud Private Relay egress); 54113 Fastly (iCloud Private Relay).
 */
export const DEFAULT_ANONYMOUS_ASNS = [14593, 36183, 54113] as const;

/** Network part of the config file: what the enricher treats as one network, never a location, or anonymous. */
export const NetworkConfigSchema = z
  .object({
    trustedCidrs: z.array(z.string()).default([]).describe('trusted proxy / egress CIDRs'),
    allowlistAsns: z.array(z.number().int()).default([]).describe('ASNs that never form a location'),
    anonymousAsns: z
      .array(z.number().int())
      .default([...DEFAULT_ANONYMOUS_ASNS])
      .describe('anonymiser / relay / satellite ASNs'),
    anonymousCidrs: z.array(z.string()).default([]).describe('anonymiser CIDRs (Tor exits, VPN ranges)'),
  })
  .strict();

export type NetworkConfig = z.infer<typeof NetworkConfigSchema>;

export class Enricher {
  private readonly trusted: CidrSet;
  private readonly anonymousCidrs: CidrSet;
  private readonly allowAsns: Set<number>;
  private readonly anonAsns: Set<number>;

  constructor(private readonly opts: EnrichOptions) {
    this.trusted = new CidrSet(opts.trustedCidrs);
    this.anonymousCidrs = new CidrSet(opts.anonymousCidrs);
    this.allowAsns = new Set(opts.allowlistAsns);
    this.anonAsns = new Set(opts.anonymousAsns);
  }

  enrich(e: AccessEvent, source?: SourceRef): EnrichedEvent {
    const reserved = isReservedIp(e.ip);
    const trustedCidr = this.trusted.match(e.ip);
    let asn = e.geo?.asn;
    let asOrg: string | undefined;
    if (asn === undefined && !reserved && this.opts.geo) {
      const a = this.opts.geo.asn(e.ip);
      if (a) {
        asn = a.asn;
        asOrg = a.org;
      }
    }
    const allowlisted = asn !== undefined && this.allowAsns.has(asn);
    let anonymousReason: string | undefined;
    if (asn !== undefined && this.anonAsns.has(asn)) anonymousReason = `anonymous/relay ASN ${asn}`;
    else if (this.anonymousCidrs.has(e.ip)) anonymousReason = 'anonymous/relay CIDR';
    const network: NetworkInfo = {
      net: trustedCidr ?? networkPrefix(e.ip),
      asn,
      asOrg,
      reserved,
      trusted: trustedCidr !== undefined || allowlisted,
      anonymous: anonymousReason !== undefined,
      anonymousReason,
    };
    let location: Location | undefined;
    if (!reserved && !network.trusted) {
      if (e.geo) {
        location = {
          lat: e.geo.lat,
          lon: e.geo.lon,
          accuracyKm: e.geo.accuracy_km ?? 0,
          country: e.geo.country,
          city: e.geo.city,
        };
      } else if (this.opts.geo) {
        location = this.opts.geo.city(e.ip);
      }
    }
    const out: EnrichedEvent = { ...e, network, location };
    if (source) out.source = source;
    return out;
  }
}
