/**
 * Cases of the new-key rule's network spread (issue 11): a brand-new key over the tenant prior's
 * threshold fires only when the minute comes from at least newKeyMinNetworks (3) distinct networks
 * — the ASN when known, else the /24 or /48. A new deployment going live is one network; a leaked
 * key is hammered from many.
 *
 * Every case has the same tenant: k1–k3 at 20/min from minute 0 (prior 20/min, MAD 0, threshold
 * max(60, 20 + 6·√20, 5·20) = 100), and the new key k9 first seen at minute 6. It is judged by the
 * prior in minutes 6–10 and by its own baseline from minute 11 (its 300/min minutes then put its
 * threshold at 1500, so a deployment that stays at 300/min stays quiet after the handover too).
 */
import { CaseEvents, type KeySpikeCase, type Sender, hammered } from './case_events.js';

/** The tenant's established keys, 20/min each for `minutes` minutes. */
function tenant(minutes: number): CaseEvents {
  const b = new CaseEvents();
  for (const keyId of ['k1', 'k2', 'k3']) b.steady({ keyId }, 20, minutes);
  return b;
}

/** A new integration behind one office / data-centre /24 (no ASN known). */
const oneNet: Sender = { keyId: 'k9', ips: ['81.2.69.160', '81.2.69.161', '81.2.69.170'] };
/** A new deployment behind one cloud ASN, from addresses in four /24s of it. */
const oneAsn: Sender = { keyId: 'k9', ips: ['52.94.10.7', '52.94.11.9', '54.239.5.20', '3.5.140.2'], asns: [16509, 16509, 16509, 16509] };
/** A company's egress through two providers: two ASNs. */
const twoAsns: Sender = { keyId: 'k9', ips: ['81.2.69.160', '195.66.90.65'], asns: [20712, 5400] };

export const networkCases: KeySpikeCase[] = [
  {
    name: 'new deployment: a brand-new key busy from its first minute (300/min, 3× the prior threshold) from one /24 stays quiet',
    kind: 'quiet',
    events: tenant(14).steady(oneNet, 300, 8, 6).build(),
    expect: [],
  },
  {
    name: 'new deployment behind one cloud ASN: 300/min from four /24s of the same AS is one network and stays quiet',
    kind: 'quiet',
    events: tenant(14).steady(oneAsn, 300, 8, 6).build(),
    expect: [],
  },
  {
    name: 'just under the spread: a brand-new key at 300/min from two ASNs (one company, two egress providers)',
    kind: 'boundary',
    events: tenant(14).steady(twoAsns, 300, 8, 6).build(),
    expect: [],
  },
  {
    name: 'just at the spread: two ASNs from the start, a third joins 30 s into the minute and the flood fires then',
    kind: 'boundary',
    events: tenant(14)
      .steady(twoAsns, 300, 1, 6)
      .rate({ keyId: 'k9', tag: 'k9c', ips: ['194.26.29.113'], asns: [206728] }, 60, 390, 420)
      .build(),
    // k9 has ~150 requests in the minute when the third network's first request arrives
    expect: [{ severity: 'high', trigger: 'k9c.m6.0', revokes: ['api_key:k9'], summaryIncludes: '3 networks, min 3' }],
  },
  {
    name: 'leaked new key hammered from five ASNs at 300/min fires once, at the 101st request of its first minute',
    kind: 'fires',
    events: tenant(14).steady(hammered('k9'), 300, 3, 6).build(),
    expect: [{ severity: 'high', trigger: 'k9.m6.100', revokes: ['api_key:k9'], summaryIncludes: 'new API key k9' }],
    attackStartSec: 360,
  },
  {
    name: 'a busy one-network new deployment is hammered from five ASNs from 30 s into its second minute: fires when the spread arrives',
    kind: 'fires',
    events: tenant(14).steady(oneNet, 300, 4, 6).rate(hammered('k9', 'k9x'), 300, 450, 600).build(),
    // minute 6 is over the rate from one network (no episode, so it does not hide minute 7); minute 7
    // is at ~150 requests from the deployment when the attacker's second request makes 3 networks
    expect: [{ severity: 'high', trigger: 'k9x.m7.1', revokes: ['api_key:k9'], summaryIncludes: '3 networks, min 3' }],
    attackStartSec: 450,
  },
];
