import type { MiddlewareHandler } from 'hono'
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
    const principal = c.get('principal')
    log.debug('request', {
      method: c.req.method,
      route: c.req.routePath,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      actor: principal ? (principal.kind === 'application' ? principal.applicationId : principal.userId) : null,
    })
  }
}
