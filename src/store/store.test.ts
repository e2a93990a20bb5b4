import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { count, eq, sql } from 'drizzle-orm'
import { migratedStore, storeDrivers, tempDir } from '../../test/helpers/stores'
import { migrate, SchemaTooNewError } from './migrate'
import { namespaces } from './schema'
import type { Store } from './store'

const ns = (slug: string) => ({ id: `ns_${slug}`, slug, name: slug, createdAt: 1, updatedAt: 1 })

for (const driver of storeDrivers) {
  describe(`store on ${driver.name}`, () => {
    let dir: ReturnType<typeof tempDir>
    let store: Store
    beforeEach(async () => {
      dir = tempDir()
      store = await migratedStore(driver, dir.path)
    })
    afterEach(async () => {
      await store.close()
      dir.cleanup()
    })

    const countNamespaces = async () => (await store.read.select({ n: count() }).from(namespaces))[0]!.n

    test('a transaction that throws after an await leaves no row behind', async () => {
      await expect(
        store.tx(async (tx) => {
          await tx.insert(namespaces).values(ns('a'))
          await Bun.sleep(5)
          await tx.insert(namespaces).values(ns('b'))
          throw new Error('boom')
        }),
      ).rejects.toThrow('boom')
      expect(await countNamespaces()).toBe(0)
    })

    test('a committed transaction is visible to the reader, an open one is not', async () => {
      let seenInside = -1
      await store.tx(async (tx) => {
        await tx.insert(namespaces).values(ns('a'))
        seenInside = await countNamespaces()
      })
      expect(seenInside).toBe(0)
      expect(await countNamespaces()).toBe(1)
    })

    test('two concurrent transactions never interleave', async () => {
      const trace: string[] = []
      const run = (name: string) =>
        store.tx(async (tx) => {
          trace.push(`${name}:begin`)
          await tx.insert(namespaces).values(ns(name))
          await Bun.sleep(10)
          trace.push(`${name}:end`)
        })
      await Promise.all([run('a'), run('b')])
      expect(trace).toEqual(['a:begin', 'a:end', 'b:begin', 'b:end'])
      expect(await countNamespaces()).toBe(2)
    })

    test('queued writes share one commit, and a failing write undoes only itself', async () => {
      const results = await Promise.allSettled([
        store.write(async (tx) => tx.insert(namespaces).values(ns('a'))),
        store.write(async (tx) => {
          await tx.insert(namespaces).values(ns('b'))
          throw new Error('bad write')
        }),
        store.write(async (tx) => tx.insert(namespaces).values(ns('c'))),
      ])
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      const slugs = (await store.read.select().from(namespaces)).map((r) => r.slug).sort()
      expect(slugs).toEqual(['a', 'c'])
    })

    test('migrate is idempotent and refuses a database newer than the code', async () => {
      expect(await migrate(store)).toEqual([])
      await store.tx(async (tx) => {
        await tx.run(
          (await import('drizzle-orm')).sql`INSERT INTO omnigate_migrations (idx, tag, applied_at) VALUES (999, '0999_future', 1)`,
        )
      })
      await expect(migrate(store)).rejects.toBeInstanceOf(SchemaTooNewError)
      await expect(migrate(store)).rejects.toThrow('0999_future')
    })

    test('a database at an older schema migrates forward with its data', async () => {
      const { migrations } = await import('../../migrations/index')
      const { applications, apiKeys } = await import('./schema')
      const { mkdirSync } = await import('node:fs')
      mkdirSync(`${dir.path}/old`)
      const old = await driver.open(`${dir.path}/old`)
      try {
        expect(await migrate(old, migrations.slice(0, 1))).toEqual(['0000_init'])
        const key = (id: string) => ({ id, namespaceId: 'ns_a', applicationId: 'app_a', lookup: 'samePrefix12', hash: id, scopes: [], createdAt: 1 })
        await old.tx(async (tx) => {
          // Raw SQL: the drizzle schema describes the newest tables, not those of migration 0000.
          await tx.run(sql`INSERT INTO namespaces (id, slug, name, created_at, updated_at) VALUES ('ns_a', 'a', 'a', 1, 1)`)
          await tx.run(sql`INSERT INTO applications (id, namespace_id, name, created_at, updated_at) VALUES ('app_a', 'ns_a', 'a', 1, 1)`)
          await tx.insert(apiKeys).values(key('key_1'))
        })
        // 0000 made the lookup prefix unique; a second key with the same prefix is refused.
        await expect(old.tx(async (tx) => tx.insert(apiKeys).values(key('key_2')))).rejects.toThrow()
        expect(await migrate(old)).toEqual(migrations.slice(1).map((m) => m.tag))
        await old.tx(async (tx) => tx.insert(apiKeys).values(key('key_2')))
        const rows = await old.read.select().from(apiKeys)
        expect(rows.map((r) => r.id).sort()).toEqual(['key_1', 'key_2'])
        expect((await old.read.select().from(namespaces)).map((r) => r.slug)).toEqual(['a'])
        // Foreign keys are back on after migrating.
        await expect(
          old.tx(async (tx) => tx.insert(applications).values({ id: 'app_x', namespaceId: 'ns_missing', name: 'x', rateLimit: null, createdAt: 1, updatedAt: 1 })),
        ).rejects.toThrow()
      } finally {
        await old.close()
      }
    })

    test('foreign keys are enforced', async () => {
      const { applications } = await import('./schema')
      await expect(
        store.tx(async (tx) => {
          await tx.insert(applications).values({ id: 'app_x', namespaceId: 'ns_missing', name: 'x', createdAt: 1, updatedAt: 1 })
        }),
      ).rejects.toThrow()
      expect((await store.read.select().from(applications).where(eq(applications.id, 'app_x'))).length).toBe(0)
    })
  })
}
