/**
 * `key_spike` — per-API-key request-rate spike (DESIGN §4).
 *
 * Requests presenting an API key (`cred.type = api_key`, identified by `cred.key_id`, else by the
 * key's fingerprint) are counted in 1-minute event-time buckets, per key and per key × route. A
 * minute fires when its running count exceeds
 *
 *     threshold = max(minRatePerMin, baseline + spreadK·spread, baselineRatio·baseline)
 *
 * where baseline and spread come from the key's own closed minutes (EWMA mean and standard
 * deviation, spread at least the Poisson √baseline), or — for a key too young to have
 * `minHistoryMin` minutes of history — from the population prior of its tenant. It is evaluated on
 * every event, so a flood fires within the minute it crosses the threshold, and at most once per
 * episode: an episode is a run of minutes in which the key or one of its routes is over threshold,
 * and the next finding needs a minute in between that stayed under.
 *
 * State keys (a step sees only its own key's state, so the design splits the work):
 *   - `key:<tenant>:<keyId>` — the key's baseline (total and up to `maxRoutesPerKey` routes) and
 *     episode. Judges the key once it has `minHistoryMin` minutes of history.
 *   - `tenant:<tenant>` — the tenant's population prior and a bounded map (`maxKeysPerTenant`) of
 *     the keys it has seen, with their open minutes' counts. Judges keys that are new (first seen
 *     at least `minHistoryMin` after the tenant state started, and younger than `minHistoryMin`).
 * Both use the same first-seen minute, so exactly one of them judges a given minute of a key (short
 * of the tenant map forgetting a key past its cap, see the README).
 */
import { type DetectorCase, defineDetector } from '../../src/detect/contract.js';
import { cases } from './cases.js';
import { type KeySpikeConfig, configSchema } from './config.js';
import { DETECTOR_ID, KeySpikeState, MINUTE_MS, STATE_LAYOUT, upgradeState } from './state.js';
import { enc, keyIdentity } from './minutes.js';
import { stepKey } from './series.js';
import { stepTenant } from './tenant.js';

export { keyIdentity, normaliseRoute, threshold, type Threshold, type ThresholdTerm } from './minutes.js';
export {
  DETECTOR_ID,
  HOT_CLIP_SPREADS,
  MINUTE_MS,
  SAMPLE_VALUES,
  STATE_LAYOUT,
  TENANT_SHARDS,
  upgradeState,
  type KeySpikeState,
  type KeyState,
  type OpenMinute,
  type Sample,
  type Series,
  type TenantKey,
  type TenantMinute,
  type TenantPrior,
  type TenantState,
} from './state.js';

export const detector = defineDetector<KeySpikeConfig, KeySpikeState>({
  meta: {
    id: DETECTOR_ID,
    title: 'Per-API-key request spike',
    severity: 'high',
    defaultAction: 'alert',
    falsePositives: [
      'A batch job, backfill or load test run with a production key (ignoreKeyIds, or raise minRatePerMin)',
      'A periodic job whose runs are further apart than the baseline memory (roughly an hour): the first minute of each run is judged against an idle baseline',
      'A client retry storm after an outage of the API or of the client itself (the key really does send 10× its usual traffic)',
      'A new key used from 3 or more networks (ASNs, else /24s) at a high rate from its first minute, judged against the tenant prior: e.g. a key shipped in a mobile or browser client (a new integration going live from one or two networks stays quiet, newKeyMinNetworks)',
      'A launch or marketing event that multiplies traffic in one step rather than as a ramp',
    ],
    references: [
      'https://owasp.org/API-Security/editions/2023/en/0xa4-unrestricted-resource-consumption/',
      'https://owasp.org/API-Security/editions/2023/en/0xa2-broken-authentication/',
      'https://attack.mitre.org/techniques/T1078/004/',
      'https://attack.mitre.org/techniques/T1552/001/',
      'https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc324.htm',
      'https://fanf2.user.srcf.net/hermes/doc/antiforgery/stats.pdf',
    ],
  },
  config: configSchema,

  keys(event, config) {
    if (event.cred.type !== 'api_key') return [];
    if (config.ignoreStatusCodes.includes(event.status)) return [];
    const { keyId } = keyIdentity(event);
    if (config.ignoreKeyIds.includes(keyId)) return [];
    const tenant = enc(event.tenant ?? '');
    const keys = [`key:${tenant}:${enc(keyId)}`];
    if (config.tenantPriorEnabled) keys.push(`tenant:${tenant}`);
    return keys;
  },

  stateTtlMs(config) {
    return config.stateIdleTtlMin * MINUTE_MS;
  },

  step(prev, event, ctx) {
    const st = prev === undefined || prev.v === STATE_LAYOUT ? prev : upgradeState(prev);
    if (ctx.key.startsWith('tenant:')) {
      return stepTenant(st?.kind === 'tenant' ? st : undefined, event, ctx.config);
    }
    return stepKey(st?.kind === 'key' ? st : undefined, event, ctx.config);
  },

  cases: cases as DetectorCase[],
});

export default detector;
