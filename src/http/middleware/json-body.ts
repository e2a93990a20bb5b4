import type { MiddlewareHandler } from 'hono'
import { errors } from '../../domain/errors'

/**
 * Refuses a request body that is not JSON with 415, rather than letting it parse as an empty
 * object and fail validation with confusing "required" errors.
 */
export function requireJsonBody(): MiddlewareHandler {
  return async function requireJsonBodyMiddleware(c, next) {
    const hasBody = c.req.header('content-length') !== undefined ? c.req.header('content-length') !== '0' : c.req.header('transfer-encoding') !== undefined
    if (hasBody && !/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
      throw errors.unsupportedMediaType(`send the body as application/json (got "${c.req.header('content-type') ?? 'none'}")`)
    }
    await next()
  }
}
