/**
 * key_spike — The finding a judged minute becomes: evidence, summary, severity, revocation.
 */
import { type EnrichedEvent, type Finding, type Revocation } from '../../src/detect/contract.js';
import { type KeySpikeConfig } from './config.js';
import { SAMPLE_IDS, SAMPLE_VALUES, Sample, TenantPrior } from './state.js';
import { Threshold, iso, keyIdentity, round2 } from './minutes.js';

export interface Judgement {
  scope: 'key' | 'key_route' | 'new_key';
  route?: string;
  minute: number;
  count: number;
  thr: Threshold;
  historyMinutes: number;
  prior?: TenantPrior;
  sample: Sample;
  /** the key's total in the minute, for a route finding */
  keyCount?: number;
  /** new-key rule: distinct networks counted in the minute (at most SAMPLE_VALUES) and the minimum */
  networks?: { counted: number; min: number };
}

export function buildFinding(e: EnrichedEvent, tenant: string, j: Judgement, cfg: KeySpikeConfig): Finding {
  const { keyId, fromFp } = keyIdentity(e);
  const s = j.sample;
  const eventIds = s.ids.includes(e.id) ? [...s.ids] : [...s.ids, e.id];
  const sources = [...s.src];
  if (e.source && !s.ids.includes(e.id)) sources.push(e.source);
  const ips = s.ips.includes(e.ip) ? [...s.ips] : [...s.ips, e.ip];
  const t = j.thr;
  const who = `${j.scope === 'new_key' ? 'new API key' : 'API key'} ${keyId}${tenant ? ` (tenant ${tenant})` : ''}`;
  const where = j.scope === 'key_route' ? ` on ${j.route}` : '';
  const basis =
    j.scope === 'new_key'
      ? `tenant prior ${round2(t.baselinePerMin)}/min from ${j.prior?.keyMinutes ?? 0} key-minutes` +
        (j.networks ? `; ${j.networks.counted} network${j.networks.counted === 1 ? '' : 's'}, min ${j.networks.min}` : '')
      : `baseline ${round2(t.baselinePerMin)}/min over ${j.historyMinutes} min`;
  const summary =
    `${who}${where}: ${j.count} requests in the minute from ${iso(j.minute).slice(11, 16)}Z, ` +
    `above ${round2(t.thresholdPerMin)}/min (${t.winner}; ${basis})`;

  const evidence: Record<string, unknown> = {
    scope: j.scope,
    tenant,
    keyId,
    keyIdSource: fromFp ? 'fingerprint' : 'key_id',
    credentialFp: e.cred.fp,
    minuteStart: iso(j.minute),
    secondsIntoMinute: round2((e.ts - j.minute) / 1000),
    count: j.count,
    baselinePerMin: round2(t.baselinePerMin),
    spreadPerMin: round2(t.spreadPerMin),
    spreadSource: t.spreadSource,
    ratioToBaseline: t.baselinePerMin > 0 ? round2(j.count / t.baselinePerMin) : null,
    thresholds: {
      minRatePerMin: round2(t.terms.minRatePerMin),
      baselinePlusKSpread: round2(t.terms.baselinePlusKSpread),
      ratioTimesBaseline: round2(t.terms.ratioTimesBaseline),
      thresholdPerMin: round2(t.thresholdPerMin),
      winner: t.winner,
    },
    historyMinutes: j.historyMinutes,
    priorUsed: j.scope === 'new_key',
    params: {
      spreadK: cfg.spreadK,
      baselineRatio: cfg.baselineRatio,
      baselineHalfLifeMin: cfg.baselineHalfLifeMin,
      minHistoryMin: cfg.minHistoryMin,
    },
    triggerRoute: e.route,
    sampledEvents: `first ${SAMPLE_IDS} of the minute + trigger`,
  };
  if (j.scope === 'key_route') {
    evidence.route = j.route;
    evidence.keyCountInMinute = j.keyCount;
  }
  if (j.networks) {
    evidence.networkSpread = {
      networks: j.networks.counted,
      newKeyMinNetworks: j.networks.min,
      countedUpTo: SAMPLE_VALUES,
      unit: 'ASN when known, else IPv4 /24 or IPv6 /48',
      sample: [...(s.nets ?? [])],
    };
  }
  if (j.prior) {
    evidence.prior = {
      medianPerMin: round2(j.prior.medianPerMin),
      spreadPerMin: round2(j.prior.spreadPerMin),
      keyMinutes: j.prior.keyMinutes,
      minutes: j.prior.minutes,
    };
  }

  const revocation: Revocation = fromFp ? { scope: 'token', id: e.cred.fp } : { scope: 'api_key', id: keyId };
  if (e.cred.exp !== undefined) revocation.expiresAtMs = e.cred.exp * 1000;

  return {
    severity: 'high',
    summary,
    trigger: e,
    discriminator: j.scope === 'key_route' ? `route:${j.route}` : j.scope,
    eventIds,
    ...(sources.length > 0 ? { sources } : {}),
    ips,
    countries: [...s.countries],
    asns: [...s.asns],
    evidence,
    revocations: [revocation],
  };
}
