/**
 * The audit log: who (a user, an application, or the system) did what to which resource, when
 * and from where. The HTTP layer records every successful change made through the API; other
 * entry points (the CLI) call `recordAudit` themselves. Entries never hold request bodies, and
 * secret-looking details are dropped before they are stored.
 */
import { and, desc, eq, gte, lt, lte, type SQL } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { auditLog, namespaces } from '../../store/schema'
import type { Db, Store } from '../../store/store'
import type { Principal } from '../identity/principal'

export type AuditRow = typeof auditLog.$inferSelect
export type ActorType = 'user' | 'application' | 'system'

export interface AuditEntry {
  /** Null for instance-level actions. */
  namespaceId: string | null
  actor: { type: ActorType; id: string | null }
  /** `<METHOD> <route template>` for API calls (`POST /v1/namespaces/{ns}/channels`), `cli <command>` otherwise. */
  action: string
  resource: { type: string; id: string | null }
  ip?: string | null
  /** Small facts about the action (credential id, request id); never a request body or a secret. */
  detail?: Record<string, unknown>
  at: number
}

/**
 * Detail keys that could hold a secret, and values that look like one (API keys, client
 * secrets, refresh tokens, webhook secrets, JWTs, Authorization values): never stored.
 */
const SECRET_KEY = /secret|password|passwd|token|authorization|cookie|private|^key$/i
const SECRET_VALUE = /^(og_live_|og_secret_|ogs_|whsec_|ey[A-Za-z0-9_-]{10,}\.)|^(Bearer|Basic)\s/i

function scrub(detail: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(detail)) {
    if (SECRET_KEY.test(key)) continue
    if (typeof value === 'string' && SECRET_VALUE.test(value)) continue
    if (value === undefined || (value !== null && typeof value === 'object')) continue
    out[key] = value
  }
  return out
}

/** The actor of an API request. */
export function actorOf(principal: Principal): AuditEntry['actor'] {
  return principal.kind === 'user' ? { type: 'user', id: principal.userId } : { type: 'application', id: principal.applicationId }
}

/**
 * Appends one entry: inside an open transaction (`tx`), so it commits with the change it
 * describes, or through a store's shared write queue.
 */
export async function recordAudit(db: Db | Store, entry: AuditEntry): Promise<void> {
  const row: AuditRow = {
    id: newId('aud'),
    namespaceId: entry.namespaceId,
    actorType: entry.actor.type,
    actorId: entry.actor.id,
    action: entry.action.slice(0, 300),
    resourceType: entry.resource.type.slice(0, 100),
    resourceId: entry.resource.id && !SECRET_VALUE.test(entry.resource.id) ? entry.resource.id.slice(0, 300) : null,
    ip: entry.ip ?? null,
    detail: scrub(entry.detail ?? {}),
    createdAt: entry.at,
  }
  if ('write' in db) await db.write((tx) => tx.insert(auditLog).values(row))
  else await db.insert(auditLog).values(row)
}

export function auditView(row: AuditRow & { namespaceSlug?: string | null }) {
  return {
    id: row.id,
    ...(row.namespaceSlug !== undefined ? { namespace: row.namespaceSlug } : {}),
    actor_type: row.actorType,
    actor_id: row.actorId,
    action: row.action,
    resource_type: row.resourceType,
    resource_id: row.resourceId,
    ip: row.ip,
    detail: row.detail,
    created_at: new Date(row.createdAt).toISOString(),
  }
}

export interface AuditQuery {
  limit: number
  /** The last id of the previous page. */
  cursor?: string
  action?: string
  actor_id?: string
  /** RFC 3339 times (inclusive). */
  since?: string
  until?: string
}

function filters(q: AuditQuery): SQL[] {
  const where: SQL[] = []
  if (q.cursor) where.push(lt(auditLog.id, q.cursor))
  if (q.action) where.push(eq(auditLog.action, q.action))
  if (q.actor_id) where.push(eq(auditLog.actorId, q.actor_id))
  if (q.since) where.push(gte(auditLog.createdAt, Date.parse(q.since)))
  if (q.until) where.push(lte(auditLog.createdAt, Date.parse(q.until)))
  return where
}

function page<T extends { id: string }>(rows: T[], limit: number) {
  const data = rows.slice(0, limit)
  return { data, next_cursor: rows.length > limit ? data.at(-1)!.id : null }
}

/** One namespace's entries, newest first. */
export async function listAudit(deps: { store: Store }, namespaceId: string, q: AuditQuery) {
  const rows = await deps.store.read
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.namespaceId, namespaceId), ...filters(q)))
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1)
  const p = page(rows, q.limit)
  return { data: p.data.map((r) => auditView(r)), next_cursor: p.next_cursor }
}

/** Every namespace's entries and the instance-level ones, newest first (the operator's CLI). */
export async function listInstanceAudit(deps: { store: Store }, q: AuditQuery) {
  const rows = await deps.store.read
    .select({ row: auditLog, namespaceSlug: namespaces.slug })
    .from(auditLog)
    .leftJoin(namespaces, eq(namespaces.id, auditLog.namespaceId))
    .where(and(...filters(q)))
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1)
  const p = page(
    rows.map((r) => ({ ...r.row, namespaceSlug: r.namespaceSlug })),
    q.limit,
  )
  return { data: p.data.map((r) => auditView(r)), next_cursor: p.next_cursor }
}
