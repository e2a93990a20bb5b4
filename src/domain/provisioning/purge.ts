/**
 * The purge of deleted namespaces (a named job, `namespace-purge`): once `purge_after` has
 * passed, every row of the namespace goes, table by table, in small batches, each its own short
 * transaction, so other writers never wait long for the lock. People stay (they are global);
 * their memberships go. One instance-level audit entry records that the namespace existed.
 *
 * A batch is found on the reader connection, along the table's key from where the last batch
 * ended (no lock held while looking: `message_events` has no namespace index, so looking means
 * reading past other tenants' rows), then deleted as that key range under the lock.
 */
import { and, eq, inArray, isNotNull, lte, sql } from 'drizzle-orm'
import { auditLog, emailVerifications, namespaces } from '../../store/schema'
import { recordAudit } from '../audit'
import { type Deps, now } from '../deps'
import { cursorCompare, cursorOf, type CursorValue, keySelection, type NamespacedTable, namespacedTables } from './tables'

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
  // Until a whole pass finds nothing: a row written meanwhile into a table already walked (an
  // inbound message or a late status report of a channel not purged yet) goes too.
  for (;;) {
    let found = 0
    for (const table of namespacedTables()) {
      const n = await purgeTable(deps, table, namespaceId, report, batchRows, signal)
      // Stopping: the namespace stays `purging`, and the next run finishes it.
      if (n === null) return
      found += n
    }
    if (found === 0) break
  }
  await deps.store.tx(async (tx) => {
    // Used signup links that asked for this name: the last place its slug appears.
    await tx
      .delete(emailVerifications)
      .where(and(isNotNull(emailVerifications.usedAt), sql`json_extract(${emailVerifications.request}, '$.namespace') = ${ns.slug}`))
    // Status reports waiting for its channels went with the channels (ON DELETE CASCADE), and
    // every table with a foreign key to the namespace follows it; the audit log has none, so
    // an entry written after the last pass (a request of an instance admin) is deleted here.
    await tx.delete(auditLog).where(eq(auditLog.namespaceId, namespaceId))
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

/**
 * Deletes a namespace's rows of one table: walks the table's key in batches, and walks again
 * from the start until a walk finds nothing (a row written behind the cursor meanwhile is not
 * left behind). Returns how many rows the walks found, or null when stopped by `signal`.
 */
async function purgeTable(deps: Deps, table: NamespacedTable, namespaceId: string, report: PurgeReport, batchRows: number, signal?: AbortSignal): Promise<number | null> {
  const mine = eq(table.namespaceColumn, namespaceId)
  let total = 0
  for (;;) {
    let after: CursorValue | null = null
    let found = 0
    for (;;) {
      if (signal?.aborted) return null
      const batch = (await deps.store.read
        .select(keySelection(table))
        .from(table.table as never)
        .where(and(mine, after ? cursorCompare(table, '>', after) : undefined))
        .orderBy(...table.cursor)
        .limit(batchRows)) as Record<string, unknown>[]
      if (batch.length === 0) break
      found += batch.length
      const last = cursorOf(table, batch[batch.length - 1]!)
      const from = after
      // The key range of the batch, of this namespace: what was found, and anything written into it since.
      const deleted = await deps.store.tx((tx) =>
        tx
          .delete(table.table)
          .where(and(mine, from ? cursorCompare(table, '>', from) : undefined, cursorCompare(table, '<=', last)))
          .returning({ one: sql<number>`1` }),
      )
      report.rows[table.name] = (report.rows[table.name] ?? 0) + deleted.length
      after = last
      if (batch.length < batchRows) break
      // Let queued writes (sends, status callbacks) take the lock between batches.
      await Bun.sleep(0)
    }
    if (found === 0) return total
    total += found
  }
}
