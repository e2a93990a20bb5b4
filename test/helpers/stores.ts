import { afterEach } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import { openBunSqliteStore } from '../../src/store/bun-sqlite'
import { openLibsqlStore } from '../../src/store/libsql'
import { migrate } from '../../src/store/migrate'
import type { Store } from '../../src/store/store'

export function tempDir(prefix = 'omnigate-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) }
}

/**
 * Both drivers, each on a real database file in a temp dir. The libSQL store is driven by the
 * native @libsql/client on a file: URL (a test-only path: the binary uses the web client, which
 * refuses file: URLs) through the same drizzle libsql dialect.
 */
export const storeDrivers: { name: string; open: (dir: string) => Promise<Store> }[] = [
  {
    name: 'bun:sqlite',
    open: async (dir) => openBunSqliteStore(join(dir, 'bun.db'), { synchronous: 'NORMAL', busyTimeoutMs: 5000 }),
  },
  {
    name: 'libsql',
    open: async (dir) => openLibsqlStore(createClient({ url: `file:${join(dir, 'libsql.db')}` }) as any),
  },
]

export async function migratedStore(driver: (typeof storeDrivers)[number], dir: string): Promise<Store> {
  const store = await driver.open(dir)
  await migrate(store)
  return store
}

/**
 * `open(driver)`: a migrated store in a temp dir, closed and removed after the test. Call once
 * at the top of a test file (it registers the afterEach).
 */
export function migratedStores(): (driver: (typeof storeDrivers)[number]) => Promise<Store> {
  const opened: { store: Store; dir: ReturnType<typeof tempDir> }[] = []
  afterEach(async () => {
    for (const { store, dir } of opened.splice(0)) {
      await store.close()
      dir.cleanup()
    }
  })
  return async (driver) => {
    const dir = tempDir()
    const store = await migratedStore(driver, dir.path)
    opened.push({ store, dir })
    return store
  }
}
