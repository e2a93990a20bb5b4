/**
 * Login attempts per account and per client address: token buckets in memory, so the limit is
 * per instance (several instances behind one balancer each allow the full rate).
 */

/** Buckets kept at most; beyond this the full (idle) ones are dropped first. */
const MAX_BUCKETS = 50_000

interface Bucket {
  tokens: number
  at: number
}

export type LimiterVerdict = { ok: true } | { ok: false; retryAfterSeconds: number }

/**
 * `perMinute` attempts per key, refilled evenly over the minute; an attempt takes a token from
 * every key it names (the account and the address) or from none.
 */
export class LoginLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly perMs: number

  constructor(
    private readonly perMinute: number,
    private readonly clock: () => number = Date.now,
  ) {
    if (!(perMinute >= 1)) throw new Error('LoginLimiter: perMinute must be at least 1')
    this.perMs = perMinute / 60_000
  }

  /** Takes one attempt for every key, or refuses with how long until the emptiest one refills. */
  take(keys: string[]): LimiterVerdict {
    const at = this.clock()
    const levels = keys.map((key) => {
      const bucket = this.buckets.get(key)
      const tokens = bucket ? Math.min(this.perMinute, bucket.tokens + (at - bucket.at) * this.perMs) : this.perMinute
      return { key, tokens }
    })
    const short = levels.filter((l) => l.tokens < 1)
    if (short.length > 0) {
      const waitMs = Math.max(...short.map((l) => (1 - l.tokens) / this.perMs))
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }
    }
    if (this.buckets.size + keys.length > MAX_BUCKETS) this.prune(at)
    for (const { key, tokens } of levels) this.buckets.set(key, { tokens: tokens - 1, at })
    return { ok: true }
  }

  private prune(at: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (at - bucket.at) * this.perMs >= this.perMinute) this.buckets.delete(key)
    }
    // A flood of distinct keys that are all still limited: start over rather than grow.
    if (this.buckets.size > MAX_BUCKETS / 2) this.buckets.clear()
  }
}

const limiters = new WeakMap<object, LoginLimiter>()

/**
 * The gateway's one limiter of sign-in, password and reset attempts, shared by the API and the
 * portal: guesses through both count against the same buckets.
 */
export function loginLimiterOf(deps: { limits: { loginAttemptsPerMinute: number } }): LoginLimiter {
  let limiter = limiters.get(deps)
  if (!limiter) limiters.set(deps, (limiter = new LoginLimiter(deps.limits.loginAttemptsPerMinute)))
  return limiter
}
