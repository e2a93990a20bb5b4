/**
 * Who is signed in, and the CSRF gate. Reuses the identity module's sessions: the `og_session`
 * cookie is the session's refresh token (src/domain/identity/sessions.ts), set with the same
 * flags as `POST /v1/auth/login` (httpOnly, SameSite=Strict, Secure over https).
 */
import type { Context, MiddlewareHandler } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { type Deps, now } from '../domain/deps'
import { errors } from '../domain/errors'
import { authenticateSessionCookie, type IssuedSession, SESSION_COOKIE } from '../domain/identity/sessions'
import { ANON_CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, csrfTokenFor, isAnonSecret, newAnonSecret, sameOrigin, sameToken } from './csrf'
import type { PortalEnv } from './env'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
/**
 * The forms a visitor without a session posts. Opened from a mailed link, their page came
 * without any cookie (SameSite=Strict), so it carries the pre-session token even when the
 * browser holds a session: these forms take either token.
 */
const PRE_SESSION_FORMS = new Set(['/portal/login', '/portal/reset', '/portal/reset/confirm', '/portal/invite'])

const isSecure = (deps: Deps) => deps.publicUrl.startsWith('https:')

/** Sets the session cookie after a sign-in (same flags as the API's login). */
export function setSessionCookie(c: Context, deps: Deps, session: IssuedSession): void {
  const maxAge = Math.max(0, Math.floor((session.sessionExpiresAt - now(deps)) / 1000))
  setCookie(c, SESSION_COOKIE, session.refreshToken, { httpOnly: true, sameSite: 'Strict', path: '/', secure: isSecure(deps), maxAge })
}

export function clearSessionCookie(c: Context, deps: Deps): void {
  deleteCookie(c, SESSION_COOKIE, { path: '/', secure: isSecure(deps), httpOnly: true, sameSite: 'Strict' })
}

/** A form field as text ('' when absent or a file); the body is parsed once and cached by Hono. */
export async function formField(c: Context, name: string): Promise<string> {
  const type = c.req.header('content-type') ?? ''
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data')) return ''
  const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>)
  const value = body[name]
  return typeof value === 'string' ? value : ''
}

/**
 * Sets `user` and `csrfToken` on every request; refuses a state-changing request that comes
 * from another origin or lacks the token (403, nothing changed).
 * @example app.use(portalSession(deps))
 */
export function portalSession(deps: Deps): MiddlewareHandler<PortalEnv> {
  if (!deps?.store) throw new Error('portalSession needs the gateway deps')
  return async function portalSessionMiddleware(c, next) {
    const cookie = getCookie(c, SESSION_COOKIE)
    const user = cookie ? await authenticateSessionCookie(deps, cookie) : null
    const anon = getCookie(c, ANON_CSRF_COOKIE)
    let secret: string
    if (user && cookie) {
      secret = cookie
    } else {
      if (cookie) clearSessionCookie(c, deps)
      secret = isAnonSecret(anon) ? anon : newAnonSecret()
      if (secret !== anon) setCookie(c, ANON_CSRF_COOKIE, secret, { httpOnly: true, sameSite: 'Strict', path: '/portal', secure: isSecure(deps) })
    }
    const token = csrfTokenFor(secret)
    c.set('user', user)
    c.set('csrfToken', token)
    if (!SAFE_METHODS.has(c.req.method)) {
      if (!sameOrigin({ origin: c.req.header('origin'), fetchSite: c.req.header('sec-fetch-site') }, deps.publicUrl)) {
        throw errors.forbiddenOrigin('this form must be sent from the portal\'s own pages')
      }
      const sent = c.req.header(CSRF_HEADER) ?? (await formField(c, CSRF_FIELD))
      const preSession = secret !== anon && isAnonSecret(anon) && PRE_SESSION_FORMS.has(c.req.path) ? csrfTokenFor(anon) : null
      const valid = sent !== '' && (sameToken(sent, token) || (preSession !== null && sameToken(sent, preSession)))
      if (!valid) throw errors.csrfTokenInvalid('the form is out of date or did not come from this site: reload the page and try again')
    }
    await next()
  }
}
