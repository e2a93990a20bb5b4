/**
 * Turns a request's credential into a principal, and a principal plus a namespace into the
 * scopes it holds there. New credential kinds register a resolver here; routes never change.
 */
import { and, eq, or } from 'drizzle-orm'
import { TtlCache } from '../../lib/ttl-cache'
import { memberships, namespaces } from '../../store/schema'
import type { Deps } from '../deps'
import { errors } from '../errors'
import { authenticateApiKey } from './api-keys'
import type { NamespaceAccess, Principal } from './principal'
import { isRole, ROLE_SCOPES } from './roles'
import { ALL_SCOPES } from './scopes'

/** Resolves one kind of bearer credential; null when the token is not of its kind or invalid. */
export type BearerResolver = (deps: Deps, token: string) => Promise<Principal | null>

const bearerResolvers: BearerResolver[] = [(deps, token) => authenticateApiKey(deps, token)]

/** Adds a credential kind (OAuth client tokens, user session tokens). */
export function registerBearerResolver(resolver: BearerResolver): void {
  bearerResolvers.push(resolver)
}

export async function authenticateBearer(deps: Deps, token: string): Promise<Principal | null> {
  for (const resolve of bearerResolvers) {
    const principal = await resolve(deps, token)
    if (principal) return principal
  }
  return null
}

/** Membership changes from another process are seen within this long. */
const ACCESS_CACHE_TTL_MS = 1000
const accessCache = new TtlCache<NamespaceAccess | null>(ACCESS_CACHE_TTL_MS)

export function invalidateAccessCache(): void {
  accessCache.clear()
}

/**
 * The principal's access to the namespace named `ref` (slug or id), or a 404 — the same 404
 * whether the namespace does not exist or the principal may not see it.
 */
export async function namespaceAccess(deps: Deps, principal: Principal, ref: string): Promise<NamespaceAccess> {
  const notFound = () => errors.namespaceNotFound(`namespace "${ref}" does not exist`)
  if (principal.kind === 'application') {
    if (ref !== principal.namespaceSlug && ref !== principal.namespaceId) throw notFound()
    return { namespaceId: principal.namespaceId, namespaceSlug: principal.namespaceSlug, scopes: principal.scopes, role: null }
  }
  const key = `${principal.userId}\u0000${ref}`
  let access = accessCache.get(key)
  if (access === undefined) {
    const [row] = await deps.store.read
      .select({ id: namespaces.id, slug: namespaces.slug, status: namespaces.status, role: memberships.role })
      .from(namespaces)
      .leftJoin(memberships, and(eq(memberships.namespaceId, namespaces.id), eq(memberships.userId, principal.userId)))
      .where(or(eq(namespaces.slug, ref), eq(namespaces.id, ref)))
    access = null
    if (row && (row.status === 'active' || principal.instanceAdmin)) {
      const role = row.role && isRole(row.role) ? row.role : null
      // An instance admin holds every scope everywhere, member or not; the role is only shown.
      if (principal.instanceAdmin) access = { namespaceId: row.id, namespaceSlug: row.slug, scopes: new Set(ALL_SCOPES), role }
      else if (role) access = { namespaceId: row.id, namespaceSlug: row.slug, scopes: ROLE_SCOPES[role], role }
    }
    accessCache.set(key, access)
  }
  if (!access) throw notFound()
  return access
}
