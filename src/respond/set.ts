/**
 * Security Event Tokens (RFC 8417) for revocations: each denylist record can also be published as a
 * SET to a second topic (`TOKENWATCH_SET_TOPIC`), so an identity provider or a Shared Signals
 * receiver learns about it in a standard shape.
 *
 * - `family` (session / token family) and `subject` revocations are CAEP `session-revoked` events;
 *   `token` and `api_key` revocations are RISC `credential-compromise` events.
 * - `sub_id` is an RFC 9493 subject identifier: `opaque` for fingerprints, session ids and key ids,
 *   `iss_sub` for a subject when the subject's issuer is configured (`opaque` otherwise).
 * - `jti` is derived from the revocation id and `iat` is the revocation time, so a replayed
 *   revocation yields the same SET claims (receivers deduplicate on `jti`).
 * - Signed with HS256 (shared secret), ES256 (EC P-256 key) or RS256 (RSA key) through node:crypto
 *   when `TOKENWATCH_SET_SIGNING_KEY` is set; an unsigned JWT (`alg: none`) otherwise.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { denylistKey, type DenylistRecord } from '../../schemas/denylist.js';
import type { BusRecord, TopicSpec } from '../io/bus.js';
import { TokenwatchError } from '../../schemas/errors.js';

export const CAEP_SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const RISC_CREDENTIAL_COMPROMISE = 'https://schemas.openid.net/secevent/risc/event-type/credential-compromise';
/** JOSE `typ` of a SET (RFC 8417 §2.3). */
export const SET_TYP = 'secevent+jwt';
/** Media type of a SET, sent as the Kafka record's `content-type` header. */
export const SET_CONTENT_TYPE = 'application/secevent+jwt';

export type SetAlg = 'HS256' | 'ES256' | 'RS256' | 'none';

/** RFC 9493 subject identifier (the formats tokenwatch emits). */
export type SubjectIdentifier = { format: 'opaque'; id: string } | { format: 'iss_sub'; iss: string; sub: string };

export interface SetHeader {
  alg: SetAlg;
  typ: typeof SET_TYP;
  kid?: string;
}

export interface SetClaims {
  iss: string;
  iat: number;
  jti: string;
  aud?: string | string[];
  /** the alert that caused the revocation: SETs of one alert share it */
  txn: string;
  sub_id: SubjectIdentifier;
  events: Record<string, Record<string, unknown>>;
  /** the denylist record itself (DESIGN §6), for receivers that want every detail */
  tokenwatch_revocation: DenylistRecord;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function fail(setting: string, expected: string): never {
  throw new TokenwatchError('CONFIG_INVALID', `${setting} must be ${expected}`);
}

/**
 * The key SETs are signed with. Never serialised: `toJSON()` shows the algorithm and key id only,
 * so printing or logging the config cannot leak it.
 */
export class SetSigner {
  private constructor(
    readonly alg: Exclude<SetAlg, 'none'>,
    private readonly key: KeyObject | Buffer,
    /** RFC 7638 thumbprint of the public key (asymmetric keys only) */
    readonly kid?: string,
  ) {}

  /**
   * Builds a signer from the `TOKENWATCH_SET_SIGNING_KEY` value: a PEM private key (EC P-256 →
   * ES256, RSA ≥ 2048 bits → RS256), the path of a file holding one or holding an HMAC secret, or an
   * HMAC secret itself (HS256, at least 32 bytes). Throws CONFIG_INVALID naming the setting; the
   * value is never shown.
   */
  static fromSetting(raw: string, setting = 'TOKENWATCH_SET_SIGNING_KEY'): SetSigner {
    let text = raw;
    const looksLikePath = /^(\/|\.{1,2}\/|~\/)/.test(raw);
    if (!raw.startsWith('-----BEGIN') && (looksLikePath || existsSync(raw))) {
      const path = raw.replace(/^~\//, `${process.env.HOME ?? ''}/`);
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        fail(setting, `a PEM private key, an HMAC secret of at least 32 bytes, or the path of a readable file holding one (cannot read ${raw}: ${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    const trimmed = text.trim();
    if (trimmed.startsWith('-----BEGIN')) {
      let key: KeyObject;
      try {
        key = createPrivateKey(trimmed.replace(/\\n/g, '\n'));
      } catch {
        fail(setting, 'a valid PEM private key (PKCS#8, SEC1 or PKCS#1); a public key or certificate cannot sign (value not shown)');
      }
      const type = key.asymmetricKeyType;
      if (type === 'ec') {
        if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') fail(setting, 'an EC key on P-256 (prime256v1) for ES256 (value not shown)');
        return new SetSigner('ES256', key, thumbprint(createPublicKey(key)));
      }
      if (type === 'rsa') {
        if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) fail(setting, 'an RSA key of at least 2048 bits for RS256 (value not shown)');
        return new SetSigner('RS256', key, thumbprint(createPublicKey(key)));
      }
      fail(setting, `an EC P-256 or RSA private key (got a ${type ?? 'unknown'} key)`);
    }
    const secret = Buffer.from(trimmed, 'utf8');
    if (secret.length < 32) fail(setting, 'an HMAC secret of at least 32 bytes for HS256, a PEM private key, or the path of a file holding one (value not shown)');
    return new SetSigner('HS256', secret);
  }

  /** Signs a JWS signing input (`base64url(header).base64url(payload)`); returns the base64url signature. */
  sign(signingInput: string): string {
    const data = Buffer.from(signingInput, 'ascii');
    if (this.alg === 'HS256') return createHmac('sha256', this.key as Buffer).update(data).digest('base64url');
    if (this.alg === 'ES256') return cryptoSign('sha256', data, { key: this.key as KeyObject, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    return cryptoSign('sha256', data, this.key as KeyObject).toString('base64url');
  }

  /** The public JWK receivers verify with (asymmetric keys only; undefined for HS256). */
  publicJwk(): Record<string, unknown> | undefined {
    if (this.alg === 'HS256') return undefined;
    return { ...createPublicKey(this.key as KeyObject).export({ format: 'jwk' }), kid: this.kid, alg: this.alg, use: 'sig' };
  }

  toJSON(): { alg: string; kid?: string } {
    return this.kid ? { alg: this.alg, kid: this.kid } : { alg: this.alg };
  }
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key. */
export function thumbprint(pub: KeyObject): string {
  const jwk = pub.export({ format: 'jwk' }) as Record<string, string>;
  const members = jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['e', 'kty', 'n'];
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

/** SET settings (`Config.set`). */
export interface SetOptions {
  /** topic the SETs go to; empty = SETs off (`TOKENWATCH_SET_TOPIC`) */
  topic?: string;
  /** `iss` of every SET (`TOKENWATCH_SET_ISSUER`) */
  issuer: string;
  /** `aud`: omitted when empty, a string for one, an array for several (`TOKENWATCH_SET_AUDIENCE`) */
  audience: string[];
  /** issuer of the subjects (`TOKENWATCH_SET_SUBJECT_ISSUER`): subjects become `iss_sub` identifiers */
  subjectIssuer?: string;
  /** signs the SETs; unsigned (`alg: none`) without one (`TOKENWATCH_SET_SIGNING_KEY`) */
  signer?: SetSigner;
}

/** Deterministic `jti` of the SET of one revocation. */
export function setJti(revocationId: string): string {
  return createHash('sha256').update(`set/v1\u0000${revocationId}`).digest('hex').slice(0, 32);
}

/** The RFC 9493 subject identifier of a revocation. */
export function subjectIdentifier(record: DenylistRecord, subjectIssuer?: string): SubjectIdentifier {
  if (record.scope === 'subject' && subjectIssuer) return { format: 'iss_sub', iss: subjectIssuer, sub: record.id };
  return { format: 'opaque', id: record.id };
}

/** The claims of the SET of one denylist record. */
export function setClaims(record: DenylistRecord, opts: SetOptions): SetClaims {
  const eventTimestamp = Math.floor(Date.parse(record.revoked_at) / 1000);
  const reasonAdmin = { en: `tokenwatch ${record.reason} (${record.severity}): ${record.scope} revoked, alert ${record.alert_id}` };
  const session = record.scope === 'family' || record.scope === 'subject';
  const event: SetClaims['events'] = session
    ? { [CAEP_SESSION_REVOKED]: { event_timestamp: eventTimestamp, initiating_entity: 'policy', reason_admin: reasonAdmin } }
    : {
        [RISC_CREDENTIAL_COMPROMISE]: {
          // RISC lets transmitter and receiver agree on further credential types; these two are tokenwatch's
          credential_type: record.scope === 'api_key' ? 'api-key' : 'bearer-token',
          event_timestamp: eventTimestamp,
          reason_admin: reasonAdmin,
        },
      };
  const claims: SetClaims = {
    iss: opts.issuer,
    iat: eventTimestamp,
    jti: setJti(record.revocation_id),
    txn: record.alert_id,
    sub_id: subjectIdentifier(record, opts.subjectIssuer),
    events: event,
    tokenwatch_revocation: record,
  };
  if (opts.audience.length === 1) claims.aud = opts.audience[0]!;
  else if (opts.audience.length > 1) claims.aud = [...opts.audience];
  return claims;
}

/** Serialises claims as a compact JWS (signed) or an unsigned JWT (`alg: none`, empty signature). */
export function encodeSet(claims: SetClaims, signer?: SetSigner): string {
  const header: SetHeader = { alg: signer?.alg ?? 'none', typ: SET_TYP };
  if (signer?.kid) header.kid = signer.kid;
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${signer ? signer.sign(input) : ''}`;
}

/** The SET of one denylist record as a Kafka record: key `<scope>:<id>`, value the compact JWT. */
export function setRecordFor(record: DenylistRecord, opts: SetOptions): { key: string; value: string } {
  return { key: denylistKey(record.scope, record.id), value: encodeSet(setClaims(record, opts), opts.signer) };
}

/**
 * The record to publish next to a denylist record, or undefined when SETs are off. The pipeline
 * calls this once per published revocation.
 */
export function setBusRecord(opts: SetOptions, record: DenylistRecord): BusRecord | undefined {
  if (!opts.topic) return undefined;
  const r = setRecordFor(record, opts);
  return { topic: opts.topic, key: r.key, value: r.value, headers: { 'content-type': SET_CONTENT_TYPE } };
}

/** The SET topic to create at start-up (none when SETs are off). An event stream: not compacted. */
export function setTopicSpecs(opts: SetOptions): TopicSpec[] {
  return opts.topic ? [{ topic: opts.topic, partitions: 3 }] : [];
}

/** Splits a compact SET into its header and claims without verifying it. */
export function decodeSet(jwt: string): { header: SetHeader; claims: SetClaims; signingInput: string; signature: string } {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw new Error('a SET has three dot-separated parts');
  const [h, p, s] = parts as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as SetHeader,
    claims: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as SetClaims,
    signingInput: `${h}.${p}`,
    signature: s,
  };
}

/**
 * Verifies a SET's signature with an HMAC secret (HS256) or a public key (ES256 / RS256) and
 * returns its claims. Unsigned SETs are rejected. For receivers and tests.
 */
export function verifySet(jwt: string, key: KeyObject | string | Buffer): SetClaims {
  const { header, claims, signingInput, signature } = decodeSet(jwt);
  if (header.typ !== SET_TYP) throw new Error(`typ must be ${SET_TYP}`);
  const data = Buffer.from(signingInput, 'ascii');
  const sig = Buffer.from(signature, 'base64url');
  let ok: boolean;
  if (header.alg === 'HS256') {
    const k = typeof key === 'string' || Buffer.isBuffer(key) ? Buffer.from(key) : key.export();
    const want = createHmac('sha256', k).update(data).digest();
    ok = want.length === sig.length && timingSafeEqual(want, sig);
  } else if (header.alg === 'ES256') {
    ok = cryptoVerify('sha256', data, { key: typeof key === 'object' && !Buffer.isBuffer(key) ? key : createPublicKey(key), dsaEncoding: 'ieee-p1363' }, sig);
  } else if (header.alg === 'RS256') {
    ok = cryptoVerify('sha256', data, typeof key === 'object' && !Buffer.isBuffer(key) ? key : createPublicKey(key), sig);
  } else {
    throw new Error(`unsupported or unsigned SET (alg ${header.alg})`);
  }
  if (!ok) throw new Error('SET signature does not verify');
  return claims;
}
