/**
 * The store: one drizzle database over either driver, with an async transaction that really is
 * atomic and a write queue that lets concurrent requests share one commit (group commit).
 */
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core'
import { run } from './raw'
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
  /**
   * Calls `fn` after each commit of a transaction that `touch`ed `topic` (once per commit), so a
   * worker starts on new work without waiting for its next poll. Returns the unsubscribe.
   */
  onCommit(topic: CommitTopic, fn: () => void): () => void
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

/**
 * Counters gathered during a transaction and written once, just before it commits: a hundred
 * messages accepted in one group commit add to their rollup rows with one upsert, not a hundred.
 * A write that fails (its savepoint rolled back) takes its own additions with it.
 */
export interface CommitBatch {
  /** Adds what a nested scope (one write of a group) gathered. */
  absorb(other: this): void
  flush(tx: Db): Promise<void>
}

/** What a committed transaction may have to tell the workers about. */
export type CommitTopic = 'webhook_deliveries'

class CommitScope {
  private readonly layers: Map<string, CommitBatch>[] = [new Map()]

  /** `topics`: touched by any write of the transaction (one rolled back to its savepoint too: a spare wake-up is harmless). */
  constructor(readonly topics: Set<CommitTopic>) {}

  get<B extends CommitBatch>(key: string, create: () => B): B {
    const top = this.layers[this.layers.length - 1]!
    let batch = top.get(key) as B | undefined
    if (!batch) top.set(key, (batch = create()))
    return batch
  }

  push(): void {
    this.layers.push(new Map())
  }

  /** Ends a nested scope: its batches join the enclosing ones, or are dropped. */
  pop(keep: boolean): void {
    const layer = this.layers.pop()!
    if (!keep) return
    const below = this.layers[this.layers.length - 1]!
    for (const [key, batch] of layer) {
      const into = below.get(key)
      if (into) into.absorb(batch)
      else below.set(key, batch)
    }
  }

  async flush(tx: Db): Promise<void> {
    for (const batch of this.layers[0]!.values()) await batch.flush(tx)
    this.layers[0]!.clear()
  }
}

/** The open transaction's scope per transaction handle (one at a time per handle: the lock). */
const scopes = new WeakMap<object, CommitScope>()

/**
 * The batch `key` of the transaction `tx` belongs to, to be written at its commit; null when
 * `tx` is not a transaction opened by a store (write at once instead).
 */
export function commitBatch<B extends CommitBatch>(tx: Db, key: string, create: () => B): B | null {
  return scopes.get(tx)?.get(key, create) ?? null
}

/** Marks the transaction of `tx` as having written `topic` (nothing when `tx` is not a store transaction). */
export function touch(tx: Db, topic: CommitTopic): void {
  scopes.get(tx)?.topics.add(topic)
}

/**
 * Runs `fn(tx)` as a store transaction body: its commit batches are written after it, before
 * COMMIT; the topics it touches go into `touched`, for the driver to announce after COMMIT.
 */
export async function withCommitScope<T>(tx: Db, fn: (tx: Db) => Promise<T>, touched: Set<CommitTopic>): Promise<T> {
  const scope = new CommitScope(touched)
  scopes.set(tx, scope)
  try {
    const result = await fn(tx)
    await scope.flush(tx)
    return result
  } finally {
    scopes.delete(tx)
  }
}

/** A store's `onCommit` listeners; the driver calls `announce` after each COMMIT. */
export class CommitListeners {
  private readonly byTopic = new Map<CommitTopic, Set<() => void>>()

  add(topic: CommitTopic, fn: () => void): () => void {
    let set = this.byTopic.get(topic)
    if (!set) this.byTopic.set(topic, (set = new Set()))
    set.add(fn)
    return () => void set.delete(fn)
  }

  /** After the commit: a listener that throws must not turn a done write into a failed one. */
  announce(touched: Set<CommitTopic>): void {
    for (const topic of touched) {
      for (const fn of this.byTopic.get(topic) ?? []) {
        try {
          fn()
        } catch {
          // A wake-up is an optimisation; the worker's poll still finds the work.
        }
      }
    }
  }
}

type Pending = { fn: (tx: Db) => Promise<unknown>; resolve: (v: any) => void; reject: (e: unknown) => void }

const SAVEPOINT = 'SAVEPOINT og_write'
const RELEASE = 'RELEASE og_write'
const ROLLBACK_TO = 'ROLLBACK TO og_write'

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
        const scope = scopes.get(tx)
        for (const item of batch) {
          await run(tx, SAVEPOINT)
          scope?.push()
          try {
            const value = await item.fn(tx)
            await run(tx, RELEASE)
            scope?.pop(true)
            outcomes.push({ ok: true, value })
          } catch (error) {
            scope?.pop(false)
            await run(tx, ROLLBACK_TO)
            await run(tx, RELEASE)
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

/**
 * Gathers items until the store's write queue next flushes and writes them together
 * (`writeAll`, one write: one statement for all rather than a few each); should that write
 * fail, each item is written on its own (`writeOne`), so one bad item cannot hold up the others.
 * @example
 * const sent = new WriteBatcher(store, (tx, items) => completeSentAttempts(tx, owner, items), (item) => completeAttempt(...))
 * const recorded = await sent.add({ message, outcome, at })
 */
export class WriteBatcher<I, R> {
  private pending: { items: I[]; done: Promise<R[]> } | null = null

  constructor(
    private readonly store: Pick<Store, 'write'>,
    private readonly writeAll: (tx: Db, items: readonly I[]) => Promise<R[]>,
    private readonly writeOne: (item: I) => Promise<R>,
  ) {}

  /** Resolves once the item is written (with its result), like `store.write`. */
  add(item: I): Promise<R> {
    let batch = this.pending
    if (!batch) {
      const items: I[] = []
      // Items added from here on go to the next write: once the write starts, or once it has
      // failed without starting (its transaction could not begin: a busy database).
      const close = () => {
        if (this.pending?.items === items) this.pending = null
      }
      const done = this.store.write((tx) => {
        close()
        return this.writeAll(tx, items)
      })
      done.catch(close)
      batch = this.pending = { items, done }
    }
    const index = batch.items.push(item) - 1
    return batch.done.then(
      (results) => results[index]!,
      () => this.writeOne(item),
    )
  }
}

/**
 * Whether `error` is the database refusing a write for now: SQLite's SQLITE_BUSY or
 * SQLITE_LOCKED (extended codes included), as bun:sqlite and libSQL report it, raw or wrapped
 * by drizzle as the `cause` of its query error. Another process held the write lock past
 * busy_timeout; the same request succeeds once it lets go.
 */
export function isDatabaseBusy(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)(_|$)/.test(code)) return true
  }
  return false
}
