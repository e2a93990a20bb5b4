/**
 * Migration 0007 (written by hand): the rollup tables rebuilt WITHOUT ROWID with the rollup key
 * as primary key, from a database at 0006 that already holds rollups — on both drivers. Then the
 * upsert still adds to the migrated rows, and the minute-rollup prune (batched by the key, there
 * being no rowid) removes only what is old enough.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { asc, sql } from 'drizzle-orm'
import { MINUTE_ROLLUP_RETENTION_MS, pruneMinuteRollups, RollupBatch } from '../../src/domain/analytics/rollups'
import type { Deps } from '../../src/domain/deps'
import { migrations } from '../../migrations/index'
import { migrate } from '../../src/store/migrate'
import { failureRollups, latencyRollups, messageRollups, namespaces } from '../../src/store/schema'
import type { Store } from '../../src/store/store'
import { storeDrivers, tempDir } from '../helpers/stores'

const ROLLUP_TABLES = ['message_rollups', 'latency_rollups', 'failure_rollups']
const HOUR = 3_600_000
const T = Date.parse('2026-03-08T10:00:00Z')

describe.each(storeDrivers)('migration 0007 on $name', (driver) => {
  let dir: ReturnType<typeof tempDir>
  let store: Store
  afterEach(async () => {
    await store.close()
    dir.cleanup()
  })

  test('a database at 0006 with rollups: every row kept, the tables WITHOUT ROWID keyed by the rollup key', async () => {
    dir = tempDir()
    store = await driver.open(dir.path)
    const upTo6 = migrations.filter((m) => m.idx <= 6)
    expect((await migrate(store, upTo6)).at(-1)).toBe('0006_analytics_provisioning')
    // Raw SQL: the drizzle schema describes the tables after 0007.
    await store.tx(async (tx) => {
      for (const ns of ['ns_a', 'ns_b']) {
        await tx.run(sql`INSERT INTO namespaces (id, slug, name, created_at, updated_at) VALUES (${ns}, ${ns.slice(3)}, ${ns}, 1, 1)`)
        for (const [granularity, bucket, app, n] of [['hour', T, '', 5], ['minute', T + 60_000, '', 2], ['hour:channel', T, '*', 5]] as const) {
          await tx.run(sql`INSERT INTO message_rollups (namespace_id, granularity, bucket_start, channel_id, application_id, direction, status, count)
            VALUES (${ns}, ${granularity}, ${bucket}, 'ch_1', ${app}, 'outbound', 'sent', ${n})`)
        }
        await tx.run(sql`INSERT INTO latency_rollups (namespace_id, bucket_start, channel_id, kind, le, count) VALUES (${ns}, ${T}, 'ch_1', 'accept_to_sent', 50, 3)`)
        await tx.run(sql`INSERT INTO failure_rollups (namespace_id, bucket_start, channel_id, error_code, count) VALUES (${ns}, ${T}, 'ch_1', 'mailbox_full', 1)`)
      }
    })
    // The old tables have a rowid.
    expect(await store.read.all(sql.raw('SELECT rowid FROM message_rollups LIMIT 1'))).toHaveLength(1)

    expect((await migrate(store))[0]).toBe('0007_rollups_without_rowid')

    for (const table of ROLLUP_TABLES) {
      const [ddl] = (await store.read.all(sql`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ${table}`)) as { sql: string }[]
      expect(ddl!.sql).toContain('WITHOUT ROWID')
      expect(ddl!.sql).toContain('PRIMARY KEY(`namespace_id`')
      await expect((async () => store.read.all(sql.raw(`SELECT rowid FROM ${table}`)))()).rejects.toThrow('rowid')
      // The unique key index went with the old table; the primary key replaces it.
      const indexes = (await store.read.all(sql`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ${table} AND sql IS NOT NULL`)) as unknown[]
      expect(indexes).toEqual([])
    }
    const rows = await store.read.select().from(messageRollups).orderBy(asc(messageRollups.namespaceId), asc(messageRollups.granularity))
    expect(rows.map((r) => [r.namespaceId, r.granularity, r.count])).toEqual([
      ['ns_a', 'hour', 5],
      ['ns_a', 'hour:channel', 5],
      ['ns_a', 'minute', 2],
      ['ns_b', 'hour', 5],
      ['ns_b', 'hour:channel', 5],
      ['ns_b', 'minute', 2],
    ])
    expect((await store.read.select().from(latencyRollups)).map((r) => r.count)).toEqual([3, 3])
    expect((await store.read.select().from(failureRollups)).map((r) => r.count)).toEqual([1, 1])

    // The rollup writer's upsert finds the migrated row by its primary key and adds to it.
    await store.tx(async (tx) => {
      const batch = new RollupBatch()
      batch.count({ namespaceId: 'ns_a', channelId: 'ch_1', applicationId: null, direction: 'outbound' }, 'sent', T + 90_000)
      batch.latency('ns_a', 'ch_1', 'accept_to_sent', 42, T)
      batch.failure('ns_a', 'ch_1', 'mailbox_full', T)
      await batch.flush(tx)
    })
    const after = await store.read.select().from(messageRollups).where(sql`namespace_id = 'ns_a'`).orderBy(asc(messageRollups.granularity))
    expect(after.map((r) => [r.granularity, r.count])).toEqual([
      ['hour', 6],
      ['hour:channel', 6],
      ['minute', 3],
    ])
    expect((await store.read.all(sql`SELECT count FROM latency_rollups WHERE namespace_id = 'ns_a' AND channel_id = 'ch_1'`)) as unknown[]).toEqual([{ count: 4 }])
    expect((await store.read.all(sql`SELECT count FROM failure_rollups WHERE namespace_id = 'ns_a'`)) as unknown[]).toEqual([{ count: 2 }])
    // The key is unique: a second row of the same key is refused.
    await expect(
      store.tx((tx) => tx.run(sql`INSERT INTO failure_rollups (namespace_id, bucket_start, channel_id, error_code, count) VALUES ('ns_a', ${T}, 'ch_1', 'mailbox_full', 1)`)),
    ).rejects.toThrow()
    // Deleting a namespace still takes its rollups with it (the foreign key survived the rebuild).
    await store.tx((tx) => tx.run(sql`DELETE FROM namespaces WHERE id = 'ns_b'`))
    for (const table of ROLLUP_TABLES) {
      expect((await store.read.all(sql.raw(`SELECT DISTINCT namespace_id AS ns FROM ${table}`))) as unknown[]).toEqual([{ ns: 'ns_a' }])
    }
  })

  test('the minute-rollup prune deletes, in batches by key, only minute rows older than the week', async () => {
    dir = tempDir()
    store = await driver.open(dir.path)
    await migrate(store)
    const at = T + 30 * 24 * HOUR
    const old = at - MINUTE_ROLLUP_RETENTION_MS - HOUR
    await store.tx(async (tx) => {
      for (const ns of ['ns_a', 'ns_b']) {
        await tx.insert(namespaces).values({ id: ns, slug: ns.slice(3), name: ns, createdAt: 1, updatedAt: 1 })
        const batch = new RollupBatch()
        const m = { namespaceId: ns, channelId: 'ch_1', applicationId: null, direction: 'outbound' }
        // 1,500 old minutes (more than one prune batch of 1,000) and one recent minute.
        for (let i = 0; i < 1500; i++) batch.count(m, 'sent', old - i * 60_000)
        batch.count(m, 'sent', at - 60_000)
        await batch.flush(tx)
      }
    })
    const minutes = async (ns: string) =>
      ((await store.read.all(sql`SELECT count(*) AS n FROM message_rollups WHERE namespace_id = ${ns} AND granularity = 'minute'`)) as { n: number }[])[0]!.n
    const hours = async () => ((await store.read.all(sql`SELECT sum(count) AS n FROM message_rollups WHERE granularity = 'hour'`)) as { n: number }[])[0]!.n
    expect([await minutes('ns_a'), await minutes('ns_b'), await hours()]).toEqual([1501, 1501, 3002])

    const deps = { store, now: () => at } as unknown as Deps
    expect(await pruneMinuteRollups(deps)).toBe(3000)
    // Recent minutes and every hour row stay.
    expect([await minutes('ns_a'), await minutes('ns_b'), await hours()]).toEqual([1, 1, 3002])
    expect(await pruneMinuteRollups(deps)).toBe(0)
  })
})
