/** The Set a key gets once it has two values or more (distinguishable from a single value). */
class Several<V> extends Set<V> {}

/**
 * A Map from key to a set of values where a key with a single value (the usual case: one socket
 * per session) stores that value directly, with no Set object per key (~200 bytes each).
 * Values must be objects (never a Set of this module's own kind).
 */
export class SetMultimap<K, V extends object> {
  readonly #map = new Map<K, V | Several<V>>();

  /** Number of keys. */
  get size(): number {
    return this.#map.size;
  }

  add(key: K, value: V): void {
    const current = this.#map.get(key);
    if (current === undefined) this.#map.set(key, value);
    else if (current instanceof Several) current.add(value);
    else if (current !== value) this.#map.set(key, new Several([current, value]));
  }

  /** Removes one value of a key; the key goes once it has none. */
  delete(key: K, value: V): boolean {
    const current = this.#map.get(key);
    if (current === undefined) return false;
    if (current instanceof Several) {
      if (!current.delete(value)) return false;
      if (current.size === 1) this.#map.set(key, current.values().next().value as V);
      return true;
    }
    if (current !== value) return false;
    this.#map.delete(key);
    return true;
  }

  /** The values of a key, as a snapshot (safe to change the multimap while iterating it). */
  get(key: K): V[] {
    const current = this.#map.get(key);
    if (current === undefined) return [];
    return current instanceof Several ? [...current] : [current];
  }
}
