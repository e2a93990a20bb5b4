import { openBunSqliteStore } from './bun-sqlite'
import { openLibsqlStore } from './libsql'
import type { Store } from './store'

export interface StoreOptions {
  url: string
  synchronous: 'NORMAL' | 'FULL'
  busyTimeoutMs: number
  cacheMb?: number
  authToken?: string
  /** A remote libSQL server's time to answer one request (30 s when not given). */
  requestTimeoutMs?: number
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
    // Without a deadline one request the server never answers holds the store's lock for good:
    // every later write, the claim loops and shutdown wait behind it.
    const timeoutMs = opts.requestTimeoutMs ?? 30_000
    const fetchWithDeadline = (request: Request) => fetch(request, { signal: AbortSignal.timeout(timeoutMs) })
    return openLibsqlStore(createClient({ url, authToken: opts.authToken, fetch: fetchWithDeadline }))
  }
  throw new Error(`database.url: unsupported scheme in "${url}" (use file:, libsql:, http(s): or ws(s):)`)
}
