/**
 * The portal records its changes in the audit log as the API's audit middleware does: the
 * actor, `<METHOD> <portal route template>`, the resource, the client address, and
 * `via: portal` with the session id. Never a form body.
 */
import type { Context } from 'hono'
import { recordAudit } from '../domain/audit'
import { type Deps, now } from '../domain/deps'
import { requestClientIp, UNKNOWN_CLIENT } from '../http/client-ip'
import type { PortalEnv } from './env'

export interface PortalAuditEntry {
  resource: { type: string; id: string | null }
  /** Null for actions outside a namespace (sign in, password). */
  namespaceId?: string | null
  /** The acting user when the request has none yet (sign in, accepting an invitation). */
  userId?: string | null
}

/** Records what this request just did; call it after the domain function succeeded. */
export async function auditPortal(deps: Deps, c: Context<PortalEnv>, entry: PortalAuditEntry): Promise<void> {
  const user = c.get('user')
  const userId = entry.userId ?? user?.userId ?? null
  const ip = requestClientIp(c, deps)
  await recordAudit(deps.store, {
    namespaceId: entry.namespaceId ?? c.get('access')?.namespaceId ?? null,
    actor: { type: userId ? 'user' : 'system', id: userId },
    action: `${c.req.method} ${c.req.routePath.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}')}`,
    resource: entry.resource,
    ip: ip === UNKNOWN_CLIENT ? null : ip,
    detail: { via: 'portal', ...(user ? { session_id: user.sessionId } : {}) },
    at: now(deps),
  })
}
