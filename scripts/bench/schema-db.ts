/**
 * A database with the project's real schema (the SQL of migrations/index.ts) and the namespace
 * and channel a message row points to: what the raw bun:sqlite reference and the send floor
 * (scripts/bench/floor.ts) write into.
 */
import { Database } from 'bun:sqlite'
import { migrations } from '../../migrations/index'

export interface SchemaDatabase {
  db: Database
  namespaceId: string
  channelId: string
  /** Inserts a message row given by column name; every column of `messages` is bound, absent ones as NULL. */
  insertMessage(row: Record<string, string | number | null>): void
}

export function schemaDatabase(path: string, synchronous: 'NORMAL' | 'FULL'): SchemaDatabase {
  const db = new Database(path, { create: true, readwrite: true })
  db.run('PRAGMA journal_mode = WAL')
  db.run(`PRAGMA synchronous = ${synchronous}`)
  db.run('PRAGMA foreign_keys = OFF')
  db.transaction(() => {
    for (const m of migrations) {
      for (const statement of m.sql.split('--> statement-breakpoint')) if (statement.trim()) db.run(statement)
    }
  })()
  db.run('PRAGMA foreign_keys = ON')
  const at = Date.now()
  const namespaceId = `ns_${Bun.randomUUIDv7().replaceAll('-', '')}`
  const channelId = `ch_${Bun.randomUUIDv7().replaceAll('-', '')}`
  db.run('INSERT INTO namespaces (id, slug, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)', [namespaceId, 'bench', 'bench', at, at])
  db.run('INSERT INTO channels (id, namespace_id, name, type, config_enc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
    channelId,
    namespaceId,
    'sandbox',
    'sandbox',
    'x',
    at,
    at,
  ])
  // Every column of messages, as drizzle's insert lists them, whatever later migrations add.
  const columns = (db.query('PRAGMA table_info(messages)').all() as { name: string }[]).map((c) => c.name)
  const insert = db.prepare(`INSERT INTO messages (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`)
  const insertMessage = (row: Record<string, string | number | null>) => void insert.run(...columns.map((c) => row[c] ?? null))
  return { db, namespaceId, channelId, insertMessage }
}
