/**
 * Webhook deliveries: the log an operator reads (every attempt with its answer), and the
 * recovery tools — retry one delivery, recover every failed delivery since a time.
 */
import { and, asc, desc, eq, gte, inArray, lt, type SQL } from 'drizzle-orm'
import { webhookAttempts, webhookDeliveries } from '../../store/schema'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'
import { getWebhook } from './endpoints'

export type Delivery = typeof webhookDeliveries.$inferSelect
export type Attempt = typeof webhookAttempts.$inferSelect

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

export function deliveryView(d: Delivery, attempts?: Attempt[]) {
  return {
    id: d.id,
    webhook_id: d.webhookId,
    event_id: d.eventId,
    event_type: d.eventType,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.status === 'pending' ? iso(d.nextAttemptAt) : null,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    created_at: iso(d.createdAt),
    updated_at: iso(d.updatedAt),
    ...(attempts
      ? {
          attempt_log: attempts.map((a) => ({
            at: iso(a.attemptedAt),
            status_code: a.statusCode,
            latency_ms: a.latencyMs,
            response: a.response,
            error: a.error,
          })),
        }
      : {}),
  }
}

export interface DeliveryQuery {
  limit: number
  cursor?: string
  status?: 'pending' | 'succeeded' | 'failed'
  event_type?: string
  since?: string
}

export async function listDeliveries(deps: Deps, namespaceId: string, webhookId: string, q: DeliveryQuery) {
  await getWebhook(deps, namespaceId, webhookId)
  const where: SQL[] = [eq(webhookDeliveries.namespaceId, namespaceId), eq(webhookDeliveries.webhookId, webhookId)]
  if (q.cursor) where.push(lt(webhookDeliveries.id, q.cursor))
  if (q.status) where.push(eq(webhookDeliveries.status, q.status))
  if (q.event_type) where.push(eq(webhookDeliveries.eventType, q.event_type))
  if (q.since) where.push(gte(webhookDeliveries.createdAt, Date.parse(q.since)))
  const rows = await deps.store.read
    .select()
    .from(webhookDeliveries)
    .where(and(...where))
    .orderBy(desc(webhookDeliveries.id))
    .limit(q.limit + 1)
  const page = rows.slice(0, q.limit)
  const attempts = page.length
    ? await deps.store.read
        .select()
        .from(webhookAttempts)
        .where(inArray(webhookAttempts.deliveryId, page.map((d) => d.id)))
        .orderBy(asc(webhookAttempts.id))
    : []
  return {
    data: page.map((d) => deliveryView(d, attempts.filter((a) => a.deliveryId === d.id))),
    next_cursor: rows.length > q.limit ? page.at(-1)!.id : null,
  }
}

/** A retry or recovery only makes sense for an endpoint that receives. */
async function enabledWebhook(deps: Deps, namespaceId: string, webhookId: string) {
  const hook = await getWebhook(deps, namespaceId, webhookId)
  if (!hook.enabled) throw errors.webhookDisabled(`webhook "${webhookId}" is disabled (${hook.disabledReason}); enable it first`)
  return hook
}

/** Sends one delivery again now, whatever its state (a replay keeps its webhook-id). */
export async function retryDelivery(deps: Deps, namespaceId: string, webhookId: string, deliveryId: string) {
  await enabledWebhook(deps, namespaceId, webhookId)
  const at = now(deps)
  const row = await deps.store.write(async (tx) => {
    const [current] = await tx
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.namespaceId, namespaceId), eq(webhookDeliveries.webhookId, webhookId), eq(webhookDeliveries.id, deliveryId)))
    if (!current) throw errors.deliveryNotFound(`delivery "${deliveryId}" does not exist`)
    // An attempt in flight keeps its lease: clearing it would send the delivery twice at once.
    if (current.leaseUntil !== null && current.leaseUntil > at) throw errors.conflict('this delivery is being attempted right now')
    const [updated] = await tx
      .update(webhookDeliveries)
      .set({ status: 'pending', nextAttemptAt: at, updatedAt: at })
      .where(eq(webhookDeliveries.id, current.id))
      .returning()
    return updated!
  })
  deps.signalWork?.()
  return deliveryView(row)
}

/** Queues again every failed (dead-lettered) delivery of an endpoint created since `since`. */
export async function recoverDeliveries(deps: Deps, namespaceId: string, webhookId: string, since: string) {
  const from = Date.parse(since)
  if (Number.isNaN(from)) throw invalidField('since', 'must be an RFC 3339 date-time')
  await enabledWebhook(deps, namespaceId, webhookId)
  const at = now(deps)
  const rows = await deps.store.write((tx) =>
    tx
      .update(webhookDeliveries)
      .set({ status: 'pending', nextAttemptAt: at, updatedAt: at })
      .where(
        and(
          eq(webhookDeliveries.namespaceId, namespaceId),
          eq(webhookDeliveries.webhookId, webhookId),
          eq(webhookDeliveries.status, 'failed'),
          gte(webhookDeliveries.createdAt, from),
        ),
      )
      .returning({ id: webhookDeliveries.id }),
  )
  deps.signalWork?.()
  return { recovered: rows.length }
}
