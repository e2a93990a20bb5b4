/**
 * A browserless portal client for HTTP-level tests of portal pages: a cookie jar, and forms
 * posted with the CSRF token of the last page read and the portal's origin, as a browser does.
 */
import type { TestGateway } from '../helpers/gateway'

export const PORTAL_PASSWORD = 'correct horse battery staple'

export function portalClient(gw: TestGateway) {
  const origin = new URL(gw.deps.publicUrl).origin
  const jar = new Map<string, string>()
  let token = ''
  const request = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers)
    headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '))
    const res = await gw.app.request(path, { ...init, headers })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const [name, value] = pair!.split('=') as [string, string]
      if (/Max-Age=0/.test(c)) jar.delete(name)
      else jar.set(name, value)
    }
    const html = res.headers.get('content-type')?.startsWith('text/html') ? await res.clone().text() : ''
    token = /name="csrf-token" content="([^"]+)"/.exec(html)?.[1] ?? token
    return { res, html }
  }
  const encode = (fields: Record<string, string | string[]>) => {
    const body = new URLSearchParams()
    for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one)
    return body.toString()
  }
  return {
    get: (path: string) => request(path),
    /** A form post with the page's token (unless `_csrf` is given) from the portal's origin. */
    post: (path: string, fields: Record<string, string | string[]> = {}) =>
      request(path, { method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: encode({ _csrf: token, ...fields }) }),
    async signIn(email: string, password = PORTAL_PASSWORD) {
      await request('/portal/login')
      const out = await this.post('/portal/login', { email, password })
      if (out.res.status !== 303) throw new Error(`sign-in of ${email} failed: ${out.res.status}`)
      return out
    },
  }
}

/** The text of the error shown under a field (`<p class="field-error" id="NAME-error">`). */
export const fieldError = (html: string, field: string) => new RegExp(`id="${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-error"[^>]*>([^<]*)<`).exec(html)?.[1]
/** The message above a form or page (`<p class="form-message" …>`). */
export const formMessage = (html: string) => /class="form-message"[^>]*>([^<]*)</.exec(html)?.[1]
