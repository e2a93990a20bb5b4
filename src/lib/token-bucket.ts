/**
 * Token buckets in memory: `rate` tokens a second up to `capacity`. Used for API request rate
 * limits (take a token or be refused) and for channel send rates (reserve the next free slot
 * and wait for it). Time is passed in, in milliseconds, so tests can move a fake clock.
 */

export interface TakeResult {
  ok: boolean
  /** Whole tokens left after this request. */
  remaining: number
  /** Milliseconds until one token is available again (0 when one is). */
  retryAfterMs: number
  /** Milliseconds until the bucket is full again. */
  resetMs: number
}

export class TokenBucket {
  private tokens: number
  private updatedAt: number

  constructor(
    private rate: number,
    private capacity: number,
    at: number,
  ) {
    if (!(rate > 0) || !(capacity >= 1)) throw new Error(`token bucket needs rate > 0 and capacity >= 1 (got ${rate}, ${capacity})`)
    this.tokens = capacity
    this.updatedAt = at
  }

  /** Changes the rate and capacity (a limit edited at run time); tokens above the new capacity go. */
  configure(rate: number, capacity: number): void {
    if (rate === this.rate && capacity === this.capacity) return
    if (!(rate > 0) || !(capacity >= 1)) throw new Error(`token bucket needs rate > 0 and capacity >= 1 (got ${rate}, ${capacity})`)
    this.rate = rate
    this.capacity = capacity
    this.tokens = Math.min(this.tokens, capacity)
  }

  /** Tokens available at `at` (negative while reservations are outstanding). */
  available(at: number): number {
    this.refill(at)
    return this.tokens
  }

  /** Whether `n` tokens are there now, without taking them. */
  peek(at: number, n = 1): TakeResult {
    this.refill(at)
    return this.result(this.tokens >= n, n)
  }

  /** Takes `n` tokens if they are all there; otherwise takes nothing. */
  take(at: number, n = 1): TakeResult {
    this.refill(at)
    const ok = this.tokens >= n
    if (ok) this.tokens -= n
    return this.result(ok, ok ? 0 : n)
  }

  /**
   * Reserves the next token even when the bucket is empty (it goes into debt) and returns how
   * many milliseconds to wait before using it; reserves nothing and returns null when that wait
   * would be longer than `maxWaitMs`.
   */
  reserve(at: number, maxWaitMs: number): number | null {
    const wait = this.waitFor(at)
    if (wait > maxWaitMs) return null
    this.tokens -= 1
    return wait
  }

  /** Milliseconds until a reservation made now could be used. */
  waitFor(at: number): number {
    this.refill(at)
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000)
  }

  private refill(at: number): void {
    // A clock moved backwards (a test restoring its fake clock) refills nothing.
    const elapsed = Math.max(0, at - this.updatedAt)
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed / 1000) * this.rate)
    this.updatedAt = Math.max(this.updatedAt, at)
  }

  private result(ok: boolean, wanted: number): TakeResult {
    const missing = Math.max(0, wanted - this.tokens)
    return {
      ok,
      remaining: Math.max(0, Math.floor(this.tokens)),
      retryAfterMs: ok ? 0 : Math.ceil((missing / this.rate) * 1000),
      resetMs: Math.ceil(((this.capacity - this.tokens) / this.rate) * 1000),
    }
  }
}

/**
 * Buckets by key, created on first use. Bounded: past `maxKeys`, buckets that have refilled
 * completely (so forgetting them changes nothing) are dropped.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, TokenBucket>()

  constructor(private readonly maxKeys = 10_000) {}

  /** The bucket of `key`, set to `rate` per second and `capacity` (created full). */
  get(key: string, rate: number, capacity: number, at: number): TokenBucket {
    let bucket = this.buckets.get(key)
    if (bucket) {
      bucket.configure(rate, capacity)
      return bucket
    }
    if (this.buckets.size >= this.maxKeys) this.prune(at)
    bucket = new TokenBucket(rate, capacity, at)
    this.buckets.set(key, bucket)
    return bucket
  }

  get size(): number {
    return this.buckets.size
  }

  clear(): void {
    this.buckets.clear()
  }

  private prune(at: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.peek(at).resetMs === 0) this.buckets.delete(key)
    }
    // Everything busy (a flood of distinct keys): start over rather than grow without bound.
    if (this.buckets.size >= this.maxKeys) this.buckets.clear()
  }
}

/**
 * Sends paced to a rate per key (a channel's or a webhook endpoint's `rate_limit`), in this
 * process: one slot every 1/rate s. A send whose slot is near reserves it and waits; one whose
 * slot is further than `maxWaitMs` reserves nothing and is handed back, due one interval after
 * the last one handed back, so a backlog spreads over the slots and drains at the rate instead
 * of pushing itself ever later.
 */
export class RatePacer {
  private readonly buckets = new TokenBuckets(10_000)
  private readonly deferredUntil = new Map<string, number>()

  slot(key: string, perSecond: number, maxWaitMs: number, at = Date.now()): { kind: 'now'; waitMs: number } | { kind: 'deferred'; until: number } {
    const bucket = this.buckets.get(key, perSecond, 1, at)
    const waitMs = bucket.reserve(at, maxWaitMs)
    if (waitMs !== null) return { kind: 'now', waitMs }
    const until = Math.max(this.deferredUntil.get(key) ?? 0, at + bucket.waitFor(at))
    this.deferredUntil.set(key, until + Math.ceil(1000 / perSecond))
    return { kind: 'deferred', until }
  }
}
