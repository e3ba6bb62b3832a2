/**
 * A map bounded in entries that forgets the least recently used one when a new one needs the
 * room: a JavaScript Map keeps insertion order, so "use" is delete + set and the oldest entry is
 * the first one iterated. The flow table uses it instead of lru-cache, whose removal of the last
 * entry clears all `max` preallocated slots (~46 µs at 20000): a junk datagram that opens and
 * ends a flow on an otherwise empty table paid that each time, and a flood of them held a core.
 * Here every operation costs the same whatever `max` is.
 */
export type RemovedBecause = 'evict' | 'delete';

export class RecencyMap<V> {
  private readonly entries = new Map<string, V>();

  constructor(
    readonly max: number,
    /** Called after an entry left the map (evicted to make room, or deleted). */
    private readonly onRemove: (value: V, key: string, why: RemovedBecause) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The value, marked as just used. */
  get(key: string): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  /** The value, leaving its recency alone. */
  peek(key: string): V | undefined {
    return this.entries.get(key);
  }

  /** Adds or replaces (as just used); evicts the least recently used entries past `max`. */
  set(key: string, value: V): void {
    const old = this.entries.get(key);
    this.entries.delete(key);
    this.entries.set(key, value);
    if (old !== undefined && old !== value) this.onRemove(old, key, 'delete');
    while (this.entries.size > this.max) {
      const [k, v] = this.entries.entries().next().value as [string, V];
      this.entries.delete(k);
      this.onRemove(v, k, 'evict');
    }
  }

  delete(key: string): boolean {
    const v = this.entries.get(key);
    if (v === undefined) return false;
    this.entries.delete(key);
    this.onRemove(v, key, 'delete');
    return true;
  }

  /** Least recently used first. */
  values(): IterableIterator<V> {
    return this.entries.values();
  }
}
