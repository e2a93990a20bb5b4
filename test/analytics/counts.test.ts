/**
 * Analytics counts are exact: what the rollups say equals what actually happened to the
 * messages — through the sandbox (delivered, read, failed, retried), through the http channel
 * with duplicated status callbacks, inbound replays, scheduled and cancelled messages, a lost
 * lease and a transaction that fails after counting.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { and, count, eq, isNotNull, sql } from 'drizzle-orm'
import { COUNTED_STATUSES } from '../../src/domain/analytics/rollups'
import { updateChannel } from '../../src/domain/channels'
import { claimDueMessages, completeAttempt } from '../../src/domain/messages/dispatch'
import { appendEvents } from '../../src/domain/messages/events'
import { messageEvents, messageRollups, messages } from '../../src/store/schema'
import { startHttpReceiver } from '../fakes/http-receiver'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>

beforeEach(async () => {
  gw = await startTestGateway()
  acme = await gw.tenant('acme')
})
afterEach(() => gw.close())

type Report = { totals: Record<string, number>; buckets: { group?: string | null; counts: Record<string, number> }[]; top_failures: { code: string; count: number }[]; latency_ms: Record<string, { count: number }> }

async function analytics(query = ''): Promise<Report> {
  const res = await gw.call('GET', `/v1/namespaces/acme/analytics/messages${query}`, acme.key)
  expect(res.status).toBe(200)
  return (await res.json()) as Report
}

const send = async (channel: string, options?: unknown, extra: Record<string, unknown> = {}) => {
  const res = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel, to: 'alice', content: { text: 'hi' }, options, ...extra })
  expect(res.status).toBe(202)
  return ((await res.json()) as { id: string }).id
}

/** The counts the rollups must hold, worked out independently from the messages' own history. */
async function truth(): Promise<Record<string, number>> {
  const db = gw.deps.store.read
  const expected: Record<string, number> = Object.fromEntries(COUNTED_STATUSES.map((s) => [s, 0]))
  // Each message once per status it reached (an event of that status; queued only without an error).
  const reached = await db
    .select({ status: messageEvents.status, n: sql<number>`count(DISTINCT ${messageEvents.messageId})` })
    .from(messageEvents)
    .where(and(eq(messageEvents.namespaceId, acme.namespaceId), sql`NOT (${messageEvents.status} = 'queued' AND ${messageEvents.errorCode} IS NOT NULL)`))
    .groupBy(messageEvents.status)
  for (const r of reached) if (r.status in expected) expected[r.status] = r.n
  // Creation statuses have no event row: the message row is its first event.
  const created = await db
    .select({ direction: messages.direction, scheduled: sql<number>`sum(${messages.sendAt} > ${messages.createdAt})`, n: count() })
    .from(messages)
    .where(eq(messages.namespaceId, acme.namespaceId))
    .groupBy(messages.direction)
  for (const c of created) {
    if (c.direction === 'inbound') expected.received = c.n
    else {
      expected.scheduled = Number(c.scheduled ?? 0)
      expected.queued! += c.n - expected.scheduled
    }
  }
  // Every failed attempt that was tried again: a queued event with an error class.
  const [retries] = await db.select({ n: count() }).from(messageEvents).where(and(eq(messageEvents.namespaceId, acme.namespaceId), eq(messageEvents.status, 'queued'), isNotNull(messageEvents.errorClass)))
  expected.retried = retries!.n
  return expected
}

const allFinal = async () => {
  const [row] = await gw.deps.store.read.select({ n: count() }).from(messages).where(and(eq(messages.namespaceId, acme.namespaceId), isNotNull(messages.nextAttemptAt)))
  return row!.n === 0
}

describe('through the sandbox', () => {
  test('delivered, read, failed, retried and given-up messages are each counted exactly', async () => {
    await gw.channel(acme.namespaceId, 'sandbox')
    await gw.channel(acme.namespaceId, 'backup')
    await updateChannel(gw.deps, acme.namespaceId, 'sandbox', { max_attempts: 3 })
    await gw.startEngine()
    const plan: [string, unknown, number][] = [
      ['sandbox', undefined, 6],
      ['sandbox', { sandbox: { outcome: 'read' } }, 2],
      ['sandbox', { sandbox: { outcome: 'failed' } }, 3],
      ['sandbox', { sandbox: { failures: 2 } }, 2],
      ['sandbox', { sandbox: { outcome: 'transient' } }, 1],
      ['backup', undefined, 4],
    ]
    for (const [channel, options, n] of plan) for (let i = 0; i < n; i++) await send(channel, options)
    await eventually(allFinal)

    const report = await analytics()
    expect(report.totals).toEqual({
      scheduled: 0,
      queued: 18,
      // Two retries for each of the two `failures: 2`, two before the always-transient one gave up.
      retried: 6,
      sent: 14,
      delivered: 14,
      read: 2,
      failed: 4,
      cancelled: 0,
      expired: 0,
      received: 0,
    })
    expect(report.totals).toEqual(await truth())
    expect(report.top_failures).toEqual([
      { code: 'sandbox_failed', count: 3 },
      { code: 'sandbox_transient', count: 1 },
    ])
    expect(report.latency_ms.accept_to_sent!.count).toBe(14)
    expect(report.latency_ms.sent_to_delivered!.count).toBe(14)

    const byChannel = await analytics('?group_by=channel')
    const sum = (group: string, status: string) => byChannel.buckets.filter((b) => b.group === group).reduce((n, b) => n + (b.counts[status] ?? 0), 0)
    expect([sum('sandbox', 'queued'), sum('sandbox', 'failed'), sum('backup', 'queued'), sum('backup', 'delivered'), sum('backup', 'failed')]).toEqual([14, 4, 4, 4, 0])
  })

  test('a scheduled message is counted scheduled, then queued when due; a cancelled one cancelled', async () => {
    await gw.channel(acme.namespaceId, 'sandbox')
    const later = new Date(Date.now() + 3_600_000).toISOString()
    await send('sandbox', undefined, { send_at: later })
    const cancelled = await send('sandbox', undefined, { send_at: later })
    expect((await gw.call('POST', `/v1/namespaces/acme/messages/${cancelled}/cancel`, acme.key)).status).toBe(200)
    // The dispatcher's clock reaches send_at: the remaining scheduled message is claimed.
    const claimed = await claimDueMessages(gw.deps.store, 'test', 10, 60_000, Date.now() + 3_700_000)
    expect(claimed).toHaveLength(1)
    const report = await analytics(`?to=${new Date(Date.now() + 4 * 3_600_000).toISOString()}`)
    expect(report.totals).toMatchObject({ scheduled: 2, queued: 1, cancelled: 1, sent: 0 })
    expect(report.totals).toEqual(await truth())
  })
})

describe('a batch', () => {
  test('mixed channels, scheduled and queued messages in one batch are each counted once, by channel', async () => {
    await gw.channel(acme.namespaceId, 'sandbox')
    await gw.channel(acme.namespaceId, 'other')
    const later = new Date(Date.now() + 3_600_000).toISOString()
    const kinds = ['sandbox', 'sandbox', 'other', 'sandbox', 'other', 'other', 'sandbox']
    const res = await gw.call('POST', '/v1/namespaces/acme/messages/batch', acme.key, {
      messages: kinds.map((channel, i) => ({ channel, to: `user${i}`, content: { text: 'hi' }, ...(i === 3 || i === 4 ? { send_at: later } : {}) })),
    })
    expect(res.status).toBe(202)
    const report = await analytics()
    expect(report.totals.queued).toBe(5)
    expect(report.totals.scheduled).toBe(2)
    expect(report.totals).toEqual(expect.objectContaining(Object.fromEntries(Object.entries(await truth()).filter(([, n]) => n > 0))))
    const byChannel = await analytics('?group_by=channel')
    const sum = (group: string, status: string) => byChannel.buckets.filter((b) => b.group === group).reduce((n, b) => n + (b.counts[status] ?? 0), 0)
    expect([sum('sandbox', 'queued'), sum('sandbox', 'scheduled'), sum('other', 'queued'), sum('other', 'scheduled')]).toEqual([3, 1, 2, 1])
  })
})

describe('exactly once', () => {
  test('a lost lease counts the attempt once; a release or a failed transaction counts nothing', async () => {
    await gw.channel(acme.namespaceId, 'sandbox')
    const id = await send('sandbox')
    const t0 = Date.now()
    const [first] = await claimDueMessages(gw.deps.store, 'crashed', 10, 1000, t0)
    // The first owner "crashes"; its lease runs out and another instance claims and sends.
    const [second] = await claimDueMessages(gw.deps.store, 'other', 10, 60_000, t0 + 2000)
    expect(second!.id).toBe(id)
    expect(await completeAttempt(gw.deps.store, 'other', second!, { kind: 'sent', providerMessageId: 'p-1', confirmed: 'delivered' }, t0 + 2100)).toBe(true)
    // The crashed owner's late answer is dropped, and so is its count.
    expect(await completeAttempt(gw.deps.store, 'crashed', first!, { kind: 'sent', providerMessageId: 'p-0', confirmed: 'delivered' }, t0 + 2200)).toBe(false)

    // A message handed back at shutdown is not a retry.
    await send('sandbox')
    const [leased] = await claimDueMessages(gw.deps.store, 'worker', 10, 60_000, Date.now())
    await completeAttempt(gw.deps.store, 'worker', leased!, { kind: 'released' }, Date.now())

    // A transaction that fails after counting leaves no count behind.
    const [row] = await gw.deps.store.read.select().from(messages).where(eq(messages.id, id))
    const before = await gw.deps.store.read.select().from(messageRollups)
    const failing = gw.deps.store.write(async (tx) => {
      await appendEvents(tx, [{ namespaceId: acme.namespaceId, messageId: id, status: 'failed', errorCode: 'x', errorClass: 'permanent', createdAt: Date.now() }], [row!])
      throw new Error('crash after counting')
    })
    await expect(failing).rejects.toThrow('crash after counting')
    expect(await gw.deps.store.read.select().from(messageRollups)).toEqual(before)

    const report = await analytics()
    expect(report.totals).toMatchObject({ queued: 2, sent: 1, delivered: 1, retried: 0, failed: 0 })
    expect(report.totals).toEqual(await truth())
  })
})

describe('through the http channel with status callbacks', () => {
  const SECRET = 'an-inbound-secret-of-32-characters!'
  let channelId = ''
  let receiver: ReturnType<typeof startHttpReceiver>

  beforeEach(async () => {
    receiver = startHttpReceiver({ respond: (_req, n) => Response.json({ id: `remote-${n}` }) })
    channelId = await gw.channel(acme.namespaceId, 'crm', 'http', { url: receiver.url, inbound_secret: SECRET })
  })
  afterEach(() => receiver.stop())

  function callback(body: unknown) {
    const raw = JSON.stringify(body)
    const timestamp = Math.floor(Date.now() / 1000)
    const signature = createHmac('sha256', SECRET).update(`${timestamp}.${raw}`).digest('hex')
    return gw.app.request(`/inbound/${channelId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-omnigate-timestamp': String(timestamp), 'x-omnigate-signature': `v1=${signature}` },
      body: raw,
    })
  }

  test('duplicated callbacks and replayed inbound messages are counted once', async () => {
    await gw.startEngine()
    const ids = [await send('crm'), await send('crm'), await send('crm')]
    const sent = await eventually(async () => {
      const rows = await gw.deps.store.read.select().from(messages).where(eq(messages.channelId, channelId))
      return rows.every((m) => m.status === 'sent') && rows
    })
    const remote = (id: string) => sent.find((m) => m.id === id)!.providerMessageId!
    const reports = {
      statuses: [
        { id: remote(ids[0]!), status: 'delivered' },
        { id: remote(ids[1]!), status: 'delivered' },
        { id: remote(ids[2]!), status: 'failed', error_code: 'mailbox_full', error_message: 'the mailbox is full' },
      ],
    }
    // The provider retries its callback: every report arrives twice, and a late `sent` too.
    for (let i = 0; i < 2; i++) expect((await callback(reports)).status).toBe(200)
    expect((await callback({ statuses: [{ id: remote(ids[0]!), status: 'sent' }] })).status).toBe(200)
    // An inbound message delivered twice by the provider.
    const inbound = { messages: [{ from: 'customer-7', id: 'crm-991', content: { text: 'where is my order?' } }] }
    for (let i = 0; i < 2; i++) expect((await callback(inbound)).status).toBe(200)

    const report = await analytics()
    expect(report.totals).toMatchObject({ queued: 3, sent: 3, delivered: 2, failed: 1, received: 1, retried: 0 })
    expect(report.totals).toEqual(await truth())
    expect(report.top_failures).toEqual([{ code: 'mailbox_full', count: 1 }])
    expect(report.latency_ms.sent_to_delivered!.count).toBe(2)
  })

  test('a report that races ahead of the send is counted once, when it is applied', async () => {
    const id = await send('crm')
    const [claimed] = await claimDueMessages(gw.deps.store, 'o', 10, 60_000, Date.now())
    for (let i = 0; i < 2; i++) expect((await callback({ statuses: [{ id: 'remote-early', status: 'delivered' }] })).status).toBe(200)
    expect((await analytics()).totals.delivered).toBe(0)
    await completeAttempt(gw.deps.store, 'o', claimed!, { kind: 'sent', providerMessageId: 'remote-early', confirmed: 'sent' }, Date.now())
    const [message] = await gw.deps.store.read.select().from(messages).where(eq(messages.id, id))
    expect(message!.status).toBe('delivered')
    const report = await analytics()
    expect(report.totals).toMatchObject({ sent: 1, delivered: 1 })
    expect(report.totals).toEqual(await truth())
  })
})
