/**
 * Deleting a tenant happens in two stages: at once it is disabled (its keys, tokens and members
 * are refused, the dispatcher skips its messages, its webhooks send nothing more), and after
 * `[retention] purge_grace_days` the purge job removes every row of it. Until then it can be
 * exported, or restored.
 */
import { and, eq } from 'drizzle-orm'
import { namespaces, provisioningJobs, webhookDeliveries, webhooks } from '../../store/schema'
import { invalidateChannelCache } from '../channels/resolve'
import { type Deps, now } from '../deps'
import { errors } from '../errors'
import { invalidateApiKeyCache } from '../identity/api-keys'
import { invalidateAccessCache } from '../identity/authenticate'
import { invalidateClientCache } from '../identity/clients'
import type { Namespace } from '../namespaces'
import { invalidateWebhookCache } from '../webhooks/emit'

const DAY_MS = 24 * 60 * 60 * 1000
/** `disabled_reason` of the endpoints a deletion turned off: a restore turns exactly these back on. */
export const NAMESPACE_DELETED = 'namespace_deleted'
/** `last_error` of the deliveries a deletion cancelled. */
export const DELIVERY_CANCELLED = 'cancelled: the namespace was deleted'

export function deletionView(ns: Namespace) {
  return {
    id: ns.id,
    slug: ns.slug,
    status: ns.status,
    disabled_at: ns.disabledAt === null ? null : new Date(ns.disabledAt).toISOString(),
    purge_after: ns.purgeAfter === null ? null : new Date(ns.purgeAfter).toISOString(),
  }
}

/** Credentials of the namespace checked in this process stop working now, not in a second. */
function forgetCredentials(): void {
  invalidateApiKeyCache()
  invalidateClientCache()
  invalidateAccessCache()
  invalidateChannelCache()
  invalidateWebhookCache()
}

/**
 * Disables a namespace for deletion: status `disabled`, `disabled_at` now, `purge_after` after
 * the grace period; an unfinished provisioning job of it fails. Its webhooks go quiet in the
 * same transaction: pending deliveries are cancelled (`failed`, lease cleared, so one in flight
 * cannot record an outcome that would retry it) and enabled endpoints disabled with reason
 * `namespace_deleted`, so an event raised later (a late status report) is not queued either.
 * Deleting again changes nothing.
 */
export async function disableNamespace(deps: Deps, namespaceId: string): Promise<Namespace> {
  const at = now(deps)
  const ns = await deps.store.tx(async (tx) => {
    const [current] = await tx.select().from(namespaces).where(eq(namespaces.id, namespaceId))
    if (!current) throw errors.namespaceNotFound('the namespace does not exist')
    if (current.status !== 'active') return current
    const [row] = await tx
      .update(namespaces)
      .set({ status: 'disabled', disabledAt: at, purgeAfter: at + deps.config.retention.purge_grace_days * DAY_MS, updatedAt: at })
      .where(eq(namespaces.id, namespaceId))
      .returning()
    await tx
      .update(provisioningJobs)
      .set({ status: 'failed', error: 'the namespace was deleted', nextAttemptAt: null, leaseOwner: null, leaseUntil: null, updatedAt: at })
      .where(and(eq(provisioningJobs.namespaceId, namespaceId), eq(provisioningJobs.status, 'pending')))
    await tx
      .update(webhookDeliveries)
      .set({ status: 'failed', nextAttemptAt: null, leaseOwner: null, leaseUntil: null, lastError: DELIVERY_CANCELLED, updatedAt: at })
      .where(and(eq(webhookDeliveries.namespaceId, namespaceId), eq(webhookDeliveries.status, 'pending')))
    await tx
      .update(webhooks)
      .set({ enabled: false, disabledReason: NAMESPACE_DELETED, updatedAt: at })
      .where(and(eq(webhooks.namespaceId, namespaceId), eq(webhooks.enabled, true)))
    return row!
  })
  forgetCredentials()
  return ns
}

/**
 * Undoes a deletion during the grace period (operator: `omnigate namespace restore`): the
 * endpoints the deletion disabled are enabled again; the deliveries it cancelled stay failed
 * (the owner can send them again with `POST …/webhooks/{id}/recover`).
 */
export async function restoreNamespace(deps: Deps, namespaceId: string): Promise<Namespace> {
  const ns = await deps.store.tx(async (tx) => {
    const [current] = await tx.select().from(namespaces).where(eq(namespaces.id, namespaceId))
    if (!current) throw errors.namespaceNotFound('the namespace does not exist')
    if (current.status === 'active') return current
    if (current.status !== 'disabled') throw errors.conflict(`the namespace is being purged (status ${current.status}); it cannot be restored`)
    const at = now(deps)
    const [row] = await tx
      .update(namespaces)
      .set({ status: 'active', disabledAt: null, purgeAfter: null, updatedAt: at })
      .where(eq(namespaces.id, namespaceId))
      .returning()
    await tx
      .update(webhooks)
      // The failure clock starts again, as a re-enable does: time spent deleted made no attempts.
      .set({ enabled: true, disabledReason: null, failingSince: null, updatedAt: at })
      .where(and(eq(webhooks.namespaceId, namespaceId), eq(webhooks.enabled, false), eq(webhooks.disabledReason, NAMESPACE_DELETED)))
    return row!
  })
  forgetCredentials()
  return ns
}
