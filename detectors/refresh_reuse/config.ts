/**
 * Configuration of the `refresh_reuse` detector. The schema is the documentation: every field has
 * a default, a description and its unit in the name. Types are inferred, never written twice.
 */
import { z } from 'zod';

export const RefreshReuseConfigSchema = z
  .object({
    graceSec: z
      .number()
      .int()
      .min(0)
      .max(300)
      .default(30)
      .describe(
        'Seconds after a refresh token\'s first successful exchange during which presenting it again is tolerated as a ' +
          'client retry, but only when it is the immediately previous token (one rotation back) and the request comes ' +
          'from the same network (same ASN or same IPv4 /24 / IPv6 /48) as that exchange. 30 matches Okta\'s default ' +
          'grace period; set 0 to match Auth0\'s default (no leeway: every re-presentation is reuse). Inclusive bound.',
      ),
    maxGenerations: z
      .number()
      .int()
      .min(2)
      .max(1000)
      .default(50)
      .describe(
        'Generations of one token family kept in state; older generations are dropped first. A reuse of a dropped ' +
          'token is not detected and its fingerprints are not in the revocation list (family:<sid> still covers them). ' +
          'Bounds per-family state and the number of revocations one finding can emit (~2 per generation).',
      ),
    maxPresentationsPerToken: z
      .number()
      .int()
      .min(2)
      .max(1000)
      .default(10)
      .describe(
        'Presentations remembered per refresh token (its first successful exchange is always kept, then the newest). ' +
          'Bounds state when a revoked token is replayed over and over.',
      ),
    familyTtlSec: z
      .number()
      .int()
      .min(60)
      .max(366 * 86_400)
      .default(30 * 86_400)
      .describe(
        'Seconds a family\'s chain is remembered after its last refresh exchange: set it to the refresh-token lifetime ' +
          'of your identity provider. Default 30 days = Auth0\'s default rotating refresh-token lifetime and longer than ' +
          'Okta\'s default 7-day idle expiry; a rotated token cannot be replayed after the family has expired.',
      ),
  })
  .strict();

export type RefreshReuseConfig = z.infer<typeof RefreshReuseConfigSchema>;
