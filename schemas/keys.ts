/**
 * Partitioning keys (DESIGN §3). All events one detector key depends on must reach the same
 * partition owner, so there are exactly two keying rules, written here once:
 *
 * - `producerKey`: what producers are asked to key input messages by;
 * - `rekeyKey`: what tokenwatch's re-keying stage (TOKENWATCH_REKEY) keys the repartition topic by
 *   when producers cannot. The subject comes first there (its sessions, refresh families and
 *   tokens travel together, which the subject-level travel check and families without a session
 *   id need), and the tenant prefixes it so equal ids of two tenants do not collide.
 */

/** The credential fields keying reads. */
export interface KeyedCredential {
  fp: string;
  sub?: string;
  sid?: string;
  key_id?: string;
}

/** The producer keying contract: `cred.sid ?? cred.sub ?? cred.key_id ?? cred.fp`. */
export function producerKey(cred: KeyedCredential): string {
  return cred.sid ?? cred.sub ?? cred.key_id ?? cred.fp;
}

/** The re-keying key: `<tenant>|<sub ?? sid ?? key_id ?? fp>`; undefined when the event names no credential. */
export function rekeyKey(tenant: unknown, cred: Partial<Record<keyof KeyedCredential, unknown>>): string | undefined {
  const id = [cred.sub, cred.sid, cred.key_id, cred.fp].find((x) => typeof x === 'string' && x !== '');
  return id === undefined ? undefined : `${typeof tenant === 'string' ? tenant : ''}|${String(id)}`;
}
