/**
 * Hand-written SQL for the hot paths (ingest, claims, events, deliveries). drizzle builds each
 * statement's text anew on every call, ~30 µs a statement, which was two thirds of the ingest
 * path's CPU (docs/performance.md). On bun:sqlite these run on the connection under the drizzle
 * handle through its statement cache (`query`), synchronously: the transaction is already open
 * there. On libSQL they become drizzle `sql` objects with the same text and bound parameters,
 * so both drivers run the same statement.
 *
 * Statement texts must be constants (or from a small set): each distinct text is prepared once
 * and kept. Placeholders are `?`; never put a `?` inside a literal.
 */
import { Database, type SQLQueryBindings } from 'bun:sqlite'
import { type SQL, sql } from 'drizzle-orm'
import type { Db } from './store'

export type Param = string | number | bigint | null | Uint8Array

/** The bun:sqlite connection under a drizzle handle, or null on another driver. */
function nativeConnection(db: Db): Database | null {
  const client = (db as unknown as { session?: { client?: unknown } }).session?.client
  return client instanceof Database ? client : null
}

const drizzleTexts = new Map<string, SQL[]>()

/** The same statement as a drizzle `sql` object: text split at each `?`, values bound. */
function toDrizzle(text: string, params: readonly Param[]): SQL {
  let pieces = drizzleTexts.get(text)
  if (!pieces) drizzleTexts.set(text, (pieces = text.split('?').map((p) => sql.raw(p))))
  if (pieces.length !== params.length + 1) throw new Error(`statement has ${pieces.length - 1} placeholders, got ${params.length} values`)
  const chunks: SQL[] = [pieces[0]!]
  params.forEach((p, i) => chunks.push(sql`${p}`, pieces![i + 1]!))
  return sql.join(chunks)
}

/** Runs a statement that returns nothing. */
export function run(db: Db, text: string, params: readonly Param[] = []): Promise<void> {
  const native = nativeConnection(db)
  if (native) {
    native.query(text).run(...(params as SQLQueryBindings[]))
    return Promise.resolve()
  }
  return Promise.resolve(db.run(toDrizzle(text, params))).then(() => undefined)
}

/** Runs an INSERT, UPDATE or DELETE and returns how many rows it changed. */
export async function runCounted(db: Db, text: string, params: readonly Param[] = []): Promise<number> {
  const native = nativeConnection(db)
  if (native) return native.query(text).run(...(params as SQLQueryBindings[])).changes
  const result = (await db.run(toDrizzle(text, params))) as unknown as { rowsAffected?: number }
  if (typeof result?.rowsAffected !== 'number') throw new Error('the driver did not report the rows changed')
  return result.rowsAffected
}

/** Runs a statement and returns its rows as objects keyed by column name (as written in SQL). */
export function all<T>(db: Db, text: string, params: readonly Param[] = []): Promise<T[]> {
  const native = nativeConnection(db)
  if (native) return Promise.resolve(native.query(text).all(...(params as SQLQueryBindings[])) as T[])
  return Promise.resolve(db.all<T>(toDrizzle(text, params)))
}

/** Texts by head, then tail, then `rows * 65536 + columns` (SQLite allows at most 32,767 columns). */
const rowTexts = new Map<string, Map<string, Map<number, string>>>()

/**
 * `INSERT INTO table (cols) VALUES (?, …), (?, …) tail` for `rows` rows, kept per row count so
 * the statement stays prepared. `tail` is e.g. an ON CONFLICT clause. Looked up through nested
 * maps keyed by the caller's constant strings, whose hashes are kept, rather than by a key
 * concatenated on every call (measured at ~1 % of ingest's CPU).
 */
export function insertText(head: string, columns: number, rows: number, tail = ''): string {
  let byTail = rowTexts.get(head)
  if (byTail === undefined) rowTexts.set(head, (byTail = new Map()))
  let bySize = byTail.get(tail)
  if (bySize === undefined) byTail.set(tail, (bySize = new Map()))
  const size = rows * 65536 + columns
  let text = bySize.get(size)
  if (text === undefined) {
    const tuple = `(${Array(columns).fill('?').join(', ')})`
    bySize.set(size, (text = `${head} VALUES ${Array(rows).fill(tuple).join(', ')}${tail}`))
  }
  return text
}

/** Rows per multi-row INSERT: few distinct texts (cached), few statements per bulk write. */
export const ROWS_PER_INSERT = 50

/** Inserts rows in chunks of ROWS_PER_INSERT with one prepared text per chunk size. */
export async function insertRows<R>(db: Db, head: string, columns: number, rows: readonly R[], values: (r: R) => Param[], tail = ''): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const chunk = rows.length <= ROWS_PER_INSERT ? rows : rows.slice(i, i + ROWS_PER_INSERT)
    const params: Param[] = []
    for (const r of chunk) params.push(...values(r))
    await run(db, insertText(head, columns, chunk.length, tail), params)
  }
}
