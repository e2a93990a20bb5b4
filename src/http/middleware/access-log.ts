import type { MiddlewareHandler } from 'hono'
import type { Principal } from '../../domain/identity/principal'
import type { Logger } from '../../lib/log'
import type { AppEnv } from '../env'

/**
 * One debug line per request: method, route template (never the raw path, which can carry a
 * token, e.g. /unsubscribe/{token}), status, duration and who asked; the logger adds the request
 * id, as it does to every line written while the request runs.
 * @example app.use(accessLog(log))
 */
export function accessLog(log: Logger): MiddlewareHandler<AppEnv> {
  return async function accessLogMiddleware(c, next) {
    const started = performance.now()
    await next()
    logRequest(log, c.req.method, c.req.routePath, c.res.status, started, c.get('principal'))
  }
}

/** The access line itself (also written by the send lane, src/http/send-lane.ts). */
export function logRequest(log: Logger, method: string, route: string, status: number, started: number, principal: Principal | undefined): void {
  log.debug('request', {
    method,
    route,
    status,
    ms: Math.round((performance.now() - started) * 10) / 10,
    actor: principal ? (principal.kind === 'application' ? principal.applicationId : principal.userId) : null,
  })
}
