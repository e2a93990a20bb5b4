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

/**
 * Opens the store named by a URL: `file:path` (or `:memory:`) → bun:sqlite;
 * `libsql:`, `http(s):`, `ws(s):` → the libSQL web client (a shared sqld / Turso server).
 */
export async function openStore(opts: StoreOptions): Promise<Store> {
  const { url } = opts
  if (url === ':memory:' || url === 'file::memory:') {
    return openBunSqliteStore(':memory:', opts)
  }
  if (url.startsWith('file:')) {
    return openBunSqliteStore(url.slice('file:'.length).replace(/^\/\/(?=\/)/, ''), opts)
  }
  if (/^(libsql|https?|wss?):/.test(url)) {
    const { createClient } = await import('@libsql/client/web')
    return openLibsqlStore(createClient({ url, authToken: opts.authToken }))
  }
  throw new Error(`database.url: unsupported scheme in "${url}" (use file:, libsql:, http(s): or ws(s):)`)
}
