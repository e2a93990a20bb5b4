/**
 * The deliverer's side of the webhook outbox: claim due deliveries fairly (at most a few in
 * flight per endpoint, the oldest of each endpoint first), and record each attempt's outcome:
 * success, a retry on the schedule, a dead letter, or a disabled endpoint.
 */
import { and, eq } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { all, run } from '../../store/raw'
import { webhooks } from '../../store/schema'
import type { Store } from '../../store/store'
import { emitEvents, endpointCache, invalidateWebhookCache } from './emit'
import type { Delivery } from './deliveries'

/**
 * The most of one endpoint's deliveries a claim takes: half its concurrency (a cap of 1 or 2
 * whole). An endpoint's deliveries in flight answer at about the same time and their
 * completions share a commit, so their slots free together: a claim of the whole cap made one
 * group that went round claim → POST → completion, the event loop idle while it waited on the
 * receiver. Two half claims make two groups that take turns: one is on the wire while the
 * other's completions are written (docs/performance.md, sixth round: one endpoint at 64,
 * 9.3–10.2k → 11.5–12.2k deliveries/s in-process).
 */
export function endpointShare(perEndpoint: number): number {
  return perEndpoint <= 2 ? perEndpoint : Math.ceil(perEndpoint / 2)
}

/**
 * Claims up to `limit` due deliveries, at most `perEndpoint` in flight per endpoint and
 * `endpointShare(perEndpoint)` of them per claim, taking from each endpoint in turn (the oldest
 * first) so one endpoint's backlog cannot crowd out the others. `more`: an endpoint was held to
 * its share with room and work left, so the caller should claim again at once. Every query
 * reads the `webhook_deliveries_pending` index, so a large backlog costs little.
 */
export async function claimDueDeliveries(
  store: Store,
  owner: string,
  opts: { limit: number; perEndpoint: number; leaseMs: number },
  at: number,
): Promise<{ deliveries: Delivery[]; more: boolean }> {
  // An idle poll must not take the write lock: look first, through the reader.
  const anyDue = await all(store.read, ANY_DUE, [at])
  if (anyDue.length === 0) return { deliveries: [], more: false }
  return store.tx(async (tx) => {
    const endpoints = await all<{ id: string; in_flight: number }>(tx, ENDPOINTS_DUE, [at, at])
    const share = endpointShare(opts.perEndpoint)
    const picked: string[] = []
    let more = false
    for (const endpoint of endpoints) {
      const free = opts.perEndpoint - endpoint.in_flight
      const room = Math.min(free, share, opts.limit - picked.length)
      if (room <= 0) continue
      const due = await all<{ id: string }>(tx, DUE, [endpoint.id, at, at, room])
      for (const d of due) picked.push(d.id)
      if (due.length === share && free > share) more = true
      if (picked.length >= opts.limit) break
    }
    if (picked.length === 0) return { deliveries: [], more: false }
    const claimed = await all<DeliveryRow>(tx, CLAIM, [owner, at + opts.leaseMs, at, JSON.stringify(picked)])
    return { deliveries: claimed.map(deliveryFromRow), more }
  })
}

// Claims and completions run for every delivery: hand-written SQL (src/store/raw.ts).
const ANY_DUE = "SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1"
const ENDPOINTS_DUE = `SELECT w.id AS id,
  (SELECT count(*) FROM webhook_deliveries f WHERE f.webhook_id = w.id AND f.status = 'pending' AND f.lease_until > ?) AS in_flight
  FROM webhooks w
  WHERE w.enabled = 1 AND EXISTS (
    SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= ?)`
const DUE = `SELECT id FROM webhook_deliveries
  WHERE webhook_id = ? AND status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
  ORDER BY next_attempt_at, id LIMIT ?`
const DELIVERY_COLUMNS =
  'id, namespace_id, webhook_id, event_id, event_type, payload, status, attempts, next_attempt_at, lease_owner, lease_until, ' +
  'last_status_code, last_error, created_at, updated_at'
const CLAIM =
  'UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? ' +
  `WHERE id IN (SELECT value FROM json_each(?)) RETURNING ${DELIVERY_COLUMNS}`

interface DeliveryRow {
  id: string
  namespace_id: string
  webhook_id: string
  event_id: string
  event_type: string
  payload: string
  status: string
  attempts: number
  next_attempt_at: number | null
  lease_owner: string | null
  lease_until: number | null
  last_status_code: number | null
  last_error: string | null
  created_at: number
  updated_at: number
}

const deliveryFromRow = (r: DeliveryRow): Delivery => ({
  id: r.id,
  namespaceId: r.namespace_id,
  webhookId: r.webhook_id,
  eventId: r.event_id,
  eventType: r.event_type,
  payload: r.payload,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  leaseOwner: r.lease_owner,
  leaseUntil: r.lease_until,
  lastStatusCode: r.last_status_code,
  lastError: r.last_error,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

/** Only the holder of the lease for this very attempt records it. */
const COMPLETE =
  'UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, attempts = attempts + ?, lease_owner = NULL, lease_until = NULL, ' +
  'last_status_code = CASE WHEN ? THEN ? ELSE last_status_code END, last_error = CASE WHEN ? THEN ? ELSE last_error END, updated_at = ? ' +
  'WHERE id = ? AND lease_owner = ? AND attempts = ? RETURNING id'
const INSERT_ATTEMPT =
  'INSERT INTO webhook_attempts (id, delivery_id, webhook_id, namespace_id, attempted_at, status_code, latency_ms, response, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'
const RECOVERED = 'UPDATE webhooks SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL'
const FAILING = 'UPDATE webhooks SET failing_since = ? WHERE id = ? AND failing_since IS NULL'

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
    const nextAttemptAt = outcome.kind === 'retry' || outcome.kind === 'deferred' ? outcome.nextAttemptAt : outcome.kind === 'released' ? at : null
    // A release (shutdown, a disabled endpoint) or a deferral was no attempt: it must not use one up.
    const attemptsDelta = outcome.kind === 'released' || outcome.kind === 'deferred' ? -1 : 0
    const recorded = attempt ? 1 : 0
    const rows = await all<{ id: string }>(tx, COMPLETE, [
      status,
      nextAttemptAt,
      attemptsDelta,
      recorded,
      attempt?.statusCode ?? null,
      recorded,
      attempt?.error ?? null,
      at,
      delivery.id,
      owner,
      delivery.attempts,
    ])
    if (!rows[0]) return false
    if (attempt) {
      await run(tx, INSERT_ATTEMPT, [
        newId('wha'),
        delivery.id,
        delivery.webhookId,
        delivery.namespaceId,
        at - attempt.latencyMs,
        attempt.statusCode,
        attempt.latencyMs,
        attempt.response,
        attempt.error,
      ])
    }
    if (outcome.kind === 'succeeded') {
      await run(tx, RECOVERED, [delivery.webhookId])
    } else if (outcome.kind === 'retry' || outcome.kind === 'dead') {
      await run(tx, FAILING, [at, delivery.webhookId])
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

/**
 * The endpoint and its sealed secrets, for one attempt. Cached for a second (changes made in
 * this process clear it at once): a claim only takes deliveries of enabled endpoints anyway.
 */
export async function loadEndpoint(store: Store, webhookId: string) {
  const hit = endpointCache.get(webhookId)
  if (hit !== undefined) return hit ?? undefined
  const row = (await store.read.select().from(webhooks).where(eq(webhooks.id, webhookId)))[0]
  endpointCache.set(webhookId, row ?? null)
  return row
}
