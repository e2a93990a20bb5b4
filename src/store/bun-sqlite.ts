import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { drizzle } from 'drizzle-orm/bun-sqlite'
import * as schema from './schema'
import { type Db, Mutex, type Store, WriteQueue } from './store'

export interface BunSqliteOptions {
  synchronous: 'NORMAL' | 'FULL'
  /** How long a connection waits for another process's lock before SQLITE_BUSY. */
  busyTimeoutMs: number
}

function openConnection(path: string, opts: BunSqliteOptions, readonly: boolean): Database {
  const db = new Database(path, readonly ? { readonly: true } : { create: true, readwrite: true })
  db.run(`PRAGMA busy_timeout = ${opts.busyTimeoutMs}`)
  if (!readonly) db.run('PRAGMA journal_mode = WAL')
  db.run(`PRAGMA synchronous = ${opts.synchronous}`)
  db.run('PRAGMA foreign_keys = ON')
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

  const tx = <T>(fn: (tx: Db) => Promise<T>): Promise<T> =>
    lock.run(async () => {
      writerConn.run('BEGIN IMMEDIATE')
      try {
        const result = await fn(writer)
        writerConn.run('COMMIT')
        return result
      } catch (error) {
        if (writerConn.inTransaction) writerConn.run('ROLLBACK')
        throw error
      }
    })
  const queue = new WriteQueue(tx)

  return {
    driver: 'bun-sqlite',
    read: reader,
    tx,
    write: (fn) => queue.enqueue(fn),
    exec: async (statement) => {
      await lock.run(async () => writerConn.run(statement))
    },
    close: async () => {
      await lock.run(async () => {
        if (readerConn !== writerConn) readerConn.close()
        writerConn.close()
      })
    },
  }
}
