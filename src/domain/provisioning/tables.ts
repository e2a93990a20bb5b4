/**
 * The tables that hold a tenant's rows: every table of the schema with a `namespace_id` column,
 * found from the schema itself, so a table added later is exported and purged without anyone
 * remembering to list it here. The order only says which go first when purging (children
 * before the rows they reference); unknown tables go first, being most likely leaves.
 *
 * Each table is walked in the order of its key (its primary key, or else its unique index):
 * never by `rowid`, which a `WITHOUT ROWID` table (the rollups) does not have, and which a
 * VACUUM may renumber.
 */
import { is, type SQL, sql } from 'drizzle-orm'
import { getTableConfig, SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core'
import * as schema from '../../store/schema'

export interface NamespacedTable {
  name: string
  table: SQLiteTable
  namespaceColumn: SQLiteColumn
  /** Property name → column name (`createdAt` → `created_at`). */
  columns: [property: string, column: string][]
  /** The columns that identify a row: the primary key, or else the unique index. */
  key: SQLiteColumn[]
  /**
   * The key without a leading `namespace_id` (fixed while walking one namespace): the columns a
   * walk orders and resumes by, so SQLite reads the key's index from where the last batch ended.
   */
  cursor: SQLiteColumn[]
}

/** A table's row key: its primary key, or else its first unique index of plain columns. */
function rowKey(name: string, config: ReturnType<typeof getTableConfig>): SQLiteColumn[] {
  const composite = config.primaryKeys[0]?.columns
  if (composite && composite.length > 0) return composite
  const single = config.columns.filter((c) => c.primary)
  if (single.length > 0) return single
  for (const index of config.indexes) {
    const columns = index.config.columns
    if (index.config.unique && !index.config.where && columns.every((c) => is(c, SQLiteColumn))) return columns as SQLiteColumn[]
  }
  throw new Error(`table ${name} has a namespace_id but neither a primary key nor a unique index: it cannot be walked in batches`)
}

const PURGE_ORDER = [
  'webhook_attempts',
  'webhook_deliveries',
  'message_events',
  'messages',
  'idempotency_keys',
  'suppressions',
  'usage_counters',
  'message_rollups',
  'latency_rollups',
  'failure_rollups',
  'webhooks',
  'terminals',
  'oauth_clients',
  'api_keys',
  'applications',
  'channels',
  'invitations',
  'memberships',
  'provisioning_jobs',
  'audit_log',
]

let cached: NamespacedTable[] | null = null

/** Every table with a `namespace_id` column, in purge order (the `namespaces` row itself is not one). */
export function namespacedTables(): NamespacedTable[] {
  if (cached) return cached
  const found: NamespacedTable[] = []
  for (const value of Object.values(schema)) {
    if (!is(value, SQLiteTable)) continue
    const config = getTableConfig(value)
    const namespaceColumn = config.columns.find((c) => c.name === 'namespace_id')
    if (!namespaceColumn) continue
    const columns = Object.entries(value as unknown as Record<string, unknown>)
      .filter(([, column]) => config.columns.includes(column as SQLiteColumn))
      .map(([property, column]) => [property, (column as SQLiteColumn).name] as [string, string])
    const key = rowKey(config.name, config)
    const cursor = key[0] === namespaceColumn ? key.slice(1) : key
    found.push({ name: config.name, table: value, namespaceColumn, columns, key, cursor: cursor.length > 0 ? cursor : key })
  }
  const rank = (name: string) => PURGE_ORDER.indexOf(name)
  cached = found.sort((a, b) => rank(a.name) - rank(b.name))
  return cached
}

/** Secret-bearing columns left out of an export (hashes of keys, tokens and passwords). Sealed `*_enc` columns stay sealed. */
export const isHashColumn = (column: string) => column === 'hash' || column.endsWith('_hash')

/** A row as its columns are named in the database, hashes left out. */
export function rowByColumn(table: NamespacedTable | { columns: [string, string][] }, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [property, column] of table.columns) if (!isHashColumn(column)) out[column] = row[property]
  return out
}

/** A row's position in a walk: the values of its cursor columns. */
export type CursorValue = unknown[]

const propertyOf = (table: NamespacedTable, column: SQLiteColumn) => table.columns.find(([, name]) => name === column.name)![0]

/** A selection of the cursor columns alone, under their schema property names (what `cursorOf` reads). */
export function keySelection(table: NamespacedTable): Record<string, SQLiteColumn> {
  return Object.fromEntries(table.cursor.map((column) => [propertyOf(table, column), column]))
}

/** The cursor of a row as drizzle returns it (properties named as in the schema). */
export function cursorOf(table: NamespacedTable, row: Record<string, unknown>): CursorValue {
  return table.cursor.map((column) => row[propertyOf(table, column)])
}

/**
 * `(a, b) > (?, ?)` (or `<=`) over the cursor columns: a row-value comparison SQLite answers
 * from the key's index as a range, so each batch starts where the previous one ended.
 */
export function cursorCompare(table: NamespacedTable, op: '>' | '<=', value: CursorValue): SQL {
  // Bound through each column's own encoder: the values came back decoded by drizzle.
  const values = value.map((v, i) => sql.param(v, table.cursor[i]))
  if (table.cursor.length === 1) return sql`${table.cursor[0]} ${sql.raw(op)} ${values[0]}`
  return sql`(${sql.join(table.cursor, sql`, `)}) ${sql.raw(op)} (${sql.join(values, sql`, `)})`
}
