/** A small map whose entries expire: lookups that may be stale for at most `ttlMs`. */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>()
  private gen = 0

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.expires <= performance.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry.value
  }

  /**
   * Changes at every clear(). A value read from the store before a clear (a revocation
   * committing meanwhile) must not be cached after it: read `generation` first and pass it to
   * `set`, which then stores nothing if a clear came in between.
   */
  get generation(): number {
    return this.gen
  }

  set(key: string, value: V, readAt?: number): void {
    if (readAt !== undefined && readAt !== this.gen) return
    // Crude but bounded: a flood of distinct keys (bad tokens) cannot grow memory without limit.
    if (this.entries.size >= this.maxEntries) this.entries.clear()
    this.entries.set(key, { value, expires: performance.now() + this.ttlMs })
  }

  delete(key: string): void {
    this.entries.delete(key)
  }

  clear(): void {
    this.entries.clear()
    this.gen += 1
  }
}
