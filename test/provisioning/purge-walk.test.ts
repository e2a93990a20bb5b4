/**
 * Export and purge walk each table along its key, never by rowid: the rollup tables are WITHOUT
 * ROWID (migration 0007), and a tenant's rows there span several pages and batches. A row
 * written into a table the purge already emptied (an audit entry of a late request) goes too.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { count, eq } from 'drizzle-orm'
import { recordAudit } from '../../src/domain/audit'
import { RollupBatch } from '../../src/domain/analytics/rollups'
import type { Deps } from '../../src/domain/deps'
import { disableNamespace } from '../../src/domain/provisioning/deprovision'
import { exportNamespace } from '../../src/domain/provisioning/export'
import { purgeDueNamespaces } from '../../src/domain/provisioning/purge'
import { namespacedTables } from '../../src/domain/provisioning/tables'
import { auditLog, messageRollups, namespaces } from '../../src/store/schema'
import type { Db } from '../../src/store/store'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

const DAY = 86_400_000
const MINUTES = 2500
let gw: TestGateway
const tenants: Record<string, Awaited<ReturnType<TestGateway['tenant']>>> = {}
const channelIds: Record<string, string> = {}

/** 2,500 minute rollups (more than two export pages, many purge batches) for a namespace. */
async function fillRollups(slug: string) {
  const start = Date.parse('2026-01-01T00:00:00Z')
  await gw.deps.store.tx(async (tx) => {
    const batch = new RollupBatch()
    for (let i = 0; i < MINUTES; i++) batch.count({ namespaceId: tenants[slug]!.namespaceId, channelId: channelIds[slug]!, applicationId: null, direction: 'outbound' }, 'sent', start + i * 60_000)
    await batch.flush(tx)
  })
}

const rollupRows = async (namespaceId: string) =>
  (await gw.deps.store.read.select({ n: count() }).from(messageRollups).where(eq(messageRollups.namespaceId, namespaceId)))[0]!.n

beforeAll(async () => {
  gw = await startTestGateway({ retention: { purge_grace_days: 0 } })
  for (const slug of ['victim', 'neighbour']) {
    tenants[slug] = await gw.tenant(slug)
    channelIds[slug] = await gw.channel(tenants[slug]!.namespaceId, 'sandbox')
    await fillRollups(slug)
  }
})
afterAll(() => gw.close())

describe('walking tables by key', () => {
  test('every table that holds tenant rows has a key to walk by', () => {
    for (const t of namespacedTables()) expect([t.name, t.key.length > 0, t.cursor.length > 0]).toEqual([t.name, true, true])
    const rollups = namespacedTables().find((t) => t.name === 'message_rollups')!
    // The primary key, walked without its leading namespace_id (fixed for the walk).
    expect(rollups.key.map((c) => c.name)).toEqual(['namespace_id', 'granularity', 'bucket_start', 'channel_id', 'application_id', 'direction', 'status'])
    expect(rollups.cursor.map((c) => c.name)).toEqual(['granularity', 'bucket_start', 'channel_id', 'application_id', 'direction', 'status'])
  })

  test('export: every rollup row of the namespace exactly once, across pages, none of the neighbour', async () => {
    const victim = tenants.victim!.namespaceId
    // Minute, hour and per-channel hour rows.
    const expected = await rollupRows(victim)
    expect(expected).toBeGreaterThan(MINUTES)
    const lines: Record<string, unknown>[] = []
    await exportNamespace(gw.deps, victim, (line) => {
      lines.push(JSON.parse(line))
    })
    const rollups = lines.filter((l) => l.table === 'message_rollups')
    expect(rollups.length).toBe(expected)
    const keys = new Set(rollups.map((r) => `${r.granularity}|${r.bucket_start}|${r.channel_id}|${r.application_id}|${r.direction}|${r.status}`))
    expect(keys.size).toBe(expected)
    expect(rollups.every((r) => r.namespace_id === victim)).toBe(true)
  })

  test('purge: in batches along the key, a row written after its table was walked goes too; the neighbour keeps everything', async () => {
    const victim = tenants.victim!.namespaceId
    const neighbourBefore = await rollupRows(tenants.neighbour!.namespaceId)
    await disableNamespace(gw.deps, victim)
    await recordAudit(gw.deps.store, { namespaceId: victim, actor: { type: 'system', id: null }, action: 'before', resource: { type: 'namespace', id: victim }, at: Date.now() })

    // The audit log is walked last; once it is empty, a late request of an instance admin writes an entry.
    let injected = false
    const store = gw.deps.store
    const withLateWrite = {
      ...store,
      tx: async <T>(fn: (tx: Db) => Promise<T>) => {
        const result = await store.tx(fn)
        const [left] = await store.read.select({ n: count() }).from(auditLog).where(eq(auditLog.namespaceId, victim))
        const [ns] = await store.read.select({ status: namespaces.status }).from(namespaces).where(eq(namespaces.id, victim))
        if (!injected && ns?.status === 'purging' && (await rollupRows(victim)) === 0 && left!.n === 0) {
          injected = true
          await recordAudit(store, { namespaceId: victim, actor: { type: 'user', id: 'usr_admin' }, action: 'GET /v1/namespaces/{ns}/audit', resource: { type: 'namespace', id: victim }, at: Date.now() })
        }
        return result
      },
    }
    const deps = { ...gw.deps, store: withLateWrite, now: () => Date.now() + DAY } as Deps
    const report = await purgeDueNamespaces(deps, { batchRows: 300 })
    expect(report.purged).toEqual(['victim'])
    expect(injected).toBe(true)
    expect(report.rows.message_rollups).toBeGreaterThan(MINUTES)
    expect(await rollupRows(victim)).toBe(0)
    for (const t of namespacedTables()) {
      const [row] = await gw.deps.store.read.select({ n: count() }).from(t.table as never).where(eq(t.namespaceColumn, victim))
      expect([t.name, (row as { n: number }).n]).toEqual([t.name, 0])
    }
    expect(await rollupRows(tenants.neighbour!.namespaceId)).toBe(neighbourBefore)
  })
})
