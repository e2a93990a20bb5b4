/**
 * Bearer API-key authentication, the namespace guard and per-route scope checks.
 * A credential bound to another namespace gets 404, never 403: it must not learn that the
 * other namespace exists.
 */
import type { MiddlewareHandler } from 'hono'
import type { Deps } from '../../domain/deps'
import { errors } from '../../domain/errors'
import { authenticateApiKey } from '../../domain/identity/api-keys'
import { isScope, type Scope } from '../../domain/identity/scopes'
import type { AppEnv } from '../env'

/**
 * @example app.use('/v1/*', apiKeyAuth(deps))
 */
export function apiKeyAuth(deps: Deps): MiddlewareHandler<AppEnv> {
  return async function apiKeyAuthMiddleware(c, next) {
    const header = c.req.header('authorization') ?? ''
    const match = /^Bearer\s+(\S+)$/i.exec(header)
    if (!match) throw errors.unauthorized('send an API key as "Authorization: Bearer og_live_…"')
    const principal = await authenticateApiKey(deps, match[1]!)
    if (!principal) throw errors.unauthorized('the API key is unknown, revoked or expired')
    c.set('principal', principal)
    await next()
  }
}

/** Resolves `:ns` (slug or id) against the principal's own namespace. */
export function namespaceGuard(): MiddlewareHandler<AppEnv> {
  return async function namespaceGuardMiddleware(c, next) {
    const ref = c.req.param('ns')
    const principal = c.get('principal')
    if (ref !== principal.namespaceSlug && ref !== principal.namespaceId) {
      throw errors.namespaceNotFound(`namespace "${ref}" does not exist`)
    }
    c.set('namespaceId', principal.namespaceId)
    await next()
  }
}

/**
 * The route's scope check and its OpenAPI security requirement (OpenAPI 3.1 lets a bearer
 * scheme list role names), so `/openapi.json` says which scope each operation needs.
 * @example createRoute({ method: 'post', path: '/', ...scoped('messages:send'), … })
 */
export function scoped(scope: Scope) {
  return { middleware: [requireScope(scope)], security: [{ apiKey: [scope] }] }
}

/**
 * @example app.use('/admin/*', requireScope('apps:write'))
 */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  if (!isScope(scope)) throw new Error(`unknown scope ${scope}`)
  return async function requireScopeMiddleware(c, next) {
    if (!c.get('principal').scopes.has(scope)) throw errors.forbidden(`this route needs the scope "${scope}"`)
    await next()
  }
}
