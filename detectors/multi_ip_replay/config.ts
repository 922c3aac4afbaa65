/**
 * Configuration of `multi_ip_replay`. The schema is the documentation: every field has a default,
 * a description and its unit in the name.
 */
import { z } from 'zod';
import { CREDENTIAL_TYPES } from '../../schemas/event.js';

export const configSchema = z
  .object({
    windowSec: z
      .number()
      .int()
      .min(10)
      .max(86_400)
      .default(300)
      .describe('Sliding event-time window per credential, seconds. Default 300 (5 min, DESIGN §4).'),
    minAlternations: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(3)
      .describe(
        'Concurrency rule: fire when the time-ordered requests in the window switch between networks at least this ' +
          'many times (A B A B = 3). A hand-off switches once or twice (A A B B, A B A). Default 3.',
      ),
    minSpreadAsns: z
      .number()
      .int()
      .min(2)
      .max(1_000)
      .default(3)
      .describe(
        'Spread rule: fire when the window holds at least this many distinct known ASNs, interleaving or not. ' +
          'Trusted egress and networks of unknown ASN never count. Default 3.',
      ),
    maxEventsPerKey: z
      .number()
      .int()
      .min(4)
      .max(10_000)
      .default(200)
      .describe('Cap on requests remembered per credential (the newest by event time are kept). Default 200.'),
    credentialTypes: z
      .array(z.enum(CREDENTIAL_TYPES))
      .min(1)
      .default(['access_token', 'api_key', 'session'])
      .describe(
        'Credential types watched. refresh_token is left out by default: it is presented only to the token ' +
          'endpoint and its reuse is owned by refresh_reuse, which revokes the whole family.',
      ),
    ignoreStatusCodes: z
      .array(z.number().int().min(100).max(599))
      .default([401])
      .describe(
        'Response statuses whose requests are ignored: the gateway rejected the credential (expired, invalid or ' +
          'already revoked), so they show no use of a live credential. Default [401].',
      ),
    raiseSeverityOnUaChange: z
      .boolean()
      .default(true)
      .describe('Raise severity high → critical when the user agent differs between networks. Default true.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.maxEventsPerKey <= c.minAlternations) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxEventsPerKey'],
        message:
          `maxEventsPerKey (${c.maxEventsPerKey}) must be greater than minAlternations (${c.minAlternations}): ` +
          `seeing N alternations needs N + 1 remembered requests`,
      });
    }
  });

export type MultiIpReplayConfig = z.infer<typeof configSchema>;
