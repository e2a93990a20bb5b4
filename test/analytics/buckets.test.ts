/**
 * Buckets and ranges: hour and day boundaries in UTC, in a half-hour zone (Asia/Kolkata) and
 * across both DST changes of America/New_York; ranges rounded to whole buckets; limits; and
 * every bad parameter is a 422 naming it. Rollup rows are written directly, the clock is
 * `deps.now`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { RollupBatch, type CountedStatus } from '../../src/domain/analytics/rollups'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
let sms = ''
let mail = ''

type Bucket = { start: string; group?: string | null; counts: Record<string, number> }
type Report = { from: string; to: string; tz: string; resolution: string; approximate: boolean; totals: Record<string, number>; buckets: Bucket[] }

/** Counts `status` at each time, straight into the rollups (as the hot path would). */
async function put(status: CountedStatus, times: string[], channelId = sms) {
  await gw.deps.store.tx(async (tx) => {
    const batch = new RollupBatch()
    for (const t of times) batch.count({ namespaceId: acme.namespaceId, channelId, applicationId: null, direction: 'outbound' }, status, Date.parse(t))
    await batch.flush(tx)
  })
}

async function query(params: Record<string, string>, expectStatus = 200): Promise<any> {
  const res = await gw.call('GET', `/v1/namespaces/acme/analytics/messages?${new URLSearchParams(params)}`, acme.key)
  expect(res.status).toBe(expectStatus)
  return res.json()
}

const nonEmpty = (r: Report) => r.buckets.filter((b) => Object.keys(b.counts).length > 0).map((b) => [b.start, b.counts])

beforeAll(async () => {
  gw = await startTestGateway()
  acme = await gw.tenant('acme')
  sms = await gw.channel(acme.namespaceId, 'sms')
  mail = await gw.channel(acme.namespaceId, 'mail')
  // A week after the data below: every minute rollup is still kept.
  gw.deps.now = () => Date.parse('2026-03-12T00:00:00Z')
  await put('queued', ['2026-03-07T23:59:59.999Z', '2026-03-08T00:00:00Z', '2026-03-08T00:59:59Z', '2026-03-08T01:00:00Z'])
  // Asia/Kolkata is UTC+05:30: its midnight of the 9th is 18:30Z on the 8th.
  await put('sent', ['2026-03-08T18:29:59Z', '2026-03-08T18:30:00Z', '2026-03-08T10:29:00Z', '2026-03-08T10:30:00Z'])
  // America/New_York springs forward on 2026-03-08 at 07:00Z (01:59 EST → 03:00 EDT).
  await put('delivered', ['2026-03-08T06:59:00Z', '2026-03-08T07:00:00Z', '2026-03-09T03:59:00Z', '2026-03-09T04:00:00Z'])
  // …and falls back on 2026-11-01 at 06:00Z (01:59 EDT → 01:00 EST): two hours labelled 01:00.
  await put('failed', ['2026-11-01T05:30:00Z', '2026-11-01T06:30:00Z', '2026-11-01T07:30:00Z'])
  await put('sent', ['2026-03-08T00:10:00Z', '2026-03-08T00:20:00Z'], mail)
})
afterAll(() => gw.close())

describe('UTC', () => {
  test('hour buckets: a row belongs to the hour its time falls in, boundaries included', async () => {
    const r: Report = await query({ from: '2026-03-07T23:00:00Z', to: '2026-03-08T02:00:00Z', interval: 'hour', channel: 'sms' })
    expect(r).toMatchObject({ from: '2026-03-07T23:00:00Z', to: '2026-03-08T02:00:00Z', tz: 'UTC', resolution: 'hour', approximate: false })
    expect(r.buckets).toEqual([
      { start: '2026-03-07T23:00:00Z', counts: { queued: 1 } },
      { start: '2026-03-08T00:00:00Z', counts: { queued: 2 } },
      { start: '2026-03-08T01:00:00Z', counts: { queued: 1 } },
    ])
    expect(r.totals.queued).toBe(4)
  })

  test('a range is rounded to whole buckets: from down, to up', async () => {
    const r: Report = await query({ from: '2026-03-07T23:59:00Z', to: '2026-03-08T00:00:01Z', channel: 'sms' })
    expect([r.from, r.to]).toEqual(['2026-03-07T23:00:00Z', '2026-03-08T01:00:00Z'])
    expect(r.buckets.map((b) => b.counts.queued)).toEqual([1, 2])
  })

  test('day buckets, and minute buckets from the minute rollups', async () => {
    const days: Report = await query({ from: '2026-03-07T00:00:00Z', to: '2026-03-09T00:00:00Z', interval: 'day', channel: 'sms' })
    expect(nonEmpty(days)).toEqual([
      ['2026-03-07T00:00:00Z', { queued: 1 }],
      ['2026-03-08T00:00:00Z', { queued: 3, sent: 4, delivered: 2 }],
    ])
    const minutes: Report = await query({ from: '2026-03-07T23:59:00Z', to: '2026-03-08T00:01:00Z', interval: 'minute', channel: 'sms' })
    expect(minutes.resolution).toBe('minute')
    expect(minutes.buckets).toEqual([
      { start: '2026-03-07T23:59:00Z', counts: { queued: 1 } },
      { start: '2026-03-08T00:00:00Z', counts: { queued: 1 } },
    ])
  })

  test('group_by channel: one entry per bucket and channel that has counts', async () => {
    const r: Report = await query({ from: '2026-03-08T00:00:00Z', to: '2026-03-08T01:00:00Z', group_by: 'channel' })
    expect(r.buckets).toEqual([
      { start: '2026-03-08T00:00:00Z', group: 'mail', counts: { sent: 2 } },
      { start: '2026-03-08T00:00:00Z', group: 'sms', counts: { queued: 2 } },
    ])
    const byType: Report = await query({ from: '2026-03-08T00:00:00Z', to: '2026-03-08T01:00:00Z', group_by: 'channel_type' })
    // Both channels are sandboxes: their counts add up under one group.
    expect(byType.buckets).toEqual([{ start: '2026-03-08T00:00:00Z', group: 'sandbox', counts: { queued: 2, sent: 2 } }])
  })
})

describe('Asia/Kolkata (UTC+05:30)', () => {
  test('day buckets start at local midnight, 18:30Z', async () => {
    const r: Report = await query({ from: '2026-03-08T00:00:00+05:30', to: '2026-03-10T00:00:00+05:30', interval: 'day', tz: 'Asia/Kolkata', channel: 'sms' })
    // 48 hours: exact, from the minute rollups.
    expect(r).toMatchObject({ tz: 'Asia/Kolkata', resolution: 'minute', approximate: false, from: '2026-03-08T00:00:00+05:30', to: '2026-03-10T00:00:00+05:30' })
    expect(r.buckets).toEqual([
      { start: '2026-03-08T00:00:00+05:30', counts: { queued: 4, sent: 3, delivered: 2 } },
      { start: '2026-03-09T00:00:00+05:30', counts: { sent: 1, delivered: 2 } },
    ])
  })

  test('hour buckets start on the half hour in UTC', async () => {
    const r: Report = await query({ from: '2026-03-08T15:00:00+05:30', to: '2026-03-08T17:00:00+05:30', tz: 'Asia/Kolkata', channel: 'sms' })
    expect(r.buckets).toEqual([
      { start: '2026-03-08T15:00:00+05:30', counts: { sent: 1 } },
      { start: '2026-03-08T16:00:00+05:30', counts: { sent: 1 } },
    ])
  })

  test('beyond 48 hours the hour rollups answer, and the report says it is approximate', async () => {
    const r: Report = await query({ from: '2026-03-06T00:00:00+05:30', to: '2026-03-10T00:00:00+05:30', interval: 'day', tz: 'Asia/Kolkata', channel: 'sms' })
    expect(r).toMatchObject({ resolution: 'hour', approximate: true })
    expect(Object.values(r.totals).reduce((a, b) => a + b, 0)).toBe(12)
  })
})

describe('America/New_York across DST', () => {
  test('spring forward: a 23-hour day, and no 02:00 hour', async () => {
    const hours: Report = await query({ from: '2026-03-08T00:00:00-05:00', to: '2026-03-09T00:00:00-04:00', tz: 'America/New_York', channel: 'sms' })
    expect(hours).toMatchObject({ resolution: 'hour', approximate: false, from: '2026-03-08T00:00:00-05:00', to: '2026-03-09T00:00:00-04:00' })
    expect(hours.buckets).toHaveLength(23)
    expect(hours.buckets.slice(0, 4).map((b) => b.start)).toEqual([
      '2026-03-08T00:00:00-05:00',
      '2026-03-08T01:00:00-05:00',
      '2026-03-08T03:00:00-04:00',
      '2026-03-08T04:00:00-04:00',
    ])
    expect(hours.buckets[1]!.counts).toEqual({ delivered: 1 })
    expect(hours.buckets[2]!.counts).toEqual({ delivered: 1 })

    const days: Report = await query({ from: '2026-03-08T00:00:00-05:00', to: '2026-03-10T00:00:00-04:00', interval: 'day', tz: 'America/New_York', channel: 'sms' })
    expect(days.buckets.map((b) => [b.start, b.counts.delivered ?? 0])).toEqual([
      ['2026-03-08T00:00:00-05:00', 3],
      ['2026-03-09T00:00:00-04:00', 1],
    ])
  })

  test('fall back: a 25-hour day with 01:00 twice, once in each offset', async () => {
    gw.deps.now = () => Date.parse('2026-11-05T00:00:00Z')
    try {
      const r: Report = await query({ from: '2026-11-01T00:00:00-04:00', to: '2026-11-02T00:00:00-05:00', tz: 'America/New_York', channel: 'sms' })
      expect(r.buckets).toHaveLength(25)
      expect(nonEmpty(r)).toEqual([
        ['2026-11-01T01:00:00-04:00', { failed: 1 }],
        ['2026-11-01T01:00:00-05:00', { failed: 1 }],
        ['2026-11-01T02:00:00-05:00', { failed: 1 }],
      ])
    } finally {
      gw.deps.now = () => Date.parse('2026-03-12T00:00:00Z')
    }
  })
})

describe('defaults and limits', () => {
  test('with no range: the last 24 hours in hour buckets, every bucket listed', async () => {
    const r: Report = await query({})
    expect([r.from, r.to]).toEqual(['2026-03-11T00:00:00Z', '2026-03-12T00:00:00Z'])
    expect(r.buckets).toHaveLength(24)
    expect(r.totals).toEqual({ scheduled: 0, queued: 0, retried: 0, sent: 0, delivered: 0, read: 0, failed: 0, cancelled: 0, expired: 0, received: 0 })
  })

  const problems: [string, Record<string, string>, string][] = [
    ['an unknown time zone', { tz: 'Mars/Olympus_Mons' }, 'tz'],
    ['from after to', { from: '2026-03-09T00:00:00Z', to: '2026-03-08T00:00:00Z' }, 'from'],
    ['a time that is not RFC 3339', { from: 'yesterday' }, 'from'],
    ['too many minute buckets', { from: '2026-03-08T00:00:00Z', to: '2026-03-10T00:00:00Z', interval: 'minute' }, 'from'],
    ['too many hour buckets', { from: '2025-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }, 'from'],
    ['minute buckets older than their retention', { from: '2026-02-01T00:00:00Z', to: '2026-02-01T01:00:00Z', interval: 'minute' }, 'from'],
    ['an unknown interval', { interval: 'week' }, 'interval'],
    ['an unknown group', { group_by: 'namespace' }, 'group_by'],
    ['an unknown channel', { channel: 'nope' }, 'channel'],
    ['an unknown parameter', { limit: '10' }, 'limit'],
  ]
  test.each(problems)('%s is a 422 naming the field', async (_, params, field) => {
    const body = await query(params, 422)
    expect(body.code).toBe('validation_failed')
    expect(body.errors.map((e: { field: string }) => e.field)).toEqual([field])
  })
})
