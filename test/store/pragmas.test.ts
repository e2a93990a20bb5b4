/**
 * The settings each bun:sqlite connection is opened with, read back from SQLite itself.
 */
import { afterEach, expect, test } from 'bun:test'
import { join } from 'node:path'
import { openBunSqliteStore } from '../../src/store/bun-sqlite'
import { all } from '../../src/store/raw'
import type { Store } from '../../src/store/store'
import { tempDir } from '../helpers/stores'

const opened: { store: Store; cleanup: () => void }[] = []
afterEach(async () => {
  for (const { store, cleanup } of opened.splice(0)) {
    await store.close()
    cleanup()
  }
})

function open(opts: { synchronous: 'NORMAL' | 'FULL'; cacheMb?: number }) {
  const dir = tempDir()
  const store = openBunSqliteStore(join(dir.path, 'x.db'), { busyTimeoutMs: 1234, ...opts })
  opened.push({ store, cleanup: dir.cleanup })
  return store
}

const pragma = async (store: Store, name: string, on: 'read' | 'write') => {
  const read = (db: Store['read']) => all<Record<string, number | string>>(db, `PRAGMA ${name}`).then((rows) => Object.values(rows[0]!)[0])
  return on === 'read' ? read(store.read) : store.tx((tx) => read(tx))
}

test('the writer: WAL, the durability asked for, foreign keys, the busy timeout and database.cache_mb as its page cache', async () => {
  const store = open({ synchronous: 'FULL', cacheMb: 8 })
  expect(await pragma(store, 'journal_mode', 'write')).toBe('wal')
  expect(await pragma(store, 'synchronous', 'write')).toBe(2)
  expect(await pragma(store, 'foreign_keys', 'write')).toBe(1)
  expect(await pragma(store, 'busy_timeout', 'write')).toBe(1234)
  expect(await pragma(store, 'cache_size', 'write')).toBe(-8192)
  // The reader keeps SQLite's default cache (2 MiB).
  expect(await pragma(store, 'cache_size', 'read')).toBe(-2000)
})

test('without cache_mb the writer gets 32 MiB', async () => {
  const store = open({ synchronous: 'NORMAL' })
  expect(await pragma(store, 'synchronous', 'write')).toBe(1)
  expect(await pragma(store, 'cache_size', 'write')).toBe(-32768)
})
