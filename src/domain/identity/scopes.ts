/** Every scope a credential can hold; each route declares the one it needs. */
export const ALL_SCOPES = [
  'messages:send',
  'messages:read',
  'channels:read',
  'channels:write',
  'webhooks:read',
  'webhooks:write',
  'apps:read',
  'apps:write',
  'members:read',
  'members:write',
  'analytics:read',
  'audit:read',
] as const

export type Scope = (typeof ALL_SCOPES)[number]

export function isScope(value: string): value is Scope {
  return (ALL_SCOPES as readonly string[]).includes(value)
}
