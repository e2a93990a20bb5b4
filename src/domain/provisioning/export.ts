/**
 * `omnigate namespace export NS > acme.ndjson`: every row of a namespace as NDJSON, one object
 * per line with a `table` field and the columns as the database names them. Secrets stay as
 * stored: sealed columns (`*_enc`) sealed under the master key, hashes of keys, tokens and
 * passwords left out. Read in pages, so a large tenant streams rather than fills memory.
 */
import { and, eq, inArray } from 'drizzle-orm'
import { channels, memberships, namespaces, pendingStatuses, users } from '../../store/schema'
import type { Db } from '../../store/store'
import type { Deps } from '../deps'
import { errors } from '../errors'
import { cursorCompare, cursorOf, type CursorValue, namespacedTables, rowByColumn } from './tables'

const EXPORT_PAGE_ROWS = 1000

type Emit = (line: string) => void | Promise<void>

export interface ExportSummary {
  /** Rows written per table. */
  tables: Record<string, number>
}

/** Columns of a table as drizzle declares them, for the tables read outside `namespacedTables`. */
function columnsOf(table: object): [string, string][] {
  return Object.entries(table as Record<string, unknown>)
    .filter(([, c]) => c !== null && typeof c === 'object' && 'name' in (c as object) && 'columnType' in (c as object))
    .map(([property, c]) => [property, (c as { name: string }).name])
}

export async function exportNamespace(deps: Pick<Deps, 'store'>, namespaceId: string, emit: Emit): Promise<ExportSummary> {
  const db = deps.store.read
  const summary: ExportSummary = { tables: {} }
  const write = async (table: string, row: Record<string, unknown>) => {
    await emit(JSON.stringify({ table, ...row }))
    summary.tables[table] = (summary.tables[table] ?? 0) + 1
  }
  const [ns] = await db.select().from(namespaces).where(eq(namespaces.id, namespaceId))
  if (!ns) throw errors.namespaceNotFound(`namespace "${namespaceId}" does not exist`)
  await write('namespaces', rowByColumn({ columns: columnsOf(namespaces) }, ns))

  // Parents before children: the reverse of the purge order, so a reader can load it in order.
  // Each table in pages along its key, each page resuming where the last one ended.
  for (const table of [...namespacedTables()].reverse()) {
    let after: CursorValue | null = null
    for (;;) {
      const page = (await (db as Db)
        .select()
        .from(table.table as never)
        .where(and(eq(table.namespaceColumn, namespaceId), after ? cursorCompare(table, '>', after) : undefined))
        .orderBy(...table.cursor)
        .limit(EXPORT_PAGE_ROWS)) as Record<string, unknown>[]
      for (const row of page) await write(table.name, rowByColumn(table, row))
      if (page.length < EXPORT_PAGE_ROWS) break
      after = cursorOf(table, page[page.length - 1]!)
    }
  }

  // Status reports waiting for a send: keyed by channel, not namespace.
  const channelIds = db.select({ id: channels.id }).from(channels).where(eq(channels.namespaceId, namespaceId))
  const pending = await db.select().from(pendingStatuses).where(inArray(pendingStatuses.channelId, channelIds))
  for (const row of pending) await write('pending_statuses', rowByColumn({ columns: columnsOf(pendingStatuses) }, row))

  // People are global; the members' identities come along (never their password hashes).
  const people = await db
    .select({ id: users.id, email: users.email, displayName: users.displayName, verified: users.verified, createdAt: users.createdAt })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.namespaceId, namespaceId))
  for (const person of people) {
    await write('users', { id: person.id, email: person.email, display_name: person.displayName, verified: person.verified, created_at: person.createdAt })
  }
  return summary
}
