/**
 * Authorisation for portal pages: the same namespace access and role→scope rules as the API
 * (src/domain/identity/authenticate.ts `namespaceAccess`, roles.ts). Pages call
 * `requirePortalScope(c, scope)` before acting and templates call `can(c, scope)` to hide
 * controls the user may not use.
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { Deps } from '../domain/deps'
import { errors } from '../domain/errors'
import { namespaceAccess } from '../domain/identity/authenticate'
import { userNamespaces } from '../domain/identity/members'
import type { UserPrincipal } from '../domain/identity/principal'
import { isScope, type Scope } from '../domain/identity/scopes'
import { DEMO_NAMESPACE } from '../domain/namespaces/demo'
import { listNamespaces } from '../domain/namespaces'
import type { PortalEnv, PortalNamespace } from './env'

/** A path inside the portal that is safe to go back to after signing in (never another site). */
export function safeNext(next: string | undefined): string | null {
  if (!next || !next.startsWith('/portal') || next.startsWith('//') || /[\\\r\n]/.test(next)) return null
  return next
}

/** Where a page that needs a signed-in user sends an anonymous one (htmx follows HX-Redirect). */
export function toLogin(c: Context): Response {
  const url = new URL(c.req.url)
  const target = `/portal/login?next=${encodeURIComponent(url.pathname + url.search)}`
  if (c.req.header('hx-request')) return c.body(null, 204, { 'hx-redirect': target })
  return c.redirect(target, 303)
}

/** The signed-in user, or a 401 (pages that must render for a user call this after `signedIn`). */
export function currentUser(c: Context<PortalEnv>): UserPrincipal {
  const user = c.get('user')
  if (!user) throw errors.unauthorized('sign in first')
  return user
}

/** Only a signed-in user passes; anyone else is sent to the sign-in page. */
export function signedIn(): MiddlewareHandler<PortalEnv> {
  return async function signedInMiddleware(c, next) {
    if (!c.get('user')) return toLogin(c)
    await next()
  }
}

/** The namespaces the switcher lists: the user's own active ones (with roles), or every one for an instance admin. */
export async function switcherNamespaces(deps: Deps, user: UserPrincipal): Promise<PortalNamespace[]> {
  const mine = await userNamespaces(deps, user.userId)
  // A member cannot open a disabled (deleted) namespace: it is not offered.
  if (!user.instanceAdmin) return mine.filter((n) => n.status === 'active').map(({ id, slug, name, status, role }) => ({ id, slug, name, status, role }))
  const roles = new Map(mine.map((m) => [m.id, m.role]))
  const all = await listNamespaces(deps)
  return all
    .map(({ id, slug, name, status }) => ({ id, slug, name, status, role: roles.get(id) ?? null }))
    .sort((a, b) => a.slug.localeCompare(b.slug))
}

/**
 * Where a user lands after signing in: their first namespace (by slug); an instance admin who
 * is a member nowhere lands in `demo`, else in the first namespace. Null when there is none.
 */
export async function landingNamespace(deps: Deps, user: UserPrincipal): Promise<string | null> {
  const mine = (await userNamespaces(deps, user.userId)).filter((n) => n.status === 'active')
  if (mine[0]) return mine[0].slug
  if (!user.instanceAdmin) return null
  const all = await listNamespaces(deps)
  return (all.find((n) => n.slug === DEMO_NAMESPACE) ?? all.sort((a, b) => a.slug.localeCompare(b.slug))[0])?.slug ?? null
}

/**
 * On /portal/ns/:ns/…: resolves the namespace exactly as the API's guard does (another
 * namespace → 404) and loads the switcher's list.
 * @example app.use('/ns/:ns/*', portalNamespace(deps))
 */
export function portalNamespace(deps: Deps): MiddlewareHandler<PortalEnv> {
  if (!deps?.store) throw new Error('portalNamespace needs the gateway deps')
  return async function portalNamespaceMiddleware(c, next) {
    const user = c.get('user')
    if (!user) return toLogin(c)
    const access = await namespaceAccess(deps, user, c.req.param('ns') ?? '')
    c.set('access', access)
    c.set('namespaces', await switcherNamespaces(deps, user))
    await next()
  }
}

/** Whether the user holds `scope` in the namespace of this page (for showing or hiding controls). */
export function can(c: Context<PortalEnv>, scope: Scope): boolean {
  return c.get('access')?.scopes.has(scope) ?? false
}

/** Refuses (403, the API's `insufficient_scope`) unless the user holds `scope` here. */
export function requirePortalScope(c: Context<PortalEnv>, scope: Scope): void {
  if (!isScope(scope)) throw new Error(`unknown scope ${scope}`)
  if (!can(c, scope)) throw errors.forbidden(`your role here does not allow this (it needs the scope "${scope}")`)
}

/** A URL inside the current namespace: `nsUrl(c, '/messages')` → `/portal/ns/acme/messages`. */
export function nsUrl(c: Context<PortalEnv>, rest = ''): string {
  return `/portal/ns/${encodeURIComponent(c.get('access').namespaceSlug)}${rest}`
}
