/**
 * Sessions: a login is a row holding the hash of an opaque refresh token (the portal's cookie);
 * short-lived access tokens (JWT, `typ: user`, `sid`) are minted from it. Every request checks
 * the session behind its token, cached for at most a second, so a logout bites within a second
 * in every process.
 */
import { createHash, randomBytes } from 'node:crypto'
import { and, eq, gt, isNull, ne } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { TtlCache } from '../../lib/ttl-cache'
import { sessions, users } from '../../store/schema'
import type { Db } from '../../store/store'
import { type Deps, now } from '../deps'
import { errors } from '../errors'
import { registerBearerResolver } from './authenticate'
import type { UserPrincipal } from './principal'
import { signAccessToken, verifyAccessToken } from './signing-keys'
import { findUserByEmail, verifyPassword } from './users'

/** The portal's session cookie: the refresh token, httpOnly. */
export const SESSION_COOKIE = 'og_session'
const REFRESH_PREFIX = 'ogs_'
/** A logout in another process is seen within this long. */
const SESSION_CACHE_TTL_MS = 1000
/**
 * A refresh token presented again after it was rotated is a stolen copy being used (OAuth 2.0
 * Security BCP, refresh token rotation): the session is revoked. Within this long of the
 * rotation it is more likely the same client twice (two tabs, a retry that lost its answer):
 * refused, but the session lives.
 */
export const REFRESH_REUSE_GRACE_MS = 10_000
const USER_AGENT_MAX = 512

export type Session = typeof sessions.$inferSelect

interface SessionState {
  userId: string
  email: string
  instanceAdmin: boolean
  disabled: boolean
  expiresAt: number
  revoked: boolean
}

const stateCache = new TtlCache<SessionState | null>(SESSION_CACHE_TTL_MS)
const cookieCache = new TtlCache<string | null>(SESSION_CACHE_TTL_MS)

/** Drops what this process remembers about sessions (after a logout or password change). */
export function forgetCachedSessions(): void {
  stateCache.clear()
  cookieCache.clear()
}

const hashRefresh = (token: string) => createHash('sha256').update(token).digest('hex')
const newRefreshToken = () => REFRESH_PREFIX + randomBytes(32).toString('base64url')

export interface IssuedSession {
  sessionId: string
  userId: string
  accessToken: string
  /** Seconds. */
  expiresIn: number
  /** The new opaque refresh token (cookie value); shown once. */
  refreshToken: string
  /** When the session ends (ms since the epoch). */
  sessionExpiresAt: number
}

const accessToken = (deps: Deps, userId: string, sessionId: string) =>
  signAccessToken(deps, { sub: userId, sid: sessionId, typ: 'user' }, deps.limits.accessTokenTtlSeconds)

/**
 * Email and password → a new session. Unknown email, wrong password, disabled user and a user
 * who never set a password all get the same 401 after the same argon2 work.
 */
export async function login(deps: Deps, input: { email: string; password: string; ip?: string; userAgent?: string }): Promise<IssuedSession> {
  const user = await findUserByEmail(deps, input.email)
  const ok = await verifyPassword(input.password, user?.passwordHash)
  if (!user || !ok || user.disabled) throw errors.invalidCredentials('the email or the password is wrong')
  const at = now(deps)
  const refreshToken = newRefreshToken()
  const row: Session = {
    id: newId('ses'),
    userId: user.id,
    refreshHash: hashRefresh(refreshToken),
    previousRefreshHash: null,
    rotatedAt: null,
    ip: input.ip ?? null,
    userAgent: input.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
    createdAt: at,
    lastUsedAt: at,
    expiresAt: at + deps.limits.sessionTtlHours * 3_600_000,
    revokedAt: null,
  }
  await deps.store.tx((tx) => tx.insert(sessions).values(row))
  const token = await accessToken(deps, user.id, row.id)
  return { sessionId: row.id, userId: user.id, accessToken: token.token, expiresIn: token.expiresIn, refreshToken, sessionExpiresAt: row.expiresAt }
}

/**
 * A live session's refresh token → a new access token and a new refresh token (the old one dies).
 * The token it replaced, presented again later than REFRESH_REUSE_GRACE_MS, revokes the session.
 */
export async function refreshSession(
  deps: Deps,
  refreshToken: string,
  onReuse?: (sessionId: string, userId: string) => void,
  /** The token was rotated moments ago (another tab, a retry): refused, but the session lives on. */
  onSuperseded?: () => void,
): Promise<IssuedSession> {
  const at = now(deps)
  const next = newRefreshToken()
  const presented = hashRefresh(refreshToken)
  type Outcome = { session: Session; reused?: undefined } | { reused: Session; session?: undefined } | 'superseded' | null
  const outcome = await deps.store.tx(async (tx): Promise<Outcome> => {
    const [row] = await tx
      .select({ session: sessions, disabled: users.disabled })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(and(eq(sessions.refreshHash, presented), isNull(sessions.revokedAt), gt(sessions.expiresAt, at)))
    if (row && !row.disabled) {
      await tx
        .update(sessions)
        .set({ refreshHash: hashRefresh(next), previousRefreshHash: presented, rotatedAt: at, lastUsedAt: at })
        .where(eq(sessions.id, row.session.id))
      return { session: row.session }
    }
    if (row) return null
    const [rotated] = await tx
      .select()
      .from(sessions)
      .where(and(eq(sessions.previousRefreshHash, presented), isNull(sessions.revokedAt)))
    if (!rotated) return null
    if (at - (rotated.rotatedAt ?? 0) <= REFRESH_REUSE_GRACE_MS) return 'superseded'
    await tx.update(sessions).set({ revokedAt: at }).where(eq(sessions.id, rotated.id))
    return { reused: rotated }
  })
  if (outcome === 'superseded') onSuperseded?.()
  else if (outcome?.reused) {
    forgetCachedSessions()
    onReuse?.(outcome.reused.id, outcome.reused.userId)
  }
  const session = outcome !== 'superseded' ? (outcome?.session ?? null) : null
  if (!session) throw errors.unauthorized('the session is unknown, expired or logged out; log in again')
  cookieCache.clear()
  const token = await accessToken(deps, session.userId, session.id)
  return { sessionId: session.id, userId: session.userId, accessToken: token.token, expiresIn: token.expiresIn, refreshToken: next, sessionExpiresAt: session.expiresAt }
}

/** Logs a session out: its refresh token and every access token minted from it stop working. */
export async function revokeSession(deps: Deps, sessionId: string): Promise<void> {
  await deps.store.tx((tx) => tx.update(sessions).set({ revokedAt: now(deps) }).where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt))))
  forgetCachedSessions()
}

/** Logs out every session of a user (but `exceptSessionId`) inside an open transaction. */
export async function revokeUserSessions(tx: Db, userId: string, at: number, exceptSessionId?: string): Promise<void> {
  const mine = and(eq(sessions.userId, userId), isNull(sessions.revokedAt))
  await tx.update(sessions).set({ revokedAt: at }).where(exceptSessionId ? and(mine, ne(sessions.id, exceptSessionId)) : mine)
  // Cleared now and again by whoever commits: a request between the two is at most 1 s stale.
  forgetCachedSessions()
}

/** The session id a refresh token (cookie) belongs to, live or not; null when unknown. */
export async function sessionIdOfRefreshToken(deps: Deps, refreshToken: string): Promise<string | null> {
  const hash = hashRefresh(refreshToken)
  let id = cookieCache.get(hash)
  if (id === undefined) {
    const readAt = cookieCache.generation
    const [row] = await deps.store.read.select({ id: sessions.id }).from(sessions).where(eq(sessions.refreshHash, hash))
    id = row?.id ?? null
    cookieCache.set(hash, id, readAt)
  }
  return id
}

async function sessionState(deps: Deps, sessionId: string): Promise<SessionState | null> {
  let state = stateCache.get(sessionId)
  if (state === undefined) {
    // A revocation committing meanwhile clears the cache: what was read before is not kept.
    const readAt = stateCache.generation
    const [row] = await deps.store.read
      .select({ session: sessions, user: users })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.id, sessionId))
    state = row
      ? {
          userId: row.user.id,
          email: row.user.email,
          instanceAdmin: row.user.instanceAdmin,
          disabled: row.user.disabled,
          expiresAt: row.session.expiresAt,
          revoked: row.session.revokedAt !== null,
        }
      : null
    stateCache.set(sessionId, state, readAt)
  }
  return state
}

/** The user behind a live session; null when the session is gone, expired or the user disabled. */
export async function sessionPrincipal(deps: Deps, sessionId: string): Promise<UserPrincipal | null> {
  const state = await sessionState(deps, sessionId)
  if (!state || state.revoked || state.disabled || state.expiresAt <= now(deps)) return null
  return { kind: 'user', userId: state.userId, email: state.email, sessionId, instanceAdmin: state.instanceAdmin }
}

/** The portal's cookie → the user, when its session is live. */
export async function authenticateSessionCookie(deps: Deps, refreshToken: string): Promise<UserPrincipal | null> {
  if (!refreshToken.startsWith(REFRESH_PREFIX)) return null
  const sessionId = await sessionIdOfRefreshToken(deps, refreshToken)
  return sessionId ? sessionPrincipal(deps, sessionId) : null
}

/** A user access token → the user, when the token verifies and its session is live. */
export async function authenticateUserToken(deps: Deps, token: string): Promise<UserPrincipal | null> {
  if (token.split('.').length !== 3) return null
  const claims = await verifyAccessToken(deps, token)
  if (!claims || claims.typ !== 'user' || typeof claims.sid !== 'string' || typeof claims.sub !== 'string') return null
  const principal = await sessionPrincipal(deps, claims.sid)
  return principal && principal.userId === claims.sub ? principal : null
}

// Loaded with the HTTP layer (routes/auth.ts, middleware/auth.ts): bearer tokens may be users'.
registerBearerResolver(authenticateUserToken)
