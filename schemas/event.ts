/**
 * Canonical access event, schema v1 (DESIGN §2). Detectors see only this shape; adapters turn
 * gateway-specific log formats into it. The JSON Schema in `event.schema.json` is generated from
 * this file (`npm run schema:gen`) and a test fails when it is stale.
 */
import { z } from 'zod';

/** Maximum accepted size of one Kafka message value, in bytes (DESIGN §2). */
export const MAX_EVENT_BYTES = 64 * 1024;

/**
 * Latest accepted event time: 9999-12-31T23:59:59.999Z, the last instant an RFC 3339 timestamp
 * (four-digit year) can name. Any epoch-ms value up to it formats with `toISOString()` and fits
 * ClickHouse's date types; `src/ingest/decode.ts` applies the tighter plausibility bounds (year 2000 ..
 * wall clock + skew) with a reason code of its own.
 */
export const MAX_TS_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Latest accepted credential expiry, epoch seconds (9999-12-31T23:59:59Z). `exp * 1000` becomes a
 * denylist `expires_at` (`new Date(...).toISOString()`), which throws past year 275,760 and writes
 * a six-digit `+YYYYYY` year past 9999: one event must not be able to do either. A producer that
 * writes epoch milliseconds here (≈ 1.8e12) is rejected too instead of being read as year ~58,000.
 */
export const MAX_EXP_SEC = Math.floor(MAX_TS_MS / 1000);

export const CREDENTIAL_TYPES = ['access_token', 'refresh_token', 'api_key', 'session'] as const;

const fingerprint = z
  .string()
  .min(16)
  .max(128)
  .regex(/^\S+$/, 'must not contain whitespace')
  .describe(
    'Credential fingerprint (scheme tfp1: "tfp1:" + 22 chars of base64url HMAC-SHA-256). Never the credential: tokenwatch dead-letters an event whose fingerprint fields do not match ^tfp1:[A-Za-z0-9_-]{22}$ (reason fp_not_fingerprint).',
  );

const optionalId = z.string().min(1).max(256);

/**
 * RFC 3339 timestamp string or epoch milliseconds, normalised to UTC epoch milliseconds; both
 * bounded to 1970-01-01 .. 9999-12-31 (an offset can push a string past either end).
 */
const timestamp = z.union([
  z.iso
    .datetime({ offset: true, local: false })
    .refine((s) => {
      const t = Date.parse(s);
      return t >= 0 && t <= MAX_TS_MS;
    }, 'must lie between 1970-01-01 and 9999-12-31 UTC')
    .describe('RFC 3339 timestamp'),
  z.number().int().min(0).max(MAX_TS_MS).describe('epoch milliseconds'),
]);

export const GeoSchema = z
  .object({
    lat: z.number().min(-90).max(90),
    lon: z.number().min(-180).max(180),
    accuracy_km: z.number().min(0).optional().describe('accuracy radius of the location, km'),
    country: z.string().min(2).max(64).optional(),
    asn: z.number().int().min(0).max(4294967295).optional(),
    city: z.string().max(256).optional(),
  })
  .describe('Gateway-side geolocation; when absent tokenwatch looks the IP up in its GeoIP/ASN databases');

export const CredentialSchema = z.object({
  type: z.enum(CREDENTIAL_TYPES),
  fp: fingerprint,
  sub: optionalId.optional().describe('subject (user id)'),
  client_id: optionalId.optional().describe('OAuth client id'),
  sid: optionalId.optional().describe('session / token-family id'),
  key_id: optionalId.optional().describe('public API-key id'),
  jti: optionalId.optional().describe('JWT id'),
  exp: z.number().int().min(0).max(MAX_EXP_SEC).optional().describe('credential expiry, epoch seconds (at most 9999-12-31T23:59:59Z)'),
});

export const RefreshSchema = z.object({
  issued_fp: fingerprint.optional().describe('fingerprint of the new refresh token issued by this exchange'),
  issued_access_fp: fingerprint.optional().describe('fingerprint of the access token issued by this exchange'),
});

export const AccessEventInputSchema = z.object({
  v: z.literal(1),
  id: z.string().min(1).max(128),
  ts: timestamp,
  ip: z.union([z.ipv4(), z.ipv6()]).describe('client address after trusted-proxy resolution, no port'),
  method: z.string().min(1).max(32),
  route: z.string().min(1).max(2048),
  status: z.number().int().min(100).max(599),
  gateway: z.string().max(256).optional(),
  tenant: z.string().max(256).optional(),
  ua: z.string().max(1024).optional(),
  cred: CredentialSchema,
  refresh: RefreshSchema.optional(),
  geo: GeoSchema.optional(),
});

/** What producers send. */
export type AccessEventInput = z.input<typeof AccessEventInputSchema>;

/** The validated event, `ts` normalised to UTC epoch milliseconds. */
export const AccessEventSchema = AccessEventInputSchema.transform((e) => ({
  ...e,
  ts: typeof e.ts === 'number' ? e.ts : Date.parse(e.ts),
}));

export type AccessEvent = z.output<typeof AccessEventSchema>;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];
export type Geo = z.infer<typeof GeoSchema>;
