/**
 * Request rate limits: a token bucket per namespace and one per application, in this process's
 * memory (several instances each allow the full rate). Refused requests get 429 `rate_limited`
 * with `Retry-After`; every answer of a limited request carries the IETF `RateLimit-Limit`,
 * `RateLimit-Remaining` and `RateLimit-Reset` headers of the policy closest to running out.
 * On the hot path: limits come from a 5 s cache, so no request reads the store.
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { Principal } from '../../domain/identity/principal'
import { type Deps, now } from '../../domain/deps'
import { errors, RetryLaterError } from '../../domain/errors'
import { applicationRequestLimit, namespaceLimits } from '../../domain/identity/quotas'
import { TokenBuckets } from '../../lib/token-bucket'
import type { AppEnv } from '../env'
import { problem } from './errors'

interface Policy {
  subject: string
  limit: number
  bucket: ReturnType<TokenBuckets['get']>
}

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000))

/** The answer's headers, made writable first if the answer came with frozen ones. */
function answerHeaders(c: Context<AppEnv>): Headers {
  try {
    c.res.headers.set('x-omnigate-probe', '')
    c.res.headers.delete('x-omnigate-probe')
  } catch {
    c.res = new Response(c.res.body, c.res)
  }
  return c.res.headers
}

/** What a limited request gets: refused (429), or allowed with the headers of its tightest policy. */
export type LimitDecision =
  | { refused: RetryLaterError; limit: number; resetMs: number }
  | { refused: null; limit: number; remaining: number; resetMs: number }

/**
 * The token buckets of one gateway, shared by the router's middleware and the send lane
 * (src/http/send-lane.ts), so a client gets the same limit whichever path serves it.
 */
export class RequestLimiter {
  private readonly buckets = new TokenBuckets()
  constructor(private readonly deps: Deps) {
    if (!deps?.limits) throw new Error('RequestLimiter needs the domain deps')
  }

  /** null: no limit applies; else refused, or allowed with one token taken from every policy. */
  async decide(principal: Principal, namespaceId: string, namespaceSlug: string | undefined): Promise<LimitDecision | null> {
    const deps = this.deps
    const at = now(deps)
    const policies: Policy[] = []
    const nsLimit = (await namespaceLimits(deps, namespaceId)).requestsPerSecond
    if (nsLimit > 0) {
      policies.push({ subject: `namespace "${namespaceSlug ?? namespaceId}"`, limit: nsLimit, bucket: this.buckets.get(`ns:${namespaceId}`, nsLimit, nsLimit, at) })
    }
    if (principal.kind === 'application') {
      const appLimit = await applicationRequestLimit(deps, namespaceId, principal.applicationId)
      if (appLimit > 0) {
        policies.push({ subject: `application ${principal.applicationId}`, limit: appLimit, bucket: this.buckets.get(`app:${principal.applicationId}`, appLimit, appLimit, at) })
      }
    }
    if (policies.length === 0) return null
    // All or nothing: a request refused by one bucket takes no token from the other.
    const peeks = policies.map((p) => ({ policy: p, state: p.bucket.peek(at) }))
    const refused = peeks.filter((p) => !p.state.ok).sort((a, b) => b.state.retryAfterMs - a.state.retryAfterMs)[0]
    if (refused) {
      const retry = Math.max(1, seconds(refused.state.retryAfterMs))
      const detail = `${refused.policy.subject} may make ${refused.policy.limit} requests per second; retry in ${retry} s`
      return { refused: new RetryLaterError(errors.rateLimited(detail), retry), limit: refused.policy.limit, resetMs: refused.state.resetMs }
    }
    const taken = policies.map((p) => ({ policy: p, state: p.bucket.take(at) }))
    const tightest = taken.sort((a, b) => a.state.remaining / a.policy.limit - b.state.remaining / b.policy.limit)[0]!
    return { refused: null, limit: tightest.policy.limit, remaining: tightest.state.remaining, resetMs: tightest.state.resetMs }
  }
}

/**
 * Limits each namespace to its requests per second (`[limits] namespace_requests_per_second`
 * or the namespace's `quotas.requests_per_second`) and each application to its `rate_limit`
 * (or `[limits] application_requests_per_second`); 0 = no limit. Runs after the namespace guard.
 * @example app.use('/v1/*', rateLimit(new RequestLimiter(deps)))
 */
export function rateLimit(limiter: RequestLimiter): MiddlewareHandler<AppEnv> {
  return async function rateLimitMiddleware(c, next) {
    const principal = c.get('principal')
    const namespaceId = c.get('namespaceId') ?? (principal?.kind === 'application' ? principal.namespaceId : undefined)
    // Retry-After on quota_exceeded and rate_limited comes from problem(), for every route.
    if (!principal || !namespaceId) return next()
    const decision = await limiter.decide(principal, namespaceId, c.get('access')?.namespaceSlug)
    if (!decision) return next()
    if (decision.refused) {
      const res = problem(c, decision.refused)
      setRateLimitHeaders(res.headers, decision.limit, 0, decision.resetMs)
      return res
    }
    await next()
    setRateLimitHeaders(answerHeaders(c), decision.limit, decision.remaining, decision.resetMs)
  }
}

export function setRateLimitHeaders(headers: Headers, limit: number, remaining: number, resetMs: number): void {
  headers.set('ratelimit-limit', String(limit))
  headers.set('ratelimit-remaining', String(remaining))
  headers.set('ratelimit-reset', String(seconds(resetMs)))
}
