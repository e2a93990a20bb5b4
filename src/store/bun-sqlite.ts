import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { drizzle } from 'drizzle-orm/bun-sqlite'
import { Checkpointer, FALLBACK_AUTOCHECKPOINT_PAGES } from './checkpointer'
import * as schema from './schema'
import { type Db, Mutex, type Store, withCommitScope, WriteQueue } from './store'

export interface BunSqliteOptions {
  synchronous: 'NORMAL' | 'FULL'
  /** How long a connection waits for another process's lock before SQLITE_BUSY. */
  busyTimeoutMs: number
  /** The writer's page cache, MiB (SQLite's default is 2): index pages of a large table stay in it. */
  cacheMb?: number
}

/** Distinct statements kept prepared per connection; beyond that, statements are prepared afresh. */
const STATEMENT_CACHE_SIZE = 256

/**
 * drizzle prepares every statement anew, which is a sixth of the ingest path's CPU. Statements
 * run synchronously on one connection, so reusing a prepared one for the same SQL is safe.
 */
function cacheStatements(db: Database): void {
  const cache = new Map<string, ReturnType<Database['prepare']>>()
  const prepare = db.prepare.bind(db)
  db.prepare = ((sql: string, ...rest: unknown[]) => {
    if (rest.length > 0) return (prepare as (...a: unknown[]) => ReturnType<Database['prepare']>)(sql, ...rest)
    let stmt = cache.get(sql)
    if (!stmt) {
      stmt = prepare(sql)
      if (cache.size < STATEMENT_CACHE_SIZE) cache.set(sql, stmt)
    }
    return stmt
  }) as Database['prepare']
}

const DEFAULT_CACHE_MB = 32
const checkpointers = new WeakMap<Store, () => Checkpointer | null>()

/** The store's checkpoint thread, once started (tests). */
export const checkpointerOf = (store: Store): Checkpointer | null => checkpointers.get(store)?.() ?? null
/** Commits after which checkpoints move to their thread: a server under load, not a CLI command. */
const COMMITS_BEFORE_CHECKPOINT_THREAD = 100

function openConnection(path: string, opts: BunSqliteOptions, readonly: boolean): Database {
  const db = new Database(path, readonly ? { readonly: true } : { create: true, readwrite: true })
  db.run(`PRAGMA busy_timeout = ${opts.busyTimeoutMs}`)
  if (!readonly) db.run('PRAGMA journal_mode = WAL')
  db.run(`PRAGMA synchronous = ${opts.synchronous}`)
  db.run('PRAGMA foreign_keys = ON')
  // A negative size is KiB. The batch ingest benchmark: 55k → 60k msg/s with 32 MiB over 15 s.
  if (!readonly) db.run(`PRAGMA cache_size = ${-Math.round((opts.cacheMb ?? DEFAULT_CACHE_MB) * 1024)}`)
  cacheStatements(db)
  return db
}

/**
 * bun:sqlite store: one writer connection plus one reader. drizzle's bun-sqlite `transaction()`
 * does not await an async callback, so the transaction is driven here with BEGIN IMMEDIATE /
 * COMMIT / ROLLBACK under an in-process lock.
 */
export function openBunSqliteStore(path: string, opts: BunSqliteOptions): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const writerConn = openConnection(path, opts, false)
  // An in-memory database cannot be shared between connections, so it reads through the writer.
  const readerConn = path === ':memory:' ? writerConn : openConnection(path, opts, true)
  const writer = drizzle(writerConn, { schema }) as unknown as Db
  const reader = drizzle(readerConn, { schema }) as unknown as Db
  const lock = new Mutex()
  // Checkpoints move to a thread of their own once the database is being written to in earnest
  // (src/store/checkpointer.ts); a CLI command's few commits never start it.
  let checkpointer: Checkpointer | null = null
  let commits = 0
  const committed = () => {
    if (checkpointer) return checkpointer.committed()
    if (path === ':memory:' || ++commits < COMMITS_BEFORE_CHECKPOINT_THREAD) return
    writerConn.run(`PRAGMA wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`)
    checkpointer = new Checkpointer(path, opts.busyTimeoutMs)
    checkpointer.committed()
  }

  const tx = <T>(fn: (tx: Db) => Promise<T>): Promise<T> =>
    lock.run(async () => {
      writerConn.run('BEGIN IMMEDIATE')
      try {
        const result = await withCommitScope(writer, fn)
        writerConn.run('COMMIT')
        committed()
        return result
      } catch (error) {
        if (writerConn.inTransaction) writerConn.run('ROLLBACK')
        throw error
      }
    })
  const queue = new WriteQueue(tx)

  const store: Store = {
    driver: 'bun-sqlite',
    read: reader,
    tx,
    write: (fn) => queue.enqueue(fn),
    exec: async (statement) => {
      await lock.run(async () => writerConn.run(statement))
    },
    close: async () => {
      // First the thread's connection: the writer, closing last, checkpoints and removes the WAL.
      await checkpointer?.close()
      await lock.run(async () => {
        if (readerConn !== writerConn) readerConn.close()
        writerConn.close()
      })
    },
  }
  checkpointers.set(store, () => checkpointer)
  return store
}
