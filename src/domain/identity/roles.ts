/** Member roles and the scopes each grants (README "Roles"). */
import { ALL_SCOPES, type Scope } from './scopes'

export const ROLES = ['owner', 'admin', 'developer', 'viewer'] as const
export type Role = (typeof ROLES)[number]

const VIEWER: Scope[] = ['messages:read', 'channels:read', 'webhooks:read', 'apps:read', 'members:read', 'analytics:read']
const DEVELOPER: Scope[] = [...VIEWER, 'messages:send', 'channels:write', 'webhooks:write', 'apps:write']
const ADMIN: Scope[] = [...DEVELOPER, 'members:write', 'audit:read']

export const ROLE_SCOPES: Record<Role, ReadonlySet<Scope>> = {
  viewer: new Set(VIEWER),
  developer: new Set(DEVELOPER),
  admin: new Set(ADMIN),
  // Owners can do everything admins can, and also remove other owners and delete the namespace.
  owner: new Set(ALL_SCOPES),
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value)
}
