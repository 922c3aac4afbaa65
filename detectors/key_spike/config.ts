/**
 * Configuration of `key_spike`. The schema is the documentation: every field has a default, a
 * description and its unit in the name. Counts are per 1-minute event-time bucket.
 */
import { z } from 'zod';
import { SAMPLE_VALUES } from './state.js';

export const configSchema = z
  .object({
    minRatePerMin: z
      .number()
      .int()
      .min(1)
      .max(10_000_000)
      .default(60)
      .describe(
        'Floor of the threshold, requests per minute: a minute at or below it never fires, whatever the baseline. ' +
          'Keeps near-idle keys quiet. Default 60 (1 request/s).',
      ),
    spreadK: z
      .number()
      .min(0)
      .max(100)
      .default(6)
      .describe(
        'k in "baseline + k·spread": how many spreads (EWMA standard deviation, at least the Poisson √baseline) ' +
          'above the baseline a minute must be. Large for noisy keys, irrelevant for steady ones. Default 6.',
      ),
    baselineRatio: z
      .number()
      .min(1)
      .max(1_000)
      .default(5)
      .describe(
        'Ratio term: a minute must also exceed this multiple of the baseline. Rules out a steady key at 20/min firing ' +
          'at 60/min; a 10× leaked-key flood clears it with room to spare. Default 5.',
      ),
    baselineHalfLifeMin: z
      .number()
      .min(0.5)
      .max(1_440)
      .default(7)
      .describe(
        'Half-life of the per-key EWMA baseline (mean and variance of closed minutes), minutes. Short enough that ' +
          'a business ramp of +20 %/min stays under 3× its baseline, long enough that a flood does not become the ' +
          'baseline before it is reported. Default 7 (alpha ≈ 0.094 per minute).',
      ),
    minHistoryMin: z
      .number()
      .int()
      .min(1)
      .max(1_440)
      .default(5)
      .describe(
        'Minutes since a key (or a key × route) was first seen before its own baseline is used. Younger keys are ' +
          'judged against the tenant prior (see tenantPriorEnabled). Default 5.',
      ),
    allowedLatenessSec: z
      .number()
      .int()
      .min(0)
      .max(600)
      .default(30)
      .describe(
        'Event-time lateness, seconds: a minute stays open (late events still count in it) until an event of the ' +
          'same key (or tenant) is this much past its end; later events are counted as late and ignored. ' +
          'Default 30 (DESIGN §3).',
      ),
    perRouteEnabled: z
      .boolean()
      .default(true)
      .describe(
        'Also baseline each key × route and fire when one route of a key spikes (e.g. a scraper on an export ' +
          'endpoint the key rarely uses) while the key total stays normal. Default true.',
      ),
    maxRoutesPerKey: z
      .number()
      .int()
      .min(1)
      .max(1_000)
      .default(20)
      .describe('Cap on routes baselined per key; the least recently used route is forgotten past it. Default 20.'),
    normaliseRouteIds: z
      .boolean()
      .default(true)
      .describe(
        'Replace id-like path segments (digits, UUIDs, long hex) with {id} and drop the query string before ' +
          'baselining a route, so an untemplated route does not split into one route per id. Default true.',
      ),
    tenantPriorEnabled: z
      .boolean()
      .default(true)
      .describe(
        'Judge a new key (first seen less than minHistoryMin ago, in a tenant watched for at least minHistoryMin) ' +
          'against the population prior of its tenant: decayed median and MAD of the per-key request counts per ' +
          'minute. Adds a per-tenant state key. Default true.',
      ),
    priorMinKeyMinutes: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10)
      .describe(
        'Active key-minutes the tenant prior must have seen before it is used; until then new keys have no ' +
          'baseline and are not judged. Default 10.',
      ),
    newKeyMinNetworks: z
      .number()
      .int()
      .min(1)
      .max(SAMPLE_VALUES)
      .default(3)
      .describe(
        'Distinct networks (the ASN when known, else the IPv4 /24 or IPv6 /48; a trusted egress CIDR is one) a new ' +
          "key's over-threshold minute must come from before it fires against the tenant prior. A new deployment " +
          'going live at a high rate is one network (two for a company with two egress providers); a leaked key is ' +
          `hammered from many. Counted within the minute, up to ${SAMPLE_VALUES}; 1 turns the spread rule off. ` +
          'Keys judged by their own history are not affected. Default 3.',
      ),
    maxKeysPerTenant: z
      .number()
      .int()
      .min(10)
      .max(100_000)
      .default(2_000)
      .describe(
        'Cap on keys tracked in the tenant state (for the prior and to tell new keys from known ones); the least ' +
          'recently seen key is forgotten past it. Default 2000.',
      ),
    stateIdleTtlMin: z
      .number()
      .int()
      .min(1)
      .max(10_080)
      .default(60)
      .describe(
        'Minutes a key (or tenant) state is kept after its last event. After 60 idle minutes a 7-minute half-life ' +
          'EWMA keeps under 0.3 % of its weight, so nothing useful is lost; a key back after that is a new key ' +
          'again. Default 60.',
      ),
    ignoreKeyIds: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'API key ids (or fingerprints of keys without a key_id) never watched, e.g. load-test or bulk-export keys. ' +
          'Empty by default.',
      ),
    ignoreStatusCodes: z
      .array(z.number().int().min(100).max(599))
      .default([401])
      .describe(
        'Response statuses whose requests are not counted: 401 means the gateway rejected the key (unknown, ' +
          'expired or already revoked), which is not use of a live key. Default [401].',
      ),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.stateIdleTtlMin <= c.minHistoryMin) {
      ctx.addIssue({
        code: 'custom',
        path: ['stateIdleTtlMin'],
        message:
          `stateIdleTtlMin (${c.stateIdleTtlMin}) must be greater than minHistoryMin (${c.minHistoryMin}): ` +
          'a state dropped before it has minHistoryMin minutes of history never gets a baseline',
      });
    }
  });

export type KeySpikeConfig = z.infer<typeof configSchema>;
