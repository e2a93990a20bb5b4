/**
 * A browserless portal client for HTTP-level tests of portal pages: a cookie jar, and forms
 * posted with the CSRF token of the last page read and the portal's origin, as a browser does.
 */
import type { Deps } from '../../src/domain/deps'
import { insertMembership } from '../../src/domain/identity/members'
import type { Role } from '../../src/domain/identity/roles'
import { createInstanceAdmin, hashPassword, insertUser } from '../../src/domain/identity/users'
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

/** An instance admin who can sign in. */
export async function makeUser(deps: Deps, email: string, password = PORTAL_PASSWORD) {
  const { user } = await createInstanceAdmin(deps, { email, password })
  return { id: user.id, email, password }
}

/** A user who is a member of one namespace with `role`. */
export async function makeMember(deps: Deps, namespaceId: string, email: string, role: Role, password = PORTAL_PASSWORD) {
  const passwordHash = await hashPassword(password)
  const user = await deps.store.tx(async (tx) => {
    const row = await insertUser(tx, { email, passwordHash, verified: true }, Date.now())
    await insertMembership(tx, namespaceId, row.id, role, Date.now())
    return row
  })
  return { id: user.id, email, password }
}

/**
 * A portal client signed in as `email`, having read `landing` (so its next post carries that
 * page's token); answers carry their status and redirect target. A post with `token: null`
 * goes without the CSRF token.
 */
export async function signedInClient(gw: TestGateway, email: string, landing: string) {
  const portal = portalClient(gw)
  await portal.signIn(email)
  const shaped = async (answer: Promise<{ res: Response; html: string }>) => {
    const { res, html } = await answer
    return { res, html, status: res.status, location: res.headers.get('location') }
  }
  await portal.get(landing)
  return {
    get: (path: string) => shaped(portal.get(path)),
    post: (path: string, fields: Record<string, string | string[]>, opts: { token?: null } = {}) =>
      shaped(portal.post(path, opts.token === null ? { ...fields, _csrf: '' } : fields)),
  }
}
