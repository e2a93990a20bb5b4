/**
 * Applies the SQL migrations embedded from migrations/ (drizzle-kit output) and records them in
 * `omnigate_migrations`. A database that has migrations this binary does not know is refused.
 */
import { sql } from 'drizzle-orm'
import { migrations as embedded } from '../../migrations/index'
import type { Store } from './store'

export type Migration = { idx: number; tag: string; sql: string }

export class SchemaTooNewError extends Error {
  constructor(dbLatest: string, known: string) {
    super(
      `the database has migration ${dbLatest}, newer than this omnigate knows (latest ${known}); ` +
        'run the newer omnigate that migrated it, or restore a backup',
    )
  }
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS omnigate_migrations (
  idx INTEGER PRIMARY KEY, tag TEXT NOT NULL, applied_at INTEGER NOT NULL)`

/**
 * Returns the tags applied by this call (empty when the database was already current).
 * Foreign keys are off while migrating (a PRAGMA that does nothing inside a transaction, hence
 * outside it): drizzle-kit rebuilds a table by copy, drop and rename, and a cascading delete
 * must not empty its children. `foreign_key_check` then proves nothing was left dangling.
 */
export async function migrate(store: Store, list: Migration[] = embedded): Promise<string[]> {
  await store.exec('PRAGMA foreign_keys = OFF')
  try {
    return await applyMigrations(store, list)
  } finally {
    await store.exec('PRAGMA foreign_keys = ON')
  }
}

async function applyMigrations(store: Store, list: Migration[]): Promise<string[]> {
  return store.tx(async (tx) => {
    await tx.run(sql.raw(CREATE_TABLE))
    const applied = (await tx.all(sql.raw('SELECT idx, tag FROM omnigate_migrations ORDER BY idx'))) as {
      idx: number
      tag: string
    }[]
    const known = new Set(list.map((m) => m.idx))
    const unknown = applied.find((a) => !known.has(a.idx))
    if (unknown) throw new SchemaTooNewError(unknown.tag, list.at(-1)?.tag ?? 'none')
    const done = new Set(applied.map((a) => a.idx))
    const newlyApplied: string[] = []
    for (const m of list) {
      if (done.has(m.idx)) continue
      for (const statement of m.sql.split('--> statement-breakpoint')) {
        if (statement.trim()) await tx.run(sql.raw(statement))
      }
      await tx.run(sql`INSERT INTO omnigate_migrations (idx, tag, applied_at) VALUES (${m.idx}, ${m.tag}, ${Date.now()})`)
      newlyApplied.push(m.tag)
    }
    if (newlyApplied.length > 0) {
      const dangling = (await tx.all(sql.raw('PRAGMA foreign_key_check'))) as { table: string }[]
      if (dangling.length > 0) {
        throw new Error(`migration left ${dangling.length} row(s) with broken references (first in ${dangling[0]!.table}); rolled back`)
      }
    }
    return newlyApplied
  })
}

/**
 * The embedded migrations not applied yet (all of them for a database without the table), or
 * SchemaTooNewError for a database migrated by a newer omnigate. Reads only.
 */
export async function pendingMigrations(store: Store, list: Migration[] = embedded): Promise<string[]> {
  let applied: { idx: number; tag: string }[]
  try {
    applied = (await store.read.all(sql.raw('SELECT idx, tag FROM omnigate_migrations ORDER BY idx'))) as { idx: number; tag: string }[]
  } catch {
    return list.map((m) => m.tag)
  }
  const known = new Set(list.map((m) => m.idx))
  const unknown = applied.find((a) => !known.has(a.idx))
  if (unknown) throw new SchemaTooNewError(unknown.tag, list.at(-1)?.tag ?? 'none')
  const done = new Set(applied.map((a) => a.idx))
  return list.filter((m) => !done.has(m.idx)).map((m) => m.tag)
}

/** Whether every embedded migration is applied (readiness). */
export async function isMigrated(store: Store, list: Migration[] = embedded): Promise<boolean> {
  try {
    const rows = (await store.read.all(sql.raw('SELECT idx FROM omnigate_migrations'))) as { idx: number }[]
    const done = new Set(rows.map((r) => r.idx))
    return list.every((m) => done.has(m.idx))
  } catch {
    return false
  }
}
