/**
 * Who a request is: an application (by API key or OAuth client token) bound to one namespace,
 * or a user (by session token or cookie) whose rights depend on the namespace addressed.
 */
import type { Scope } from './scopes'

export interface ApplicationPrincipal {
  kind: 'application'
  credential: 'api_key' | 'client'
  /** The key or client id. */
  credentialId: string
  applicationId: string
  namespaceId: string
  namespaceSlug: string
  scopes: ReadonlySet<Scope>
  expiresAt: number | null
}

export interface UserPrincipal {
  kind: 'user'
  userId: string
  email: string
  sessionId: string
  instanceAdmin: boolean
}

export type Principal = ApplicationPrincipal | UserPrincipal

/** What a principal may do in one namespace, once the namespace guard resolved it. */
export interface NamespaceAccess {
  namespaceId: string
  namespaceSlug: string
  scopes: ReadonlySet<Scope>
  /** The member's role; null for applications and for instance admins without membership. */
  role: string | null
}
