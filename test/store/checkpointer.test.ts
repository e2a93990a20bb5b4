/**
 * WAL checkpoints on their own thread (src/store/checkpointer.ts): a store written to in earnest
 * gets its WAL copied into the database file by the thread, long before the writer's own
 * fallback threshold; a store with a few commits (a CLI command) never starts the thread; and
 * closing leaves no WAL behind.
 */
import { afterEach, expect, test } from 'bun:test'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { checkpointerOf, checkpointStatus, openBunSqliteStore } from '../../src/store/bun-sqlite'
import { FALLBACK_AUTOCHECKPOINT_PAGES } from '../../src/store/checkpointer'
import { all, run } from '../../src/store/raw'
import type { Store } from '../../src/store/store'
import { eventually } from '../helpers/gateway'
import { tempDir } from '../helpers/stores'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

function open(): { store: Store; path: string } {
  const dir = tempDir()
  const path = join(dir.path, 'x.db')
  const store = openBunSqliteStore(path, { synchronous: 'NORMAL', busyTimeoutMs: 5000 })
  cleanups.push(async () => {
    await store.close()
    dir.cleanup()
  })
  return { store, path }
}

const blob = 'x'.repeat(2000)

test('a store written to in earnest checkpoints on the thread: the database file grows long before the fallback threshold', async () => {
  const { store, path } = open()
  await store.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)')
  // ~1,500 commits of 2 KB: ~3 MB of WAL, far below the writer's own 10,000-page threshold. The
  // pauses let the event loop turn, as a server's does between requests.
  for (let i = 0; i < 1500; i++) {
    await store.tx((tx) => run(tx, 'INSERT INTO t (body) VALUES (?)', [blob]))
    if (i % 100 === 0) await Bun.sleep(10)
  }
  expect(FALLBACK_AUTOCHECKPOINT_PAGES * 4096).toBeGreaterThan(20 * 1024 * 1024)
  const thread = checkpointerOf(store)
  expect(thread).not.toBeNull()
  // One more commit after the interval asks for a checkpoint of everything written.
  await Bun.sleep(150)
  await store.tx((tx) => run(tx, 'INSERT INTO t (body) VALUES (?)', [blob]))
  const runsBefore = thread!.runs
  await eventually(async () => thread!.runs > runsBefore)
  expect(thread!.error).toBeNull()
  expect(thread!.runs).toBeGreaterThan(1)
  // Every frame of the WAL is in the database file now: the thread copied it there.
  expect(thread!.last!.checkpointed).toBe(thread!.last!.log)
  expect(statSync(path).size).toBeGreaterThan(3_000_000)
  expect(await all(store.read, 'SELECT count(*) AS n FROM t')).toEqual([{ n: 1501 }])
})

test('a store with a few commits, as a CLI command makes, never starts the thread', async () => {
  const { store } = open()
  await store.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)')
  for (let i = 0; i < 20; i++) await store.tx((tx) => run(tx, 'INSERT INTO t (body) VALUES (?)', [blob]))
  expect(checkpointerOf(store)).toBeNull()
})

test('closing stops the thread and leaves the database whole, without a WAL file', async () => {
  const dir = tempDir()
  cleanups.push(() => dir.cleanup())
  const path = join(dir.path, 'y.db')
  const store = openBunSqliteStore(path, { synchronous: 'NORMAL', busyTimeoutMs: 5000 })
  await store.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)')
  for (let i = 0; i < 300; i++) await store.write((tx) => run(tx, 'INSERT INTO t (body) VALUES (?)', [blob]))
  expect(checkpointerOf(store)).not.toBeNull()
  await eventually(async () => checkpointerOf(store)!.runs > 0)
  await store.close()
  expect(existsSync(`${path}-wal`)).toBe(false)
  const again = openBunSqliteStore(path, { synchronous: 'NORMAL', busyTimeoutMs: 5000 })
  expect(await all(again.read, 'SELECT count(*) AS n FROM t')).toEqual([{ n: 300 }])
  await again.close()
})

test('a thread that cannot be started fails no write: the writer keeps checkpointing, and the status says so', async () => {
  const RealWorker = globalThis.Worker
  ;(globalThis as { Worker: unknown }).Worker = function NoThreads() {
    throw new Error('no threads here')
  }
  try {
    const { store } = open()
    await store.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)')
    for (let i = 0; i < 150; i++) await store.write((tx) => run(tx, 'INSERT INTO t (body) VALUES (?)', [blob]))
    expect(await all(store.read, 'SELECT count(*) AS n FROM t')).toEqual([{ n: 150 }])
    expect(checkpointerOf(store)).toBeNull()
    expect(checkpointStatus(store)).toEqual({ thread: 'failed', runs: 0, error: 'the thread could not be started' })
  } finally {
    ;(globalThis as { Worker: unknown }).Worker = RealWorker
  }
})
