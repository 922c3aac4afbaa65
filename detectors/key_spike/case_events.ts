/**
 * Builder of the `key_spike` case events. Cases need hundreds of events, so they are described as
 * traffic per key and minute, evenly spread over each minute, merged in time order. Event ids read
 * `<tag>.m<minute>.<i>`: the i-th (0-based) event of that key (tag) whose event time falls in minute
 * <minute> of the case, in processing order — so a finding expected when the count of minute 10
 * reaches 101 has trigger `k1.m10.100`.
 */
import type { DetectorCase, DetectorCaseEvent } from '../../src/detect/contract.js';

export interface KeySpikeCase extends DetectorCase {
  /** for fires cases: event time (s) the attack starts; the finding must come within 120 s of it */
  attackStartSec?: number;
}

/** Who sends a stream of requests. */
export interface Sender {
  keyId: string;
  tenant?: string;
  route?: string;
  /** prefix of the event ids (default: keyId) */
  tag?: string;
  /** client addresses, used in turn */
  ips?: string[];
  /**
   * ASNs of those addresses, used in turn with them (what the enricher's ASN lookup would give;
   * set on the event's `network`). Without them the network is the address's /24 or /48.
   */
  asns?: number[];
  credType?: 'api_key' | 'access_token';
  /** omit cred.key_id (the key is then known by its fingerprint) */
  noKeyId?: boolean;
}

interface Item {
  at: number;
  s: Sender;
}

export const TENANT = 'acme';

/** A valid tfp1-shaped fingerprint for a test key id. */
export function fpOf(keyId: string): string {
  return `tfp1:${(keyId + '_'.repeat(22)).slice(0, 22)}`;
}

/** Builds the events of one case. */
export class CaseEvents {
  private items: Item[] = [];
  private inserts: Array<{ afterSec: number; items: Item[] }> = [];

  /** `counts[j]` requests in minute `fromMin + j`, evenly spread over that minute. */
  perMinute(s: Sender, counts: readonly number[], fromMin = 0): this {
    counts.forEach((n, j) => {
      for (let i = 0; i < n; i++) this.items.push({ at: (fromMin + j) * 60 + ((i + 0.5) * 60) / n, s });
    });
    return this;
  }

  /** `perMin` requests every minute for `minutes` minutes from minute `fromMin`. */
  steady(s: Sender, perMin: number, minutes: number, fromMin = 0): this {
    return this.perMinute(s, Array.from({ length: minutes }, () => perMin), fromMin);
  }

  /** Requests at `perMin` per minute, evenly spread over [fromSec, toSec). */
  rate(s: Sender, perMin: number, fromSec: number, toSec: number): this {
    const n = Math.round((perMin * (toSec - fromSec)) / 60);
    for (let i = 0; i < n; i++) this.items.push({ at: fromSec + ((i + 0.5) * (toSec - fromSec)) / n, s });
    return this;
  }

  /** Requests with the given event times, delivered (in this order) right after every request up to `afterSec`. */
  lateAfter(s: Sender, ats: readonly number[], afterSec: number): this {
    this.inserts.push({ afterSec, items: ats.map((at) => ({ at, s })) });
    return this;
  }

  build(): DetectorCaseEvent[] {
    const ordered = [...this.items].sort((a, b) => a.at - b.at);
    for (const ins of this.inserts) {
      let i = ordered.findIndex((it) => it.at > ins.afterSec);
      if (i < 0) i = ordered.length;
      ordered.splice(i, 0, ...ins.items);
    }
    const seq = new Map<string, number>();
    const sent = new Map<Sender, number>();
    return ordered.map(({ at, s }) => {
      const tag = s.tag ?? s.keyId;
      const bucket = `${tag}.m${Math.floor(at / 60)}`;
      const i = seq.get(bucket) ?? 0;
      seq.set(bucket, i + 1);
      const n = sent.get(s) ?? 0;
      sent.set(s, n + 1);
      const ips = s.ips ?? ['81.2.69.160'];
      const asn = s.asns?.[n % s.asns.length];
      return {
        at: Math.round(at * 1000) / 1000,
        id: `${bucket}.${i}`,
        ip: ips[n % ips.length]!,
        ...(asn !== undefined ? { network: { asn } } : {}),
        ...(s.route ? { route: s.route } : {}),
        ...(s.tenant === undefined ? { tenant: TENANT } : s.tenant === '' ? {} : { tenant: s.tenant }),
        cred: {
          type: s.credType ?? 'api_key',
          fp: fpOf(s.keyId),
          ...(s.noKeyId ? {} : { key_id: s.keyId }),
        },
      };
    });
  }
}

/**
 * An attacker hammering a leaked key from many networks at once: five hosting / VPN ASNs, one
 * address each (default newKeyMinNetworks is 3; the fifth request of a minute brings the fifth).
 */
export const hammered = (keyId: string, tag?: string): Sender => ({
  keyId,
  ...(tag ? { tag } : {}),
  ips: ['185.220.101.4', '45.155.205.17', '194.26.29.113', '89.248.165.52', '5.188.206.14'],
  asns: [60729, 49505, 206728, 202425, 49453],
});
