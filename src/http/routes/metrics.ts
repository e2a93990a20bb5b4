/**
 * GET /metrics in the Prometheus text format, behind an optional bearer token
 * (`[metrics] token`), and the middleware that counts every HTTP request by route template.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import { matchedRoutes } from 'hono/route'
import type { Deps } from '../../domain/deps'
import { errors } from '../../domain/errors'
import { enableProcessMetrics, recordHttpRequest, scrapeMetrics } from '../../lib/metrics'
import ipaddr from 'ipaddr.js'
import { requestClientIp, UNKNOWN_CLIENT } from '../client-ip'
import type { AppEnv } from '../env'
import { problem } from '../middleware/errors'

const digest = (value: string) => createHash('sha256').update(value).digest()

/** Compares digests, so neither the token's content nor its length leaks through timing. */
function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1] ?? ''
  return timingSafeEqual(digest(presented), expected)
}

/** A loopback client (or none: an in-process request). */
function fromThisHost(ip: string): boolean {
  if (ip === UNKNOWN_CLIENT) return true
  try {
    const address = ipaddr.process(ip)
    return address.range() === 'loopback'
  } catch {
    return false
  }
}

export function metricsRoutes(deps: Deps) {
  enableProcessMetrics()
  const token = deps.config.metrics.token
  const expected = token ? digest(token) : null
  return new Hono<AppEnv>().get('/metrics', async (c) => {
    if (expected && !bearerMatches(c.req.header('authorization'), expected)) {
      const res = problem(c, errors.unauthorized('/metrics needs Authorization: Bearer <metrics.token>'))
      res.headers.set('www-authenticate', 'Bearer realm="metrics"')
      return res
    }
    // Without a token the series (namespace slugs, channel names, volumes) stay on this host.
    if (!expected && !fromThisHost(requestClientIp(c, deps))) {
      const res = problem(c, errors.unauthorized('/metrics answers other hosts only with a token: set [metrics] token'))
      res.headers.set('www-authenticate', 'Bearer realm="metrics"')
      return res
    }
    const { contentType, body } = await scrapeMetrics(deps.store)
    return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' })
  })
}

/**
 * The template of the route a request was for (also when middleware answered first, e.g. a 401),
 * or `unmatched` when only middleware matched (an unknown path), so label values stay bounded
 * whatever paths clients send.
 */
function routeLabel(c: Context<AppEnv>): string {
  const last = matchedRoutes(c).at(-1)
  if (!last || (last.method === 'ALL' && last.path.endsWith('*'))) return 'unmatched'
  return last.path
}

/**
 * Counts every request by method, route template and status, with its latency.
 * @example app.use(httpMetrics())
 */
export function httpMetrics(): MiddlewareHandler<AppEnv> {
  return async function httpMetricsMiddleware(c, next) {
    const started = performance.now()
    await next()
    recordHttpRequest(c.req.method, routeLabel(c), c.res.status, (performance.now() - started) / 1000)
  }
}
