import { describe, expect, it } from 'vitest';
import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { DenylistRecord } from '../../schemas/denylist.js';
import {
  CAEP_SESSION_REVOKED,
  RISC_CREDENTIAL_COMPROMISE,
  SetSigner,
  decodeSet,
  setBusRecord,
  setClaims,
  setJti,
  setRecordFor,
  setTopicSpecs,
  thumbprint,
  verifySet,
  type SetOptions,
} from '../../src/respond/set.js';
import { loadConfig } from '../../src/config/index.js';
import { defineDetector } from '../../src/detect/contract.js';

const rec = (over: Partial<DenylistRecord> = {}): DenylistRecord => ({
  v: 1,
  revocation_id: 'r0000000000000000000000000000001',
  scope: 'token',
  id: 'tfp1:AbCdEfGhIjKlMnOpQrStUv',
  tenant: 'acme',
  subject: 'user-42',
  reason: 'multi_ip_replay',
  alert_id: 'a0000000000000000000000000000001',
  severity: 'high',
  revoked_at: '2026-11-30T10:00:06.000Z',
  expires_at: '2026-11-30T10:15:00.000Z',
  ...over,
});

const base: SetOptions = { issuer: 'https://tokenwatch.example.com/', audience: [] };
const HMAC = 'an-hmac-secret-that-is-32-bytes-long!';

describe('Security Event Tokens (RFC 8417)', () => {
  it('an unsigned SET: typ secevent+jwt, alg none, empty signature, deterministic claims', () => {
    const { key, value } = setRecordFor(rec(), base);
    expect(key).toBe('token:tfp1:AbCdEfGhIjKlMnOpQrStUv');
    const { header, claims, signature } = decodeSet(value);
    expect(header).toEqual({ alg: 'none', typ: 'secevent+jwt' });
    expect(signature).toBe('');
    expect(value.endsWith('.')).toBe(true);
    expect(claims).toMatchObject({
      iss: 'https://tokenwatch.example.com/',
      iat: Date.UTC(2026, 10, 30, 10, 0, 6) / 1000,
      jti: setJti('r0000000000000000000000000000001'),
      txn: 'a0000000000000000000000000000001',
      sub_id: { format: 'opaque', id: 'tfp1:AbCdEfGhIjKlMnOpQrStUv' },
      tokenwatch_revocation: rec(),
    });
    expect(claims.aud).toBeUndefined();
    // same record → same SET; another revocation → another jti
    expect(setRecordFor(rec(), base).value).toBe(value);
    expect(setJti('r0000000000000000000000000000002')).not.toBe(claims.jti);
    expect(claims.jti).toMatch(/^[0-9a-f]{32}$/);
  });

  it('tokens and keys are RISC credential-compromise; families and subjects are CAEP session-revoked', () => {
    const token = setClaims(rec(), base);
    expect(Object.keys(token.events)).toEqual([RISC_CREDENTIAL_COMPROMISE]);
    expect(token.events[RISC_CREDENTIAL_COMPROMISE]).toMatchObject({ credential_type: 'bearer-token', event_timestamp: token.iat });
    const key = setClaims(rec({ scope: 'api_key', id: 'key-7' }), base);
    expect(key.events[RISC_CREDENTIAL_COMPROMISE]).toMatchObject({ credential_type: 'api-key' });
    expect(key.sub_id).toEqual({ format: 'opaque', id: 'key-7' });
    const family = setClaims(rec({ scope: 'family', id: 'sess-42' }), base);
    expect(Object.keys(family.events)).toEqual([CAEP_SESSION_REVOKED]);
    expect(family.events[CAEP_SESSION_REVOKED]).toMatchObject({ event_timestamp: family.iat, initiating_entity: 'policy' });
    expect(family.sub_id).toEqual({ format: 'opaque', id: 'sess-42' });
    const subject = setClaims(rec({ scope: 'subject', id: 'user-42' }), { ...base, subjectIssuer: 'https://idp.example.com/' });
    expect(Object.keys(subject.events)).toEqual([CAEP_SESSION_REVOKED]);
    expect(subject.sub_id).toEqual({ format: 'iss_sub', iss: 'https://idp.example.com/', sub: 'user-42' });
    expect(setClaims(rec({ scope: 'subject', id: 'user-42' }), base).sub_id).toEqual({ format: 'opaque', id: 'user-42' });
  });

  it('aud is a string for one audience and an array for several', () => {
    expect(setClaims(rec(), { ...base, audience: ['https://idp.example.com/'] }).aud).toBe('https://idp.example.com/');
    expect(setClaims(rec(), { ...base, audience: ['a', 'b'] }).aud).toEqual(['a', 'b']);
  });

  it('HS256: verifies with the secret, not with another, not after tampering', () => {
    const signer = SetSigner.fromSetting(HMAC);
    expect(signer.alg).toBe('HS256');
    const { value } = setRecordFor(rec(), { ...base, signer });
    expect(decodeSet(value).header).toEqual({ alg: 'HS256', typ: 'secevent+jwt' });
    const [h0, p0, s0] = value.split('.');
    expect(s0).toBe(createHmac('sha256', HMAC).update(`${h0}.${p0}`).digest('base64url'));
    expect(verifySet(value, HMAC).jti).toBe(setJti(rec().revocation_id));
    expect(() => verifySet(value, HMAC + 'x')).toThrow(/does not verify/);
    const [h, p, s] = value.split('.');
    const forged = Buffer.from(Buffer.from(p!, 'base64url').toString().replace('user-42', 'user-43')).toString('base64url');
    expect(() => verifySet(`${h}.${forged}.${s}`, HMAC)).toThrow(/does not verify/);
    expect(() => verifySet(setRecordFor(rec(), base).value, HMAC)).toThrow(/unsigned/);
  });

  it('ES256 from a PEM value: raw r||s signature, kid = JWK thumbprint, verifies with the public key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const signer = SetSigner.fromSetting(pem);
    expect(signer.alg).toBe('ES256');
    expect(signer.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { value } = setRecordFor(rec({ scope: 'family', id: 'sess-42' }), { ...base, signer });
    const { header, signature } = decodeSet(value);
    expect(header).toEqual({ alg: 'ES256', typ: 'secevent+jwt', kid: signer.kid });
    expect(Buffer.from(signature, 'base64url')).toHaveLength(64);
    expect(verifySet(value, publicKey).sub_id).toEqual({ format: 'opaque', id: 'sess-42' });
    // independently of our verifier: WebCrypto ECDSA takes the JWS (r||s) form as is
    const [h, p] = value.split('.');
    const webKey = await crypto.subtle.importKey('jwk', publicKey.export({ format: 'jwk' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    expect(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, webKey, Buffer.from(signature, 'base64url'), Buffer.from(`${h}.${p}`))).toBe(true);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(() => verifySet(value, other)).toThrow(/does not verify/);
    expect(signer.publicJwk()).toMatchObject({ kty: 'EC', crv: 'P-256', kid: signer.kid, alg: 'ES256' });
    expect(JSON.stringify(signer.publicJwk())).not.toContain('"d"');
  });

  it('kid is the RFC 7638 thumbprint (the RFC\'s own example)', () => {
    const n =
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    expect(thumbprint(createPublicKey({ key: { kty: 'RSA', n, e: 'AQAB' }, format: 'jwk' }))).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('RS256 from a key file path; the key never shows in JSON', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = mkdtempSync(join(tmpdir(), 'tw-set-'));
    const path = join(dir, 'set.pem');
    writeFileSync(path, privateKey.export({ type: 'pkcs1', format: 'pem' }));
    const signer = SetSigner.fromSetting(path);
    expect(signer.alg).toBe('RS256');
    const { value } = setRecordFor(rec(), { ...base, signer });
    expect(verifySet(value, createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }))).iss).toBe(base.issuer);
    expect(JSON.stringify({ signer })).toBe(JSON.stringify({ signer: { alg: 'RS256', kid: signer.kid } }));
  });

  it.each([
    ['a short secret', 'short-secret', /TOKENWATCH_SET_SIGNING_KEY must be an HMAC secret of at least 32 bytes/],
    ['a missing file', '/nonexistent/tokenwatch/set.pem', /TOKENWATCH_SET_SIGNING_KEY must be .*cannot read \/nonexistent/],
    ['an Ed25519 key', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), /EC P-256 or RSA private key \(got a ed25519 key\)/],
    ['a P-384 key', generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), /P-256/],
    ['a public key', generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString(), /valid PEM private key/],
  ])('rejects %s with a message naming the setting and not showing the value', (_what, value, message) => {
    let err: Error | undefined;
    try {
      SetSigner.fromSetting(value);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(message);
    if (!value.startsWith('/')) expect(err?.message).not.toContain(value.slice(0, 40));
  });

  it('the publishing helpers: nothing when the topic is empty, a content-typed record otherwise', () => {
    expect(setBusRecord({ ...base, topic: '' }, rec())).toBeUndefined();
    expect(setTopicSpecs({ ...base, topic: '' })).toEqual([]);
    const r = setBusRecord({ ...base, topic: 'auth.set' }, rec());
    expect(r).toMatchObject({ topic: 'auth.set', key: 'token:tfp1:AbCdEfGhIjKlMnOpQrStUv', headers: { 'content-type': 'application/secevent+jwt' } });
    expect(decodeSet(r!.value!).claims.tokenwatch_revocation.revocation_id).toBe(rec().revocation_id);
    expect(setTopicSpecs({ ...base, topic: 'auth.set' })).toEqual([{ topic: 'auth.set', partitions: 3 }]);
  });
});

describe('SET and bridge settings', () => {
  const probe = defineDetector({
    meta: { id: 'probe', title: 'probe', severity: 'low', defaultAction: 'alert', falsePositives: [], references: [] },
    config: z.object({}).strict(),
    keys: () => [],
    stateTtlMs: () => 0,
    step: () => ({ state: undefined, findings: [] }),
    cases: [],
  });
  const load = (env: NodeJS.ProcessEnv) => loadConfig([probe], env);

  it('defaults: SETs off, bridge on 127.0.0.1:8089, control topic tokenwatch.control', () => {
    const c = load({});
    expect(c.set).toEqual({ topic: '', issuer: 'urn:tokenwatch', audience: [], subjectIssuer: undefined, signer: undefined });
    expect(c.bridge).toEqual({ host: '127.0.0.1', port: 8089 });
    expect(c.topics.control).toBe('tokenwatch.control');
  });

  it('reads the SET settings; the signing secret never appears in the printed config', () => {
    const c = load({
      TOKENWATCH_SET_TOPIC: 'auth.set',
      TOKENWATCH_SET_ISSUER: 'https://tokenwatch.example.com/',
      TOKENWATCH_SET_AUDIENCE: 'https://idp.example.com/, urn:example:rp',
      TOKENWATCH_SET_SUBJECT_ISSUER: 'https://idp.example.com/',
      TOKENWATCH_SET_SIGNING_KEY: HMAC,
      TOKENWATCH_BRIDGE_LISTEN: '[::1]:9000',
    });
    expect(c.set).toMatchObject({ topic: 'auth.set', issuer: 'https://tokenwatch.example.com/', audience: ['https://idp.example.com/', 'urn:example:rp'], subjectIssuer: 'https://idp.example.com/' });
    expect(c.set.signer?.alg).toBe('HS256');
    expect(c.bridge).toEqual({ host: '::1', port: 9000 });
    expect(JSON.stringify(c)).not.toContain(HMAC);
  });

  it.each([
    [{ TOKENWATCH_SET_TOPIC: 'has space' }, /TOKENWATCH_SET_TOPIC must be empty \(off\) or a Kafka topic name/],
    [{ TOKENWATCH_SET_ISSUER: 'not a uri: really' }, /TOKENWATCH_SET_ISSUER must be a string or URI/],
    [{ TOKENWATCH_SET_AUDIENCE: 'ok, bad uri:x y' }, /TOKENWATCH_SET_AUDIENCE must be a string or URI/],
    [{ TOKENWATCH_SET_SIGNING_KEY: 'too-short' }, /TOKENWATCH_SET_SIGNING_KEY must be/],
    [{ TOKENWATCH_BRIDGE_LISTEN: '8089' }, /TOKENWATCH_BRIDGE_LISTEN must be host:port/],
    [{ TOKENWATCH_BRIDGE_LISTEN: '127.0.0.1:70000' }, /TOKENWATCH_BRIDGE_LISTEN must be host:port/],
    [{ TOKENWATCH_CONTROL_TOPIC: 'bad topic' }, /TOKENWATCH_CONTROL_TOPIC/],
  ])('%o is rejected with a message naming the setting', (env, message) => {
    expect(() => load(env)).toThrow(message);
  });
});
