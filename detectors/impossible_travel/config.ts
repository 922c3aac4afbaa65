/**
 * Config of `impossible_travel`. The schema is the documentation: every field has a default, a
 * description and its unit in the name.
 */
import { z } from 'zod';
import { CREDENTIAL_TYPES } from '../../schemas/event.js';

export const ImpossibleTravelConfigSchema = z
  .object({
    maxSpeedKmh: z
      .number()
      .positive()
      .max(100_000)
      .default(1000)
      .describe(
        'km/h. A hop is impossible when its accuracy-adjusted speed is above this. 1000 (Datadog, Airlock); ' +
          'Panther uses 900 (airliner cruise). Also sets how long points are kept: ≈ 20 015 km / maxSpeedKmh.',
      ),
    minDistanceKm: z
      .number()
      .min(0)
      .default(500)
      .describe('km. Hops whose great-circle distance (before the accuracy adjustment) is not above this never fire. 500 (Datadog)'),
    maxAccuracyKm: z
      .number()
      .min(0)
      .default(200)
      .describe('km. Points whose accuracy radius is above this (country-level or coarser GeoIP answers) are skipped entirely. 200'),
    simultaneousSec: z
      .number()
      .min(0)
      .max(3600)
      .default(60)
      .describe(
        's. A firing hop with Δt at or below this is reported as "simultaneous use" (two clients at once, not travel); ' +
          'its speed is reported as null. 60: covers gateway clock skew and second-granular timestamps, ' +
          'and 60 s at 1000 km/h is 17 km, far below minDistanceKm',
      ),
    maxPoints: z
      .number()
      .int()
      .min(2)
      .max(64)
      .default(8)
      .describe('count. Recent distinct-location points kept per key (runs at one place keep only their first and last point). 8'),
    anonymousNetworks: z
      .enum(['downgrade', 'ignore'])
      .default('downgrade')
      .describe(
        'What a hop to or from an anonymiser / relay / satellite network does (such points are never cached either way). ' +
          'downgrade: severity low, alert only, reason in the evidence (default). ignore: no finding',
      ),
    subjectAlerts: z
      .boolean()
      .default(true)
      .describe('Also track each subject (tenant + cred.sub) across all of its credentials; those findings are alert-only, severity medium'),
    credentialTypes: z
      .array(z.enum(CREDENTIAL_TYPES))
      .min(1)
      .default(['access_token', 'refresh_token', 'session'])
      .describe(
        'Credential types checked. api_key is left out by default: one key shared by a multi-region server fleet ' +
          'is used from several continents at once by design',
      ),
  })
  .strict();

export type ImpossibleTravelConfig = z.infer<typeof ImpossibleTravelConfigSchema>;
