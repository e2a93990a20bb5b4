/**
 * The tables that hold a tenant's rows: every table of the schema with a `namespace_id` column,
 * found from the schema itself, so a table added later is exported and purged without anyone
 * remembering to list it here. The order only says which go first when purging (children
 * before the rows they reference); unknown tables go first, being most likely leaves.
 */
import { is } from 'drizzle-orm'
import { getTableConfig, type SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core'
import * as schema from '../../store/schema'

export interface NamespacedTable {
  name: string
  table: SQLiteTable
  namespaceColumn: SQLiteColumn
  /** Property name → column name (`createdAt` → `created_at`). */
  columns: [property: string, column: string][]
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
    found.push({ name: config.name, table: value, namespaceColumn, columns })
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
