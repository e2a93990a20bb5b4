/**
 * Retention: content of old, finished messages is purged (rows, statuses, metadata and rollups
 * stay), old events are deleted, per-namespace overrides apply, and the work goes in batches of
 * bounded size. Time moves by evaluating "100 days from now" rather than by faking row ids.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq, inArray, sql } from 'drizzle-orm'
import type { Deps } from '../../src/domain/deps'
import { applyRetention, PURGED_CONTENT, retentionPolicy } from '../../src/domain/retention'
import { messageEvents, messageRollups, messages, namespaces } from '../../src/store/schema'
import type { Db } from '../../src/store/store'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const DAY = 86_400_000
let gw: TestGateway
const ids: Record<string, string[]> = {}
let scheduledId = ''

type Tenant = Awaited<ReturnType<TestGateway['tenant']>>
const tenants: Record<string, Tenant> = {}

async function send(slug: string, n: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const res = await gw.call('POST', `/v1/namespaces/${slug}/messages`, tenants[slug]!.key, {
      channel: 'sandbox',
      to: `user${i}@example.com`,
      content: { text: `secret content ${i}`, subject: 'Hello' },
      metadata: { order: `${slug}-${i}` },
      ...extra,
    })
    expect(res.status).toBe(202)
    out.push(((await res.json()) as { id: string }).id)
  }
  return out
}

const rows = (list: string[]) => gw.deps.store.read.select().from(messages).where(inArray(messages.id, list))
const eventCount = async (list: string[]) =>
  (await gw.deps.store.read.select({ id: messageEvents.id }).from(messageEvents).where(inArray(messageEvents.messageId, list))).length
const rollupTotals = async () =>
  gw.deps.store.read.all(sql`SELECT count(*) AS n, coalesce(sum(${messageRollups.count}), 0) AS total FROM ${messageRollups}`)

beforeAll(async () => {
  gw = await startTestGateway({ retention: { message_days: 30, event_days: 60 } })
  for (const slug of ['acme', 'keep', 'short', 'bad']) {
    tenants[slug] = await gw.tenant(slug)
    await gw.channel(tenants[slug]!.namespaceId, 'sandbox')
  }
  const setRetention = (slug: string, retention: unknown) =>
    gw.deps.store.tx((tx) => tx.update(namespaces).set({ settings: { retention } }).where(eq(namespaces.id, tenants[slug]!.namespaceId)))
  await setRetention('keep', { message_days: 0, event_days: 0 })
  await setRetention('short', { event_days: 0 })
  await setRetention('bad', { message_days: 'soon' })

  await gw.startEngine()
  ids.old = await send('acme', 9)
  ids.recent = await send('acme', 2)
  ids.keep = await send('keep', 2)
  ids.short = await send('short', 2)
  ids.bad = await send('bad', 1)
  ;[scheduledId] = await send('acme', 1, { send_at: new Date(Date.now() + 365 * DAY).toISOString() })
  const all = Object.values(ids).flat()
  await eventually(async () => (await rows(all)).every((m) => m.status === 'delivered'))
  // An old rollup row of our own, so the check below never depends on what analytics wrote.
  await gw.deps.store.tx((tx) =>
    tx.insert(messageRollups).values({
      namespaceId: tenants.acme!.namespaceId,
      granularity: 'hour',
      bucketStart: Date.now() - 400 * DAY,
      channelId: 'ch_retention_test',
      direction: 'outbound',
      status: 'delivered',
      count: 7,
    }),
  )
  // The recent ones were created 80 days later than the rest: 20 days old when retention runs.
  await gw.deps.store.tx(async (tx) => {
    await tx.update(messages).set({ createdAt: sql`${messages.createdAt} + ${80 * DAY}` }).where(inArray(messages.id, ids.recent!))
    await tx.update(messageEvents).set({ createdAt: sql`${messageEvents.createdAt} + ${80 * DAY}` }).where(inArray(messageEvents.messageId, ids.recent!))
  })
})
afterAll(() => gw.close())

describe('retention', () => {
  test('per-namespace overrides over the [retention] defaults; a bad override is reported, defaults apply', () => {
    const defaults = { message_days: 30, event_days: 60 }
    expect(retentionPolicy(defaults, {}).policy).toEqual({ messageDays: 30, eventDays: 60 })
    expect(retentionPolicy(defaults, { retention: { event_days: 0 } }).policy).toEqual({ messageDays: 30, eventDays: 0 })
    const bad = retentionPolicy(defaults, { retention: { message_days: -1 } })
    expect(bad.policy).toEqual({ messageDays: 30, eventDays: 60 })
    expect(bad.problem).toStartWith('settings.retention.message_days:')
    expect(retentionPolicy(defaults, { retention: { message_day: 1 } }).problem).toContain('message_day')
  })

  test('100 days on: old content purged, everything else kept, in batches of at most the batch size', async () => {
    const eventsBefore = {
      old: await eventCount(ids.old!),
      recent: await eventCount(ids.recent!),
      keep: await eventCount(ids.keep!),
      short: await eventCount(ids.short!),
      bad: await eventCount(ids.bad!),
    }
    expect(eventsBefore.old).toBeGreaterThan(0)
    const rollupsBefore = await rollupTotals()
    expect(Number((rollupsBefore[0] as { total: number }).total)).toBeGreaterThanOrEqual(7)
    const oldBefore = await rows(ids.old!)

    // Every write transaction retention opens, and the rows each one changed.
    const perTx: number[] = []
    const store = gw.deps.store
    const counting = {
      ...store,
      tx: <T>(fn: (tx: Db) => Promise<T>) =>
        store.tx(async (tx) => {
          const result = await fn(tx)
          perTx.push(Array.isArray(result) ? result.length : -1)
          return result
        }),
    }
    const deps = { ...gw.deps, store: counting, now: () => Date.now() + 100 * DAY } as Deps
    const report = await applyRetention(deps, { batchSize: 4 })

    // acme's 9 old and short's 2 and bad's 1 (defaults): 12; keep's are kept, recent ones too young.
    expect(report.contentPurged).toBe(12)
    expect(report.invalidOverrides).toEqual([{ namespace: 'bad', problem: expect.stringContaining('settings.retention.message_days') }])
    expect(perTx.length).toBe(report.batches)
    expect(Math.max(...perTx)).toBeLessThanOrEqual(4)
    expect(report.largestBatch).toBeLessThanOrEqual(4)
    expect(report.batches).toBeGreaterThanOrEqual(Math.ceil(12 / 4) + Math.ceil(report.eventsDeleted / 4))

    const oldAfter = await rows(ids.old!)
    for (const m of oldAfter) {
      const was = oldBefore.find((b) => b.id === m.id)!
      expect(m.content as unknown).toEqual(PURGED_CONTENT)
      expect({ ...m, content: null }).toEqual({ ...was, content: null })
    }
    for (const m of await rows([...ids.recent!, ...ids.keep!, scheduledId])) expect(m.content.text).toStartWith('secret content')
    for (const m of await rows([...ids.short!, ...ids.bad!])) expect(m.content as unknown).toEqual(PURGED_CONTENT)

    // Events: older than 60 days go, except where a namespace keeps them (keep, short).
    expect(await eventCount(ids.old!)).toBe(0)
    expect(await eventCount(ids.recent!)).toBe(eventsBefore.recent)
    expect(await eventCount(ids.keep!)).toBe(eventsBefore.keep)
    expect(await eventCount(ids.short!)).toBe(eventsBefore.short)
    expect(await eventCount(ids.bad!)).toBe(0)
    expect(report.eventsDeleted).toBe(eventsBefore.old + eventsBefore.bad)
    expect(await rollupTotals()).toEqual(rollupsBefore)

    // The API still answers for a purged message: status and metadata, content marked purged.
    const res = await gw.call('GET', `/v1/namespaces/acme/messages/${ids.old![0]}`, tenants.acme!.key)
    expect(res.status).toBe(200)
    const view = (await res.json()) as { status: string; content: unknown; metadata: Record<string, string> }
    expect(view).toMatchObject({ status: 'delivered', content: PURGED_CONTENT, metadata: { order: 'acme-0' } })
  })

  test('a second run finds nothing more to do', async () => {
    const deps = { ...gw.deps, now: () => Date.now() + 100 * DAY }
    const report = await applyRetention(deps, { batchSize: 4 })
    expect(report).toMatchObject({ contentPurged: 0, eventsDeleted: 0, batches: 0 })
  })

  test('an aborted run stops between batches', async () => {
    const abort = new AbortController()
    abort.abort()
    const deps = { ...gw.deps, now: () => Date.now() + 1000 * DAY }
    expect(await applyRetention(deps, { batchSize: 1, signal: abort.signal })).toMatchObject({ batches: 0 })
  })
})
