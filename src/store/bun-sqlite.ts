import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { drizzle } from 'drizzle-orm/bun-sqlite'
import { Checkpointer, FALLBACK_AUTOCHECKPOINT_PAGES } from './checkpointer'
import * as schema from './schema'
import { CommitListeners, type CommitTopic, type Db, Mutex, type Store, withCommitScope, WriteQueue } from './store'

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

export const DEFAULT_CACHE_MB = 32
const checkpointers = new WeakMap<Store, () => { thread: Checkpointer | null; failed: boolean }>()

/** The store's checkpoint thread, once started (tests). */
export const checkpointerOf = (store: Store): Checkpointer | null => checkpointers.get(store)?.().thread ?? null

/** The checkpoint thread as operators see it (`GET /v1/system`); null for another driver. */
export function checkpointStatus(store: Store): { thread: 'not started' | 'running' | 'failed'; runs: number; error: string | null } | null {
  const state = checkpointers.get(store)?.()
  if (!state) return null
  const { thread, failed } = state
  if (!thread) return { thread: failed ? 'failed' : 'not started', runs: 0, error: failed ? 'the thread could not be started' : null }
  return { thread: thread.alive ? 'running' : 'failed', runs: thread.runs, error: thread.error }
}
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
  let closing = false
  let threadFailed = false
  // After the COMMIT, outside its try: the write is done, and nothing here may fail it.
  const committed = () => {
    if (closing || threadFailed) return
    try {
      if (checkpointer) return checkpointer.committed()
      if (path === ':memory:' || ++commits < COMMITS_BEFORE_CHECKPOINT_THREAD) return
      checkpointer = new Checkpointer(path, opts.busyTimeoutMs)
      writerConn.run(`PRAGMA wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`)
      checkpointer.committed()
    } catch {
      // No thread (a limit on threads, say): SQLite's own checkpoint in the writer goes on.
      threadFailed = true
    }
  }

  const listeners = new CommitListeners()
  const tx = <T>(fn: (tx: Db) => Promise<T>): Promise<T> =>
    lock.run(async () => {
      writerConn.run('BEGIN IMMEDIATE')
      let result: T
      const touched = new Set<CommitTopic>()
      try {
        result = await withCommitScope(writer, fn, touched)
        writerConn.run('COMMIT')
      } catch (error) {
        if (writerConn.inTransaction) writerConn.run('ROLLBACK')
        throw error
      }
      committed()
      if (touched.size > 0) listeners.announce(touched)
      return result
    })
  const queue = new WriteQueue(tx)

  const store: Store = {
    driver: 'bun-sqlite',
    read: reader,
    tx,
    write: (fn) => queue.enqueue(fn),
    onCommit: (topic, fn) => listeners.add(topic, fn),
    exec: async (statement) => {
      await lock.run(async () => writerConn.run(statement))
    },
    close: async () => {
      closing = true
      await lock.run(async () => {
        // First the thread's connection: the writer, closing last, checkpoints and removes the WAL.
        await checkpointer?.close()
        // close(true): drizzle's prepared statements would otherwise keep the connection (and its
        // locks on the file) alive until they are garbage collected.
        if (readerConn !== writerConn) readerConn.close(true)
        writerConn.close(true)
      })
    },
  }
  checkpointers.set(store, () => ({ thread: checkpointer, failed: threadFailed }))
  return store
}
