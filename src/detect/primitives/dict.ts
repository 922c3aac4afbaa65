/**
 * Plain-JSON dictionaries keyed by untrusted strings (route, key id, tenant…). A key such as
 * `__proto__`, `constructor` or `toString` must be an ordinary key: reads see own properties only
 * (an inherited member is "absent"), writes define an own property (assigning to `__proto__` would
 * replace the prototype instead). The records stay plain JSON, so they survive the changelog.
 *
 * Rules of every primitive: plain JSON data, pure apart from mutating the structure handed in.
 */

/** A plain-JSON dictionary. */
export type Dict<V> = Record<string, V>;

/** The value under `key`, own properties only. */
export function dictGet<V>(d: Dict<V>, key: string): V | undefined {
  return Object.hasOwn(d, key) ? d[key] : undefined;
}

/** Sets `key` as an own, enumerable property (safe for `__proto__`). */
export function dictSet<V>(d: Dict<V>, key: string, value: V): void {
  Object.defineProperty(d, key, { value, writable: true, enumerable: true, configurable: true });
}

/** Removes `key` (own property only). */
export function dictDelete<V>(d: Dict<V>, key: string): void {
  if (Object.hasOwn(d, key)) delete d[key];
}
