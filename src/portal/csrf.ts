/**
 * CSRF tokens: an HMAC of a fixed label keyed by a secret only the browser's cookie holds — the
 * session cookie once signed in (so the token is bound to the session and dies with it), a
 * random pre-session cookie before (sign in, password reset, invitations). The token never
 * reveals the cookie, and is compared in constant time. The Origin check runs as well.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** The hidden form field every state-changing form carries. */
export const CSRF_FIELD = '_csrf'
/** The header htmx requests carry (set by portal.client.js from the page's meta tag). */
export const CSRF_HEADER = 'x-csrf-token'
/** The pre-session cookie (httpOnly, SameSite=Strict, path /portal). */
export const ANON_CSRF_COOKIE = 'og_portal_csrf'

const LABEL = 'omnigate portal csrf v1'
const ANON_SECRET = /^[A-Za-z0-9_-]{43}$/

export const newAnonSecret = () => randomBytes(32).toString('base64url')
export const isAnonSecret = (value: string | undefined): value is string => value !== undefined && ANON_SECRET.test(value)

/** The token forms carry for this cookie secret. */
export function csrfTokenFor(secret: string): string {
  return createHmac('sha256', secret).update(LABEL).digest('base64url')
}

/** Constant-time: both sides are hashed to the same length first. */
export function sameToken(sent: string, expected: string): boolean {
  const a = createHash('sha256').update(sent).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/** The browser says the request comes from our own origin (Sec-Fetch-Site, else Origin). */
export function sameOrigin(headers: { origin?: string; fetchSite?: string }, publicUrl: string): boolean {
  if (headers.fetchSite !== undefined) return headers.fetchSite === 'same-origin'
  if (headers.origin === undefined) return false
  try {
    return new URL(headers.origin).origin === new URL(publicUrl).origin
  } catch {
    return false
  }
}
