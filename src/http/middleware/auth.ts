/**
 * Bearer API-key authentication, the namespace guard and per-route scope checks.
 * A credential bound to another namespace gets 404, never 403: it must not learn that the
 * other namespace exists.
 */
import type { MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import type { Deps } from '../../domain/deps'
import { errors } from '../../domain/errors'
import { authenticateBearer, namespaceAccess } from '../../domain/identity/authenticate'
import { authenticateSessionCookie, SESSION_COOKIE } from '../../domain/identity/sessions'
import { isScope, type Scope } from '../../domain/identity/scopes'
import type { AppEnv } from '../env'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** The browser says the request comes from our own origin (Sec-Fetch-Site, else Origin). */
function sameOrigin(origin: string | undefined, fetchSite: string | undefined, publicUrl: string): boolean {
  if (fetchSite !== undefined) return fetchSite === 'same-origin'
  if (origin === undefined) return false
  try {
    return new URL(origin).origin === new URL(publicUrl).origin
  } catch {
    return false
  }
}

/**
 * Bearer authentication: an API key, or an access token (OAuth client or user session).
 * @example app.use('/v1/*', bearerAuth(deps))
 */
export function bearerAuth(deps: Deps): MiddlewareHandler<AppEnv> {
  return async function bearerAuthMiddleware(c, next) {
    const header = c.req.header('authorization')
    // The portal's session cookie, only when no Authorization header says otherwise.
    const cookie = header === undefined ? getCookie(c, SESSION_COOKIE) : undefined
    if (cookie !== undefined) {
      // A cookie rides along with any request the browser makes: a state-changing one must come
      // from the gateway's own pages (CSRF), whatever its body or content type.
      if (!SAFE_METHODS.has(c.req.method) && !sameOrigin(c.req.header('origin'), c.req.header('sec-fetch-site'), deps.publicUrl)) {
        throw errors.forbiddenOrigin('a request authenticated by the session cookie must come from the gateway\'s own origin')
      }
      const user = await authenticateSessionCookie(deps, cookie)
      if (!user) throw errors.unauthorized('the session is unknown, expired or logged out; log in again')
      c.set('principal', user)
      return next()
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '')
    if (!match) throw errors.unauthorized('send an API key or access token as "Authorization: Bearer …"')
    const principal = await authenticateBearer(deps, match[1]!)
    if (!principal) throw errors.unauthorized('the credential is unknown, revoked or expired')
    c.set('principal', principal)
    await next()
  }
}

/** Resolves `:ns` (slug or id) to what the principal may do there; 404 when it may not see it. */
export function namespaceGuard(deps: Deps): MiddlewareHandler<AppEnv> {
  return async function namespaceGuardMiddleware(c, next) {
    const access = await namespaceAccess(deps, c.get('principal'), c.req.param('ns') ?? '')
    c.set('access', access)
    c.set('namespaceId', access.namespaceId)
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
    // Namespaced routes use what the guard resolved; others, what an application holds itself.
    const principal = c.get('principal')
    const scopes = c.get('access')?.scopes ?? (principal.kind === 'application' ? principal.scopes : new Set<Scope>())
    if (!scopes.has(scope)) throw errors.forbidden(`this route needs the scope "${scope}"`)
    await next()
  }
}
