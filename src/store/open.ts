import { openBunSqliteStore } from './bun-sqlite'
import { openLibsqlStore } from './libsql'
import type { Store } from './store'

export interface StoreOptions {
  url: string
  synchronous: 'NORMAL' | 'FULL'
  busyTimeoutMs: number
  cacheMb?: number
  authToken?: string
}

/** The database file a `file:` URL names (as given, relative or not); null for an in-memory or remote database. */
export function databaseFilePath(url: string): string | null {
  if (url === ':memory:' || url === 'file::memory:' || !url.startsWith('file:')) return null
  return url.slice('file:'.length).replace(/^\/\/(?=\/)/, '')
}

/**
 * Opens the store named by a URL: `file:path` (or `:memory:`) → bun:sqlite;
 * `libsql:`, `http(s):`, `ws(s):` → the libSQL web client (a shared sqld / Turso server).
 */
export async function openStore(opts: StoreOptions): Promise<Store> {
  const { url } = opts
  if (url === ':memory:' || url === 'file::memory:') {
    return openBunSqliteStore(':memory:', opts)
  }
  const file = databaseFilePath(url)
  if (file !== null) return openBunSqliteStore(file, opts)
  if (/^(libsql|https?|wss?):/.test(url)) {
    const { createClient } = await import('@libsql/client/web')
    return openLibsqlStore(createClient({ url, authToken: opts.authToken }))
  }
  throw new Error(`database.url: unsupported scheme in "${url}" (use file:, libsql:, http(s): or ws(s):)`)
}
