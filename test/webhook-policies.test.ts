/** Webhook delivery policies: auto-disable after long failure, payload truncation, fairness. */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { recordInbound } from '../src/domain/inbound'
import { getChannel } from '../src/domain/channels'
import { claimDueDeliveries, endpointShare } from '../src/domain/webhooks/work'
import { webhooks } from '../src/store/schema'
import { startWebhookReceiver } from './fakes/webhook-receiver'
import { eventually, startTestGateway, type TestGateway } from './helpers/gateway'

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
const receivers: ReturnType<typeof startWebhookReceiver>[] = []
beforeEach(async () => {
  gw = await startTestGateway({ webhooks: { retry_schedule_ms: [0, 50, 50, 50, 50], disable_after_hours: 1, per_endpoint_concurrency: 2 } })
  acme = await gw.tenant('acme')
  await gw.channel(acme.namespaceId, 'sandbox')
})
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.stop()
  await gw.close()
})

function receiver(respond?: Parameters<typeof startWebhookReceiver>[0]) {
  const r = startWebhookReceiver(respond)
  receivers.push(r)
  return r
}
const subscribe = async (body: Record<string, unknown>) =>
  ((await (await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, body)).json()) as { id: string; secret: string })
const send = () => gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'sandbox', to: 'a@example.com', content: { text: 'hi' } })

test('an endpoint that has failed without a success for longer than disable_after_hours is disabled', async () => {
  const r = receiver(() => new Response('down', { status: 500 }))
  const hook = await subscribe({ url: r.url, event_types: ['message.queued'] })
  // It has been failing for two hours already.
  await gw.deps.store.tx((tx) => tx.update(webhooks).set({ failingSince: Date.now() - 2 * 3_600_000 }).where(eq(webhooks.id, hook.id)))
  await gw.startEngine()
  await send()
  const view = await eventually(async () => {
    const v = (await (await gw.call('GET', `/v1/namespaces/acme/webhooks/${hook.id}`, acme.key)).json()) as any
    return v.enabled === false && v
  })
  expect(view.disabled_reason).toBe('no successful delivery for 1 h')
  expect(r.received).toHaveLength(1)
  // Re-enabling restarts the clock and the pending work flows again.
  const patched = (await (await gw.call('PATCH', `/v1/namespaces/acme/webhooks/${hook.id}`, acme.key, { enabled: true })).json()) as any
  expect(patched).toMatchObject({ enabled: true, disabled_reason: null, failing_since: null })
})

test('a payload over 256 KB is cut to a reference to the message', async () => {
  const r = receiver()
  await subscribe({ url: r.url, event_types: ['message.received'] })
  await gw.startEngine()
  const channel = await getChannel(gw.deps, acme.namespaceId, 'sandbox')
  const { received } = await recordInbound(gw.deps, channel, { messages: [{ from: 'x', content: { html: 'y'.repeat(300 * 1024) } }] })
  await eventually(async () => r.received.length === 1)
  expect(r.received[0]!.body.length).toBeLessThan(1024)
  expect(JSON.parse(r.received[0]!.body)).toMatchObject({ type: 'message.received', data: { truncated: true, message: { id: received[0] } } })
})

test('a hanging endpoint does not hold up the others', async () => {
  const hanging = receiver(() => new Promise<Response>(() => {}))
  const healthy = receiver()
  await subscribe({ url: hanging.url, event_types: ['message.queued'] })
  await subscribe({ url: healthy.url, event_types: ['message.queued'] })
  await gw.startEngine()
  for (let i = 0; i < 6; i++) await send()
  await eventually(async () => healthy.received.length === 6)
  // At most per_endpoint_concurrency requests are held open by the hanging one.
  expect(hanging.received.length).toBeLessThanOrEqual(2)
})

test('a claim takes half an endpoint\'s concurrency and says so; the second half follows at once', async () => {
  // The poll here is 10 s: the second claim must come from `more`, not from a poll.
  const busy = await startTestGateway({ webhooks: { per_endpoint_concurrency: 8 } })
  const hanging = receiver(() => new Promise<Response>(() => {}))
  try {
    const tenant = await busy.tenant('acme')
    await busy.channel(tenant.namespaceId, 'sandbox')
    const hook = await busy.call('POST', '/v1/namespaces/acme/webhooks', tenant.key, { url: hanging.url, event_types: ['message.queued'] })
    expect(hook.status).toBe(201)
    const accepted = await busy.call('POST', '/v1/namespaces/acme/messages/batch', tenant.key, {
      messages: Array.from({ length: 20 }, (_, i) => ({ channel: 'sandbox', to: `u${i}@example.com`, content: { text: 'hi' } })),
    })
    expect(accepted.status).toBe(202)
    await busy.startEngine({ poll_interval_ms: 10_000 })
    await eventually(async () => hanging.received.length === 8, 3000)
    await Bun.sleep(100)
    expect(hanging.received).toHaveLength(8)
  } finally {
    await busy.close()
  }
})

test('claims: half the cap per endpoint and claim, every endpoint served in one claim, a cap of 1 or 2 whole', async () => {
  const hooks = await Promise.all([0, 1, 2].map(() => subscribe({ url: 'http://127.0.0.1:9/hook', event_types: ['message.queued'] })))
  for (let i = 0; i < 20; i++) expect((await send()).status).toBe(202)
  const claim = (perEndpoint: number, limit = 100) => claimDueDeliveries(gw.deps.store, 'test', { limit, perEndpoint, leaseMs: 60_000 }, Date.now())
  const perHook = (d: { webhookId: string }[]) => hooks.map((h) => d.filter((x) => x.webhookId === h.id).length)

  // Cap 8: 4 of each endpoint, and more to take at once; then the other 4; then the cap is full.
  const first = await claim(8)
  expect(perHook(first.deliveries)).toEqual([4, 4, 4])
  expect(first.more).toBe(true)
  const second = await claim(8)
  expect(perHook(second.deliveries)).toEqual([4, 4, 4])
  expect(second.more).toBe(false)
  expect((await claim(8)).deliveries).toHaveLength(0)
  // Cap 10 (2 more each): what is left of the cap, not another half, and nothing more to take.
  const third = await claim(10)
  expect(perHook(third.deliveries)).toEqual([2, 2, 2])
  expect(third.more).toBe(false)
  // The claim's own limit still bounds the total, endpoint by endpoint (the loop sees a full
  // claim and claims again by itself: not `more`).
  const fourth = await claim(20, 7)
  expect(perHook(fourth.deliveries).sort((a, b) => a - b)).toEqual([0, 0, 7])
  expect(fourth.more).toBe(false)
  // A cap of 1 or 2 is taken whole: halving it would only add a claim.
  expect([1, 2, 3, 64, 100].map((cap) => endpointShare(cap))).toEqual([1, 2, 2, 32, 50])
})
