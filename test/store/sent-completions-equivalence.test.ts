/**
 * What the batched `sent` completion (completeSentAttempts) writes across namespaces and
 * channels — webhook deliveries per endpoint and channel filter, events, rollups — is what
 * completeAttempt writes for the same messages one by one.
 */
import { afterEach, expect, test } from 'bun:test'
import { asc, eq, inArray } from 'drizzle-orm'
import { claimDueMessages, completeAttempt, completeSentAttempts, type SentCompletion } from '../../src/domain/messages/dispatch'
import { sendMessage } from '../../src/domain/messages/send'
import { createWebhook } from '../../src/domain/webhooks/endpoints'
import { invalidateWebhookCache } from '../../src/domain/webhooks/emit'
import { latencyRollups, messageEvents, messageRollups, messages, webhookDeliveries } from '../../src/store/schema'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

let gw: TestGateway
afterEach(() => gw?.close())

test('webhooks, events and rollups of a mixed batch match the per-message path', async () => {
  gw = await startTestGateway()
  const a = await gw.tenant('acme')
  const b = await gw.tenant('bravo')
  await gw.channel(a.namespaceId, 'one')
  await gw.channel(a.namespaceId, 'two')
  await gw.channel(b.namespaceId, 'one')
  const hooks = {
    aTwoSent: (await createWebhook(gw.deps, a.namespaceId, { url: 'http://127.0.0.1:9/a', event_types: ['message.sent'], channels: ['two'] } as never)) as any,
    aAll: (await createWebhook(gw.deps, a.namespaceId, { url: 'http://127.0.0.1:9/a2' } as never)) as any,
    bDelivered: (await createWebhook(gw.deps, b.namespaceId, { url: 'http://127.0.0.1:9/b', event_types: ['message.delivered', 'message.read'] } as never)) as any,
  }
  invalidateWebhookCache()
  const send = async (ns: string, channel: string) =>
    ((await sendMessage(gw.deps, ns, { channel, to: 'bob@example.com', content: { text: 'hi' } })).body as { id: string }).id
  const plan: [string, string, 'sent' | 'delivered' | 'read', string | undefined][] = [
    [a.namespaceId, 'one', 'sent', 'p1'],
    [a.namespaceId, 'two', 'delivered', undefined],
    [b.namespaceId, 'one', 'read', 'p3'],
    [a.namespaceId, 'two', 'read', 'p4'],
    [b.namespaceId, 'one', 'sent', undefined],
  ]
  const ids = { one: [] as string[], all: [] as string[] }
  for (const [ns, ch] of plan) ids.one.push(await send(ns, ch))
  for (const [ns, ch] of plan) ids.all.push(await send(ns, ch))
  // As after a failed first attempt: the success clears the error, in the row and in its webhooks' payloads.
  await gw.deps.store.tx((tx) => tx.update(messages).set({ errorCode: 'http_503', errorMessage: 'an earlier attempt failed' }))
  const claimed = await claimDueMessages(gw.deps.store, 'me', 100, 60_000, Date.now())
  expect(claimed).toHaveLength(10)
  const byId = new Map(claimed.map((m) => [m.id, m]))
  const at = Date.now()
  const items = (which: string[]): SentCompletion[] =>
    which.map((id, i) => ({ message: byId.get(id)!, outcome: { kind: 'sent', confirmed: plan[i]![2], providerMessageId: plan[i]![3] }, at: at + i }))
  for (const item of items(ids.one)) expect(await completeAttempt(gw.deps.store, 'me', item.message, item.outcome, item.at)).toBe(true)
  expect(await gw.deps.store.write((tx) => completeSentAttempts(tx, 'me', items(ids.all)))).toEqual([true, true, true, true, true])

  const read = gw.deps.store.read
  const describeOf = async (which: string[]) => {
    const out: unknown[] = []
    for (const id of which) {
      const m = (await read.select().from(messages).where(eq(messages.id, id)))[0]!
      const events = (await read.select().from(messageEvents).where(eq(messageEvents.messageId, id)).orderBy(asc(messageEvents.id))).map((e) => [
        e.status,
        e.attempt,
        e.providerMessageId,
        e.createdAt - at,
      ])
      const evIds = (await read.select().from(messageEvents).where(eq(messageEvents.messageId, id))).map((e) => e.id)
      const deliveries = (await read.select().from(webhookDeliveries).where(inArray(webhookDeliveries.eventId, evIds)))
        .map((d) => {
          // The payload as built from the message: the batch builds it from the claimed row and what it wrote.
          const { id: _id, created_at: _created, ...message } = JSON.parse(d.payload).data.message
          return `${Object.entries(hooks).find(([, h]) => h.webhook.id === d.webhookId)![0]}:${d.eventType}:${JSON.stringify(message)}`
        })
        .sort()
      out.push({ m: [m.status, m.attempts, m.providerMessageId, m.updatedAt - at, m.errorCode, m.nextAttemptAt, m.leaseOwner], events, deliveries })
    }
    return out
  }
  const described = await describeOf(ids.one)
  if (process.env.AUDIT_SHOW) console.log(JSON.stringify(described))
  expect((described as any[]).flatMap((d) => d.deliveries).length).toBeGreaterThan(5)
  expect(await describeOf(ids.all)).toEqual(described)
  // Each status counted twice (once per set), latencies alike.
  const counts = await read.select().from(messageRollups).where(eq(messageRollups.granularity, 'minute'))
  for (const r of counts.filter((r) => ['sent', 'delivered', 'read'].includes(r.status))) expect(r.count % 2).toBe(0)
  // (Latency buckets differ between the sets: their messages were accepted at different times.)
  const lat = await read.select().from(latencyRollups)
  const perKind = (kind: string) => lat.filter((r) => r.kind === kind && r.channelId === '*').reduce((n, r) => n + r.count, 0)
  expect([perKind('accept_to_sent'), perKind('sent_to_delivered')]).toEqual([10, 6])
})
