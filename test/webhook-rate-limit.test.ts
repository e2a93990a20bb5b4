/**
 * An endpoint's `rate_limit` paces its deliveries, and a backlog longer than the lease allows a
 * delivery to wait still drains at that rate. (Deliveries handed back for later once kept their
 * slot reserved, so each came due behind every other reservation and was handed back again:
 * after the first ~5 s nothing more arrived, and nothing said why.)
 */
import { afterEach, expect, test } from 'bun:test'
import { all } from '../src/store/raw'
import { startWebhookReceiver } from './fakes/webhook-receiver'
import { eventually, startTestGateway, type TestGateway } from './helpers/gateway'

let gw: TestGateway
let receiver: ReturnType<typeof startWebhookReceiver>
afterEach(async () => {
  await receiver?.stop()
  await gw?.close()
})

test('a rate-limited endpoint receives a backlog of 13 s at its rate, and all of it', async () => {
  // The lease allows 5 s of waiting for a slot, and 64 in flight at 10/s reach 6.4 s ahead: the
  // rest is handed back. 130 events at 10/s are 13 s.
  gw = await startTestGateway({ webhooks: { timeout_ms: 1000 } })
  const ns = await gw.tenant('acme')
  await gw.channel(ns.namespaceId, 'sb')
  receiver = startWebhookReceiver()
  const hook = await gw.call('POST', '/v1/namespaces/acme/webhooks', ns.key, { url: receiver.url, event_types: ['message.queued'], rate_limit: 10 })
  expect(hook.status).toBe(201)
  const messages = Array.from({ length: 130 }, (_, i) => ({ channel: 'sb', to: `user-${i}`, content: { text: 'hi' } }))
  expect((await gw.call('POST', '/v1/namespaces/acme/messages/batch', ns.key, { messages })).status).toBe(202)

  const started = Date.now()
  await gw.startEngine()
  while (receiver.received.length < 130 && Date.now() - started < 20_000) await Bun.sleep(100)
  expect(receiver.received.length).toBe(130)
  // Paced: 130 at 10/s span at least ~12.9 s (one may go at once), never a burst.
  const arrivals = receiver.received.map((r) => r.at)
  expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(12_800)
  const perSecond = new Map<number, number>()
  for (const at of arrivals) perSecond.set(Math.floor((at - arrivals[0]!) / 1000), (perSecond.get(Math.floor((at - arrivals[0]!) / 1000)) ?? 0) + 1)
  expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(13)
  // Every delivery succeeded on its first attempt: a hand-back for the rate uses none up. (The
  // last arrival's outcome is recorded after the receiver answered it: wait for its commit.)
  const count = () => all<{ status: string; attempts: number; n: number }>(gw.deps.store.read, 'SELECT status, attempts, count(*) AS n FROM webhook_deliveries GROUP BY status, attempts')
  await eventually(async () => !(await count()).some((r) => r.status === 'pending'), 5_000)
  expect(await count()).toEqual([{ status: 'succeeded', attempts: 1, n: 130 }])
}, 30_000)
