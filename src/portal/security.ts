/**
 * Headers on every portal response: a strict Content-Security-Policy (scripts and styles only
 * from the portal's own files, nothing inline, never framed), clickjacking and MIME-sniffing
 * protection, and no referrer leaving the site.
 */
import type { MiddlewareHandler } from 'hono'
import type { PortalEnv } from './env'

export const PORTAL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': PORTAL_CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
}

/**
 * @example app.use(securityHeaders())
 */
export function securityHeaders(): MiddlewareHandler<PortalEnv> {
  return async function securityHeadersMiddleware(c, next) {
    await next()
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value)
    // Pages carry a CSRF token and private data: never cached (assets set their own policy).
    if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store')
  }
}
