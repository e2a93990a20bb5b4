/** Webhook delivery policies: auto-disable after long failure, payload truncation, fairness. */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { recordInbound } from '../src/domain/inbound'
import { getChannel } from '../src/domain/channels'
import { claimSize } from '../src/engine/webhook-deliverer'
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

test('an endpoint is filled by claims of half its concurrency, the second taken at once', async () => {
  // Half-size claims (claimSize) make an endpoint's deliveries two groups that take turns. The
  // second claim must follow the first without waiting for a poll: the poll here is 10 s.
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

test('a claim takes at most half of an endpoint’s concurrency', () => {
  expect(claimSize(100, 64)).toBe(32)
  expect(claimSize(100, 101)).toBe(51)
  expect(claimSize(10, 64)).toBe(10)
  expect(claimSize(100, 1)).toBe(1)
})
