/**
 * The purge of deleted namespaces (a named job, `namespace-purge`): once `purge_after` has
 * passed, every row of the namespace goes, table by table, in small batches, each its own short
 * transaction, so other writers never wait long for the lock. People stay (they are global);
 * their memberships go. One instance-level audit entry records that the namespace existed.
 */
import { and, eq, inArray, isNotNull, lte, sql } from 'drizzle-orm'
import { emailVerifications, namespaces } from '../../store/schema'
import { recordAudit } from '../audit'
import { type Deps, now } from '../deps'
import { namespacedTables } from './tables'

// 500 rows: a few milliseconds of lock per batch even for messages with large content.
export const PURGE_BATCH_ROWS = 500

export interface PurgeReport {
  /** Slugs purged. */
  purged: string[]
  /** Rows deleted per table, over all of them. */
  rows: Record<string, number>
}

/** Purges every namespace whose grace period is over (or whose purge was interrupted). */
export async function purgeDueNamespaces(deps: Deps, opts: { batchRows?: number; signal?: AbortSignal } = {}): Promise<PurgeReport> {
  const due = await deps.store.read
    .select({ id: namespaces.id })
    .from(namespaces)
    .where(and(inArray(namespaces.status, ['disabled', 'purging']), isNotNull(namespaces.purgeAfter), lte(namespaces.purgeAfter, now(deps))))
  const report: PurgeReport = { purged: [], rows: {} }
  for (const { id } of due) {
    if (opts.signal?.aborted) break
    await purgeNamespace(deps, id, report, opts.batchRows ?? PURGE_BATCH_ROWS, opts.signal)
  }
  return report
}

/**
 * Deletes one namespace's rows. The namespace is marked `purging` first, so it cannot be
 * restored half-empty; a purge cut short (a crash, a stop) is finished by the next run.
 */
async function purgeNamespace(deps: Deps, namespaceId: string, report: PurgeReport, batchRows: number, signal?: AbortSignal): Promise<void> {
  const [ns] = await deps.store.tx((tx) =>
    tx
      .update(namespaces)
      .set({ status: 'purging', updatedAt: now(deps) })
      .where(and(eq(namespaces.id, namespaceId), inArray(namespaces.status, ['disabled', 'purging'])))
      .returning(),
  )
  if (!ns) return
  for (const table of namespacedTables()) {
    for (;;) {
      const deleted = await deps.store.tx(async (tx) => {
        const batch = (await tx
          .select({ rid: sql<number>`rowid` })
          .from(table.table as never)
          .where(eq(table.namespaceColumn, namespaceId))
          .limit(batchRows)) as { rid: number }[]
        if (batch.length > 0) await tx.delete(table.table).where(inArray(sql`rowid`, batch.map((b) => b.rid)))
        return batch.length
      })
      report.rows[table.name] = (report.rows[table.name] ?? 0) + deleted
      if (deleted < batchRows) break
      // Stopping: the namespace stays `purging`, and the next run finishes it.
      if (signal?.aborted) return
      // Let queued writes (sends, status callbacks) take the lock between batches.
      await Bun.sleep(0)
    }
  }
  await deps.store.tx(async (tx) => {
    // Used signup links that asked for this name: the last place its slug appears.
    await tx
      .delete(emailVerifications)
      .where(and(isNotNull(emailVerifications.usedAt), sql`json_extract(${emailVerifications.request}, '$.namespace') = ${ns.slug}`))
    // Status reports waiting for its channels went with the channels (ON DELETE CASCADE).
    await tx.delete(namespaces).where(eq(namespaces.id, namespaceId))
    await recordAudit(tx, {
      namespaceId: null,
      actor: { type: 'system', id: null },
      action: 'job namespace-purge',
      resource: { type: 'namespace', id: namespaceId },
      detail: { slug: ns.slug, disabled_at: ns.disabledAt ?? 0 },
      at: now(deps),
    })
  })
  report.purged.push(ns.slug)
}
