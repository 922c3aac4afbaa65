/**
 * The in-memory denylist a gateway bridge checks against: the latest record of every key of the
 * compacted denylist topic (DESIGN §6), minus tombstones and expired entries. Pure apart from its
 * map; the clock is passed in.
 */
import type { z } from 'zod';
import { denylistKey, DenylistRecordReadSchema, REVOCATION_SCOPES, type RevocationScope } from '../../schemas/denylist.js';

/** The scopes a denylist key can have (the contract in schemas/denylist.ts). */
export const SCOPES = REVOCATION_SCOPES;
export type Scope = RevocationScope;

/** A denylist record value as published by tokenwatch. Unknown extra fields are ignored. */
const RecordSchema = DenylistRecordReadSchema;

/** One active revocation. */
export interface DenyEntry {
  key: string;
  revocation_id: string;
  scope: Scope;
  id: string;
  reason: string;
  tenant: string;
  subject: string;
  alert_id: string;
  revokedAtMs: number;
  expiresAtMs: number;
}

/** What a request presents, already reduced to identifiers (fingerprints, never credentials). */
export interface CheckQuery {
  /** credential fingerprints (tfp1), from the gateway's header or computed from the credential */
  fps?: string[];
  /** session / token-family ids */
  sids?: string[];
  /** public API-key ids */
  keyIds?: string[];
  /** subjects; a subject revocation denies credentials issued at or before its revoked_at */
  subs?: string[];
  /** issued-at of the credential, epoch seconds; needed to evaluate subject revocations */
  iatSec?: number;
}

export type CheckResult =
  | { allow: true; /** how many identifiers were checked (0: the request carried none) */ identifiers: number }
  | { allow: false; revocation_id: string; scope: Scope; reason: string; key: string };

export type ApplyOutcome = 'added' | 'removed' | 'expired' | 'invalid' | 'ignored';

export class DenylistStore {
  private readonly entries = new Map<string, DenyEntry>();
  /** entries dropped because they expired (on lookup or sweep), since start */
  expiredDropped = 0;

  get size(): number {
    return this.entries.size;
  }

  /** Active entries per scope (for the entries gauge). */
  countsByScope(): Record<Scope, number> {
    const out: Record<Scope, number> = { token: 0, family: 0, api_key: 0, subject: 0 };
    for (const e of this.entries.values()) out[e.scope]++;
    return out;
  }

  /**
   * Applies one record of the topic in offset order. A null value (tombstone) lifts the key; a
   * record already expired at `nowMs` removes the key too; a value that is not a valid record for
   * its key is ignored (and reported as `invalid`).
   */
  apply(key: string | null, value: string | Buffer | null, nowMs: number): ApplyOutcome {
    if (key === null) return 'ignored';
    if (value === null || value.length === 0) return this.entries.delete(key) ? 'removed' : 'ignored';
    let parsed: z.infer<typeof RecordSchema>;
    try {
      const r = RecordSchema.safeParse(JSON.parse(value.toString()));
      if (!r.success) return 'invalid';
      parsed = r.data;
    } catch {
      return 'invalid';
    }
    if (denylistKey(parsed.scope, parsed.id) !== key) return 'invalid';
    const revokedAtMs = Date.parse(parsed.revoked_at);
    const expiresAtMs = Date.parse(parsed.expires_at);
    if (!Number.isFinite(revokedAtMs) || !Number.isFinite(expiresAtMs)) return 'invalid';
    if (expiresAtMs <= nowMs) {
      this.entries.delete(key);
      return 'expired';
    }
    this.entries.set(key, {
      key,
      revocation_id: parsed.revocation_id,
      scope: parsed.scope,
      id: parsed.id,
      reason: parsed.reason ?? '',
      tenant: parsed.tenant ?? '',
      subject: parsed.subject ?? '',
      alert_id: parsed.alert_id ?? '',
      revokedAtMs,
      expiresAtMs,
    });
    return 'added';
  }

  /** The live entry of `<scope>:<id>`; an expired one is dropped on the way. */
  get(key: string, nowMs: number): DenyEntry | undefined {
    const e = this.entries.get(key);
    if (e && e.expiresAtMs <= nowMs) {
      this.entries.delete(key);
      this.expiredDropped++;
      return undefined;
    }
    return e;
  }

  /**
   * Denies when any identifier of the request is revoked: a token fingerprint, a session / family
   * id, an API-key id, or a subject whose credential was issued at or before the subject's
   * revocation (`iatSec` required for that one). Checking every identifier means a client cannot
   * escape a revocation by adding a header of its own.
   */
  check(q: CheckQuery, nowMs: number): CheckResult {
    const probes: Array<[Scope, string[] | undefined]> = [
      ['token', q.fps],
      ['family', q.sids],
      ['api_key', q.keyIds],
    ];
    let identifiers = 0;
    for (const [scope, ids] of probes) {
      for (const id of ids ?? []) {
        identifiers++;
        const e = this.get(denylistKey(scope, id), nowMs);
        if (e) return deny(e);
      }
    }
    for (const sub of q.subs ?? []) {
      identifiers++;
      const e = this.get(`subject:${sub}`, nowMs);
      if (e && q.iatSec !== undefined && q.iatSec * 1000 <= e.revokedAtMs) return deny(e);
    }
    return { allow: true, identifiers };
  }

  /** Drops every entry expired at `nowMs`; returns how many. */
  sweep(nowMs: number): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.expiresAtMs <= nowMs) {
        this.entries.delete(k);
        n++;
      }
    }
    this.expiredDropped += n;
    return n;
  }
}

function deny(e: DenyEntry): CheckResult {
  return { allow: false, revocation_id: e.revocation_id, scope: e.scope, reason: e.reason, key: e.key };
}
