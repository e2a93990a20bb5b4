/**
 * The store: one drizzle database over either driver, with an async transaction that really is
 * atomic and a write queue that lets concurrent requests share one commit (group commit).
 */
import { sql } from 'drizzle-orm'
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core'
import type * as schema from './schema'

/** A drizzle database (or transaction) over either driver. Always `await` its queries. */
export type Db = BaseSQLiteDatabase<'sync' | 'async', any, typeof schema>

export type StoreDriver = 'bun-sqlite' | 'libsql'

export interface Store {
  readonly driver: StoreDriver
  /** Reads that never see another request's open transaction. Never write through it. */
  readonly read: Db
  /** Runs `fn` alone in one atomic transaction on the writer connection. */
  tx<T>(fn: (tx: Db) => Promise<T>): Promise<T>
  /**
   * Runs `fn` in a transaction shared with the other writes queued in the same turn of the
   * event loop (one commit for all). `fn` is isolated by a savepoint: if it throws, only its
   * own changes are undone. Resolves after the shared commit.
   */
  write<T>(fn: (tx: Db) => Promise<T>): Promise<T>
  /** Runs a statement outside any transaction (PRAGMA, VACUUM). */
  exec(statement: string): Promise<void>
  close(): Promise<void>
}

/** Serialises async critical sections within this process. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve()
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.tail
    let release!: () => void
    this.tail = new Promise<void>((r) => (release = r))
    await previous
    try {
      return await fn()
    } finally {
      release()
    }
  }
}

type Pending = { fn: (tx: Db) => Promise<unknown>; resolve: (v: any) => void; reject: (e: unknown) => void }

const SAVEPOINT = sql.raw('SAVEPOINT og_write')
const RELEASE = sql.raw('RELEASE og_write')
const ROLLBACK_TO = sql.raw('ROLLBACK TO og_write')

/** Largest number of queued writes committed together; bounds the time one commit holds the lock. */
const MAX_GROUP = 512

/**
 * Group commit over any `tx`. Writes queued before the event loop turns are flushed together;
 * each gets its own savepoint so one failure does not undo the others.
 */
export class WriteQueue {
  private pending: Pending[] = []
  private scheduled = false

  constructor(private readonly tx: <T>(fn: (tx: Db) => Promise<T>) => Promise<T>) {}

  enqueue<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => void this.flush())
      }
    })
  }

  private async flush(): Promise<void> {
    this.scheduled = false
    const batch = this.pending.splice(0, MAX_GROUP)
    if (this.pending.length > 0) {
      this.scheduled = true
      setImmediate(() => void this.flush())
    }
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = []
    try {
      await this.tx(async (tx) => {
        for (const item of batch) {
          await tx.run(SAVEPOINT)
          try {
            const value = await item.fn(tx)
            await tx.run(RELEASE)
            outcomes.push({ ok: true, value })
          } catch (error) {
            await tx.run(ROLLBACK_TO)
            await tx.run(RELEASE)
            outcomes.push({ ok: false, error })
          }
        }
      })
    } catch (error) {
      // The commit itself failed: nothing in the batch was written.
      for (const item of batch) item.reject(error)
      return
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!
      if (outcome.ok) item.resolve(outcome.value)
      else item.reject(outcome.error)
    })
  }
}
