/**
 * The rollup writer on both store drivers (bun:sqlite runs its upserts on the connection,
 * libSQL through drizzle), what each event counts as, and percentiles from the histograms.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { asc } from 'drizzle-orm'
import { percentiles } from '../../src/domain/analytics/query'
import { countedStatusOf, LATENCY_BOUNDS_MS, LATENCY_INF, latencyBound, RollupBatch } from '../../src/domain/analytics/rollups'
import { channels, failureRollups, latencyRollups, messageRollups, namespaces } from '../../src/store/schema'
import type { Store } from '../../src/store/store'
import { migratedStore, storeDrivers, tempDir } from '../helpers/stores'

describe.each(storeDrivers)('RollupBatch on $name', (driver) => {
  let dir: ReturnType<typeof tempDir>
  let store: Store
  afterEach(async () => {
    await store.close()
    dir.cleanup()
  })

  test('one row per key, counts added up across batches, the newest channel error kept', async () => {
    dir = tempDir()
    store = await migratedStore(driver, dir.path)
    const at = Date.parse('2026-03-08T10:15:30Z')
    await store.tx(async (tx) => {
      await tx.insert(namespaces).values({ id: 'ns_1', slug: 'acme', name: 'acme', createdAt: at, updatedAt: at })
      await tx.insert(channels).values({ id: 'ch_1', namespaceId: 'ns_1', name: 'sms', type: 'sandbox', configEnc: 'x', createdAt: at, updatedAt: at })
    })
    const m = { namespaceId: 'ns_1', channelId: 'ch_1', applicationId: null, direction: 'outbound' }
    for (let round = 0; round < 2; round++) {
      await store.tx(async (tx) => {
        const batch = new RollupBatch()
        batch.count(m, 'sent', at)
        batch.count(m, 'sent', at + 1000)
        // Twelve distinct minutes, five apart: 10:15 … 11:10, across two hours.
        for (let i = 0; i < 12; i++) batch.count({ ...m, applicationId: 'app_1' }, 'queued', at + i * 5 * 60_000)
        batch.latency('ns_1', 'ch_1', 'accept_to_sent', 42, at)
        batch.latency('ns_1', 'ch_1', 'accept_to_sent', 50, at)
        batch.failure('ns_1', 'ch_1', 'mailbox_full', at)
        batch.channelError({ namespaceId: 'ns_1', channelId: 'ch_1', code: 'late', message: 'older', at: at - 5000 })
        batch.channelError({ namespaceId: 'ns_1', channelId: 'ch_1', code: 'mailbox_full', message: 'the mailbox is full', at })
        await batch.flush(tx)
      })
    }
    const rows = await store.read.select().from(messageRollups).orderBy(asc(messageRollups.granularity), asc(messageRollups.bucketStart), asc(messageRollups.status))
    const sent = rows.filter((r) => r.status === 'sent').map((r) => [r.granularity, new Date(r.bucketStart).toISOString(), r.applicationId, r.count])
    expect(sent).toEqual([
      ['hour', '2026-03-08T10:00:00.000Z', '', 4],
      // The per-channel level: every application of the hour in one row.
      ['hour:channel', '2026-03-08T10:00:00.000Z', '*', 4],
      ['minute', '2026-03-08T10:15:00.000Z', '', 4],
    ])
    const queued = rows.filter((r) => r.status === 'queued')
    expect(queued.filter((r) => r.granularity === 'minute').map((r) => r.count)).toEqual(Array(12).fill(2))
    expect(queued.filter((r) => r.granularity === 'hour').map((r) => [new Date(r.bucketStart).toISOString(), r.count])).toEqual([
      ['2026-03-08T10:00:00.000Z', 2 * 9],
      ['2026-03-08T11:00:00.000Z', 2 * 3],
    ])
    expect((await store.read.select().from(latencyRollups).orderBy(asc(latencyRollups.channelId))).map((r) => [r.channelId, r.kind, r.le, r.count])).toEqual([
      // The namespace-wide histogram beside the channel's.
      ['*', 'accept_to_sent', 50, 4],
      ['ch_1', 'accept_to_sent', 50, 4],
    ])
    expect((await store.read.select().from(failureRollups)).map((r) => [r.errorCode, r.count])).toEqual([['mailbox_full', 2]])
    const [channel] = await store.read.select().from(channels)
    expect([channel!.lastErrorCode, channel!.lastErrorMessage, channel!.lastErrorAt]).toEqual(['mailbox_full', 'the mailbox is full', at])
  })
})

test('what each event counts as', () => {
  const cases: [string, string | null, string | null, string | null][] = [
    ['queued', null, null, 'queued'],
    // A retry: the attempt's error with its class.
    ['queued', 'sandbox_transient', 'transient', 'retried'],
    // A shutdown release or a rate-limit deferral: no class, not counted.
    ['queued', 'shutdown', null, null],
    ['queued', 'channel_rate_limited', null, null],
    ['sending', null, null, null],
    ['sent', null, null, 'sent'],
    ['failed', 'x', 'permanent', 'failed'],
    ['cancelled', null, null, 'cancelled'],
    ['something-new', null, null, null],
  ]
  for (const [status, errorCode, errorClass, counted] of cases) {
    expect([status, errorCode, countedStatusOf({ status, errorCode, errorClass })]).toEqual([status, errorCode, counted])
  }
})

test('latency buckets are log-scale upper bounds ending in +inf', () => {
  expect(LATENCY_BOUNDS_MS.at(-1)).toBe(LATENCY_INF)
  expect([0, 5, 6, 999, 1000, 1001, 3_600_000, 3_600_001].map(latencyBound)).toEqual([5, 5, 10, 1000, 1000, 2500, 3_600_000, LATENCY_INF])
})

test('percentiles interpolate within a bucket and stop at the last finite bound', () => {
  expect(percentiles([])).toEqual({ count: 0, p50: null, p95: null, p99: null })
  // 100 samples: 50 ≤ 100 ms, 45 in (100, 250], 5 over an hour.
  const histogram = [
    { le: 100, n: 50 },
    { le: 250, n: 45 },
    { le: LATENCY_INF, n: 5 },
  ]
  expect(percentiles(histogram)).toEqual({ count: 100, p50: 100, p95: 250, p99: 250 })
  expect(percentiles([{ le: 1000, n: 10 }, { le: 500, n: 10 }])).toEqual({ count: 20, p50: 500, p95: 950, p99: 990 })
})
