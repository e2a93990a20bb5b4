/**
 * /v1/auth: login, refresh, logout, the signed-in user, password change and reset, and accepting
 * an invitation. Mounted ahead of the /v1 bearer check: most of these are how a person gets a
 * credential in the first place; /me and /password authenticate themselves.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import type { MiddlewareHandler } from 'hono'
import { type Deps, now } from '../../domain/deps'
import { errors } from '../../domain/errors'
import { recordAudit } from '../../domain/audit'
import { acceptInvitation } from '../../domain/identity/invitations'
import { loginLimiterOf } from '../../domain/identity/login-limiter'
import { userNamespaces } from '../../domain/identity/members'
import {
  authenticateSessionCookie,
  authenticateUserToken,
  type IssuedSession,
  login,
  refreshSession,
  revokeSession,
  SESSION_COOKIE,
} from '../../domain/identity/sessions'
import { changePassword, confirmPasswordReset, getUser, requestPasswordReset, userView } from '../../domain/identity/users'
import { requestClientIp } from '../client-ip'
import type { AppEnv } from '../env'
import { bearerAuth } from '../middleware/auth'
import { requireJsonBody } from '../middleware/json-body'
import { bodyProblems, commonProblems, json, problem, userSchema } from '../schemas'

// Credentials and tokens only: a few kilobytes is plenty.
const AUTH_BODY_LIMIT_BYTES = 16 * 1024

const body = <T extends z.ZodType>(schema: T, required = true) => ({ required, content: { 'application/json': { schema } } })
const tags = ['auth']
const open = { security: [] }
const signedIn = { security: [{ apiKey: [] }] }

const tokenSchema = z
  .object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int().openapi({ description: 'Seconds' }),
    refresh_token: z.string().optional().openapi({ description: 'Only when the refresh token was sent in the body' }),
  })
  .openapi('AccessToken')
const password = () => z.string().min(1).max(1024)
const token = () => z.string().min(1).max(512)

const routes = {
  login: createRoute({ method: 'post', path: '/login', tags, ...open, summary: 'Log in: an access token, and the session cookie', request: { body: body(z.strictObject({ email: z.string().min(1).max(254), password: password() })) }, responses: { 200: json(tokenSchema, 'Logged in; Set-Cookie og_session'), 401: problem('Wrong email or password (never says which)'), 429: problem('Too many attempts; see Retry-After'), ...bodyProblems } }),
  refresh: createRoute({ method: 'post', path: '/refresh', tags, ...open, summary: 'A new access token from the session cookie or a refresh token (rotated)', request: { body: body(z.strictObject({ refresh_token: token().optional() }), false) }, responses: { 200: json(tokenSchema, 'Refreshed; Set-Cookie og_session'), 401: problem('Session unknown, expired or logged out'), ...bodyProblems } }),
  logout: createRoute({ method: 'post', path: '/logout', tags, ...open, summary: 'Log the session out (access token or cookie); always clears the cookie', responses: { 204: { description: 'Logged out' } } }),
  me: createRoute({ method: 'get', path: '/me', tags, ...signedIn, summary: 'The signed-in user and their namespaces', responses: { 200: json(z.object({ user: userSchema, namespaces: z.array(z.object({ id: z.string(), slug: z.string(), name: z.string(), status: z.string(), role: z.string() })) }), 'The user'), ...commonProblems } }),
  password: createRoute({ method: 'post', path: '/password', tags, ...signedIn, summary: 'Change the password; other sessions are logged out', request: { body: body(z.strictObject({ current_password: password(), new_password: password() })) }, responses: { 204: { description: 'Changed' }, ...commonProblems, 429: problem('Too many attempts'), ...bodyProblems } }),
  reset: createRoute({ method: 'post', path: '/password-reset', tags, ...open, summary: 'Mail a reset link (always 202, whether the address exists or not)', request: { body: body(z.strictObject({ email: z.string().min(1).max(254) })) }, responses: { 202: { description: 'Accepted' }, 429: problem('Too many attempts'), 503: problem('The instance has no [mail] settings'), ...bodyProblems } }),
  resetConfirm: createRoute({ method: 'post', path: '/password-reset/confirm', tags, ...open, summary: 'Set a new password from a reset link; every session is logged out', request: { body: body(z.strictObject({ token: token(), password: password() })) }, responses: { 204: { description: 'Password set' }, ...bodyProblems, 400: problem('Malformed JSON, or the link is invalid, expired or used') } }),
  accept: createRoute({ method: 'post', path: '/invitations/accept', tags, ...open, summary: 'Accept an invitation; creates the account when the address has none', request: { body: body(z.strictObject({ token: token(), password: password().optional(), display_name: z.string().max(200).optional() })) }, responses: { 200: json(z.object({ namespace: z.object({ id: z.string(), slug: z.string(), name: z.string() }), role: z.string(), user: userSchema, user_created: z.boolean() }), 'Member now'), ...bodyProblems, 400: problem('Malformed JSON, or the link is invalid, expired or used') } }),
}

/** Only a signed-in person; an application's credential gets 403. */
const userOnly: MiddlewareHandler<AppEnv> = async function userOnlyMiddleware(c, next) {
  if (c.get('principal').kind !== 'user') throw errors.userRequired('log in as a user; API keys and client tokens cannot use this route')
  await next()
}

/** The auth routes sit outside the /v1 audit middleware: each records itself. */
function audit(deps: Deps, c: Context<AppEnv>, action: string, user: { id: string } | null, namespaceId: string | null = null) {
  return recordAudit(deps.store, {
    namespaceId,
    actor: { type: user ? 'user' : 'system', id: user?.id ?? null },
    action: `${action} ${c.req.routePath}`,
    resource: { type: 'user', id: user?.id ?? null },
    ip: requestClientIp(c, deps),
    at: now(deps),
  })
}

export function authRoutes(deps: Deps) {
  const limiter = loginLimiterOf(deps)
  const secure = deps.publicUrl.startsWith('https:')

  const limit = (c: Context, keys: string[]) => {
    const verdict = limiter.take(keys)
    if (!verdict.ok) {
      c.header('Retry-After', String(verdict.retryAfterSeconds))
      throw errors.tooManyAttempts(`too many attempts; try again in ${verdict.retryAfterSeconds} s`)
    }
  }
  const issue = (c: Context, session: IssuedSession, refreshInBody: boolean) => {
    const maxAge = Math.max(0, Math.floor((session.sessionExpiresAt - now(deps)) / 1000))
    setCookie(c, SESSION_COOKIE, session.refreshToken, { httpOnly: true, sameSite: 'Strict', path: '/', secure, maxAge })
    c.header('Cache-Control', 'no-store')
    const answer = { access_token: session.accessToken, token_type: 'Bearer' as const, expires_in: session.expiresIn }
    return c.json(refreshInBody ? { ...answer, refresh_token: session.refreshToken } : answer, 200)
  }
  const clearCookie = (c: Context) => deleteCookie(c, SESSION_COOKIE, { path: '/', secure, httpOnly: true, sameSite: 'Strict' })

  const app = new OpenAPIHono<AppEnv>()
  app.use(
    '*',
    bodyLimit({
      maxSize: AUTH_BODY_LIMIT_BYTES,
      onError: () => {
        throw errors.payloadTooLarge(`the body is larger than ${AUTH_BODY_LIMIT_BYTES} bytes`)
      },
    }),
    requireJsonBody(),
  )
  app.use('/me', bearerAuth(deps), userOnly)
  app.use('/password', bearerAuth(deps), userOnly)

  return app
    .openapi(routes.login, async (c) => {
      const input = c.req.valid('json')
      const ip = requestClientIp(c, deps)
      limit(c, [`login:account:${input.email.trim().toLowerCase()}`, `login:ip:${ip}`])
      const session = await login(deps, { ...input, ip, userAgent: c.req.header('user-agent') })
      await audit(deps, c, 'POST', { id: session.userId })
      return issue(c, session, false)
    })
    .openapi(routes.refresh, async (c) => {
      const fromBody = c.req.valid('json').refresh_token
      const refreshToken = fromBody ?? getCookie(c, SESSION_COOKIE)
      if (!refreshToken) throw errors.unauthorized('send the og_session cookie or {"refresh_token": …}')
      let reused: { sessionId: string; userId: string } | null = null
      let superseded = false
      try {
        const onReuse = (sessionId: string, userId: string) => (reused = { sessionId, userId })
        return issue(c, await refreshSession(deps, refreshToken, onReuse, () => (superseded = true)), fromBody !== undefined)
      } catch (error) {
        // Refused because another tab (or a retry) rotated it a moment ago: that tab holds the
        // new cookie, which clearing it here would delete for both.
        if (fromBody === undefined && !superseded) clearCookie(c)
        // A rotated refresh token came back: someone holds a copy. The session is revoked; the
        // audit log says so (the answer does not: it is the usual 401).
        const stolen = reused as { sessionId: string; userId: string } | null
        if (stolen) {
          await recordAudit(deps.store, {
            namespaceId: null,
            actor: { type: 'system', id: null },
            action: 'session revoked: refresh token reused',
            resource: { type: 'session', id: stolen.sessionId },
            ip: requestClientIp(c, deps),
            detail: { user_id: stolen.userId },
            at: now(deps),
          })
        }
        throw error
      }
    })
    .openapi(routes.logout, async (c) => {
      const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1]
      const cookie = getCookie(c, SESSION_COOKIE)
      const principal = (bearer && (await authenticateUserToken(deps, bearer))) || (cookie && (await authenticateSessionCookie(deps, cookie))) || null
      if (principal) {
        await revokeSession(deps, principal.sessionId)
        await audit(deps, c, 'POST', { id: principal.userId })
      }
      clearCookie(c)
      return c.body(null, 204)
    })
    .openapi(routes.me, async (c) => {
      const principal = c.get('principal')
      const user = await getUser(deps, principal.kind === 'user' ? principal.userId : '')
      const namespaces = (await userNamespaces(deps, user.id)).map(({ id, slug, name, status, role }) => ({ id, slug, name, status, role }))
      return c.json({ user: userView(user), namespaces }, 200)
    })
    .openapi(routes.password, async (c) => {
      const principal = c.get('principal')
      if (principal.kind !== 'user') throw errors.userRequired()
      limit(c, [`password:account:${principal.userId}`])
      const input = c.req.valid('json')
      await changePassword(deps, principal.userId, { current: input.current_password, next: input.new_password, keepSessionId: principal.sessionId })
      await audit(deps, c, 'POST', { id: principal.userId })
      return c.body(null, 204)
    })
    .openapi(routes.reset, async (c) => {
      const { email } = c.req.valid('json')
      limit(c, [`reset:account:${email.trim().toLowerCase()}`, `reset:ip:${requestClientIp(c, deps)}`])
      await requestPasswordReset(deps, email)
      return c.body(null, 202)
    })
    .openapi(routes.resetConfirm, async (c) => {
      await confirmPasswordReset(deps, c.req.valid('json'))
      await audit(deps, c, 'POST', null)
      return c.body(null, 204)
    })
    .openapi(routes.accept, async (c) => {
      const input = c.req.valid('json')
      const result = await acceptInvitation(deps, { token: input.token, password: input.password, displayName: input.display_name })
      await audit(deps, c, 'POST', { id: result.user.id }, result.namespace.id)
      return c.json(result, 200)
    })
}
