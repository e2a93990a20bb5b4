/**
 * The instance's health for its operators (`GET /v1/system`, the portal's System page): version,
 * uptime, the store's driver and size, whether every migration is applied, and a few counts.
 */
import { count, eq } from 'drizzle-orm'
import { checkpointStatus } from '../../store/bun-sqlite'
import { isMigrated } from '../../store/migrate'
import { all } from '../../store/raw'
import { namespaces, users } from '../../store/schema'
import { VERSION } from '../../version'
import { type Deps, now } from '../deps'

async function pragma(deps: Pick<Deps, 'store'>, name: 'page_count' | 'page_size' | 'freelist_count'): Promise<number> {
  const [row] = await all<Record<string, number>>(deps.store.read, `PRAGMA ${name}`)
  return Number(row ? Object.values(row)[0] : 0)
}

/** What the instance is and how it is doing, now. */
export async function systemStatus(deps: Pick<Deps, 'store' | 'now'>) {
  // The process's start: Bun's time origin is when this process began.
  const startedAt = Math.round(performance.timeOrigin)
  const [pages, pageSize, freePages] = [await pragma(deps, 'page_count'), await pragma(deps, 'page_size'), await pragma(deps, 'freelist_count')]
  const [nsCounts, [userCount]] = [
    await deps.store.read.select({ status: namespaces.status, n: count() }).from(namespaces).groupBy(namespaces.status),
    await deps.store.read.select({ n: count() }).from(users).where(eq(users.disabled, false)),
  ]
  const at = now(deps)
  return {
    version: VERSION,
    runtime: `bun ${Bun.version}`,
    started_at: new Date(startedAt).toISOString(),
    uptime_seconds: Math.max(0, Math.floor((at - startedAt) / 1000)),
    store: {
      driver: deps.store.driver,
      migrated: await isMigrated(deps.store),
      // The database's pages (the WAL is folded in at each checkpoint).
      bytes: pages * pageSize,
      free_bytes: freePages * pageSize,
      // The WAL checkpoint thread (src/store/checkpointer.ts): bun:sqlite only, started once the
      // store is written to in earnest; after a failure the writer checkpoints by itself.
      checkpoints: checkpointStatus(deps.store),
    },
    namespaces: Object.fromEntries(nsCounts.map((r) => [r.status, r.n])) as Record<string, number>,
    users: userCount?.n ?? 0,
  }
}
