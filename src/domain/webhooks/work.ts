/**
 * The deliverer's side of the webhook outbox: claim due deliveries fairly (at most a few in
 * flight per endpoint, the oldest of each endpoint first), and record each attempt's outcome:
 * success, a retry on the schedule, a dead letter, or a disabled endpoint.
 */
import { and, eq, inArray, sql } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { webhookAttempts, webhookDeliveries, webhooks } from '../../store/schema'
import type { Store } from '../../store/store'
import { emitEvents, invalidateWebhookCache } from './emit'
import type { Delivery } from './deliveries'

/**
 * Claims up to `limit` due deliveries, at most `perEndpoint` in flight per endpoint, taking
 * from each endpoint in turn (the oldest first) so one endpoint's backlog cannot crowd out the
 * others. Every query reads the `webhook_deliveries_pending` index, so a large backlog costs
 * little.
 */
export async function claimDueDeliveries(
  store: Store,
  owner: string,
  opts: { limit: number; perEndpoint: number; leaseMs: number },
  at: number,
): Promise<Delivery[]> {
  // An idle poll must not take the write lock: look first, through the reader.
  const anyDue = await store.read.all(sql`SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ${at} LIMIT 1`)
  if (anyDue.length === 0) return []
  return store.tx(async (tx) => {
    const endpoints = (await tx.all(sql`
      SELECT w.id AS id,
        (SELECT count(*) FROM webhook_deliveries f
          WHERE f.webhook_id = w.id AND f.status = 'pending' AND f.lease_until > ${at}) AS in_flight
      FROM webhooks w
      WHERE w.enabled = 1 AND EXISTS (
        SELECT 1 FROM webhook_deliveries d
        WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= ${at})`)) as { id: string; in_flight: number }[]
    const picked: string[] = []
    for (const endpoint of endpoints) {
      const room = Math.min(opts.perEndpoint - endpoint.in_flight, opts.limit - picked.length)
      if (room <= 0) continue
      const due = (await tx.all(sql`
        SELECT id FROM webhook_deliveries
        WHERE webhook_id = ${endpoint.id} AND status = 'pending' AND next_attempt_at <= ${at}
          AND (lease_until IS NULL OR lease_until <= ${at})
        ORDER BY next_attempt_at, id LIMIT ${room}`)) as { id: string }[]
      picked.push(...due.map((d) => d.id))
      if (picked.length >= opts.limit) break
    }
    if (picked.length === 0) return []
    return tx
      .update(webhookDeliveries)
      .set({ leaseOwner: owner, leaseUntil: at + opts.leaseMs, attempts: sql`${webhookDeliveries.attempts} + 1`, updatedAt: at })
      .where(inArray(webhookDeliveries.id, picked))
      .returning()
  })
}

export interface AttemptRecord {
  statusCode: number | null
  latencyMs: number
  response: string | null
  error: string | null
}

export type DeliveryOutcome =
  | { kind: 'succeeded' }
  | { kind: 'retry'; nextAttemptAt: number }
  | { kind: 'dead' }
  /** The endpoint is gone (410) or has failed for too long: disable it. */
  | { kind: 'disable'; reason: string }
  | { kind: 'released' }
  /** Not attempted yet (rate limit): due again at `nextAttemptAt`, no attempt used up. */
  | { kind: 'deferred'; nextAttemptAt: number }

/** Records one attempt and its outcome, if `owner` still holds the delivery's lease. */
export async function completeDelivery(
  store: Store,
  owner: string,
  delivery: Delivery,
  attempt: AttemptRecord | null,
  outcome: DeliveryOutcome,
  at: number,
): Promise<boolean> {
  return store.write(async (tx) => {
    const requeued = outcome.kind === 'retry' || outcome.kind === 'released' || outcome.kind === 'deferred'
    const status = outcome.kind === 'succeeded' ? 'succeeded' : requeued ? 'pending' : 'failed'
    const rows = await tx
      .update(webhookDeliveries)
      .set({
        status,
        nextAttemptAt: outcome.kind === 'retry' || outcome.kind === 'deferred' ? outcome.nextAttemptAt : outcome.kind === 'released' ? at : null,
        // A release (shutdown, a disabled endpoint) or a deferral was no attempt: it must not use one up.
        ...(outcome.kind === 'released' || outcome.kind === 'deferred' ? { attempts: sql`${webhookDeliveries.attempts} - 1` } : {}),
        leaseOwner: null,
        leaseUntil: null,
        ...(attempt ? { lastStatusCode: attempt.statusCode, lastError: attempt.error } : {}),
        updatedAt: at,
      })
      .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.leaseOwner, owner), eq(webhookDeliveries.attempts, delivery.attempts)))
      .returning({ id: webhookDeliveries.id })
    if (!rows[0]) return false
    if (attempt) {
      await tx.insert(webhookAttempts).values({
        id: newId('wha'),
        deliveryId: delivery.id,
        webhookId: delivery.webhookId,
        namespaceId: delivery.namespaceId,
        attemptedAt: at - attempt.latencyMs,
        ...attempt,
      })
    }
    if (outcome.kind === 'succeeded') {
      await tx.update(webhooks).set({ failingSince: null }).where(and(eq(webhooks.id, delivery.webhookId), sql`failing_since IS NOT NULL`))
    } else if (outcome.kind === 'retry' || outcome.kind === 'dead') {
      await tx.update(webhooks).set({ failingSince: at }).where(and(eq(webhooks.id, delivery.webhookId), sql`failing_since IS NULL`))
    } else if (outcome.kind === 'disable') {
      const [hook] = await tx
        .update(webhooks)
        .set({ enabled: false, disabledReason: outcome.reason, updatedAt: at })
        .where(and(eq(webhooks.id, delivery.webhookId), eq(webhooks.enabled, true)))
        .returning()
      if (hook) {
        invalidateWebhookCache()
        await emitEvents(
          tx,
          hook.namespaceId,
          [{ type: 'webhook.disabled', id: newId('evt'), at, data: { webhook: { id: hook.id, url: hook.url }, reason: outcome.reason } }],
          at,
        )
      }
    }
    return true
  })
}

/** The endpoint and its sealed secrets, for one attempt. */
export async function loadEndpoint(store: Store, webhookId: string) {
  return (await store.read.select().from(webhooks).where(eq(webhooks.id, webhookId)))[0]
}
