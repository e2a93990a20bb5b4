/**
 * Event webhooks end to end: signed per the Standard Webhooks spec (checked by the
 * `standardwebhooks` package), durable, retried on a (compressed) schedule, disabled on 410,
 * observable and recoverable, isolated per namespace.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { Webhook } from 'standardwebhooks'
import { messageEvents, webhookDeliveries, webhooks } from '../src/store/schema'
import { getChannel } from '../src/domain/channels'
import { recordInbound } from '../src/domain/inbound'
import { claimDueDeliveries } from '../src/domain/webhooks/work'
import { startWebhookReceiver } from './fakes/webhook-receiver'
import { eventually, startTestGateway, type TestGateway } from './helpers/gateway'

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
let receivers: ReturnType<typeof startWebhookReceiver>[] = []

async function start(overrides: Record<string, any> = {}) {
  gw = await startTestGateway({ webhooks: { retry_schedule_ms: [0, 50, 50], timeout_ms: 500, ...overrides.webhooks }, ...overrides })
  acme = await gw.tenant('acme')
  await gw.channel(acme.namespaceId, 'sandbox')
}
afterEach(async () => {
  for (const r of receivers) await r.stop()
  receivers = []
  await gw.close()
})

function receiver(respond?: Parameters<typeof startWebhookReceiver>[0]) {
  const r = startWebhookReceiver(respond)
  receivers.push(r)
  return r
}

async function subscribe(key: string, ns: string, body: Record<string, unknown>) {
  const res = await gw.call('POST', `/v1/namespaces/${ns}/webhooks`, key, body)
  expect(res.status).toBe(201)
  return (await res.json()) as { id: string; secret: string; url: string }
}

const sendHello = async () =>
  ((await (await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'sandbox', to: 'alice@example.com', content: { text: 'hi' } })).json()) as { id: string }).id

const deliveries = async (hookId: string, query = '') =>
  ((await (await gw.call('GET', `/v1/namespaces/acme/webhooks/${hookId}/deliveries${query}`, acme.key)).json()) as { data: any[] }).data

describe('end to end', () => {
  beforeEach(() => start())

  test('a batch send and its dispatch write each endpoint its deliveries, per message in the order of its events', async () => {
    await gw.channel(acme.namespaceId, 'second')
    const all = await subscribe(acme.key, 'acme', { url: 'http://127.0.0.1:9/all', event_types: ['message.queued', 'message.sent', 'message.delivered'] })
    const second = await subscribe(acme.key, 'acme', { url: 'http://127.0.0.1:9/second', event_types: ['message.queued'], channels: ['second'] })
    const res = await gw.call('POST', '/v1/namespaces/acme/messages/batch', acme.key, {
      messages: [
        { channel: 'sandbox', to: 'a@example.com', content: { text: '1' } },
        { channel: 'second', to: 'b@example.com', content: { text: '2' } },
        { channel: 'sandbox', to: 'c@example.com', content: { text: '3' } },
      ],
    })
    expect(res.status).toBe(202)
    const ids = ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id)
    const rows = async (webhookId: string) =>
      (await gw.deps.store.read.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, webhookId))).map((d) => {
        const payload = JSON.parse(d.payload)
        return { message: payload.data.message.id, type: d.eventType, event: d.eventId, status: payload.data.message.status }
      })
    expect((await rows(all.id)).map((d) => [d.message, d.type])).toEqual(ids.map((id) => [id, 'message.queued']))
    expect((await rows(second.id)).map((d) => [d.message, d.type])).toEqual([[ids[1], 'message.queued']])

    // Dispatched together: each message's sent and delivered, its event ids those of its timeline.
    await gw.startEngine()
    await eventually(async () => (await rows(all.id)).length === 9)
    const got = await rows(all.id)
    for (const id of ids) {
      const mine = got.filter((d) => d.message === id)
      expect(mine.map((d) => [d.type, d.status])).toEqual([
        ['message.queued', 'queued'],
        ['message.sent', 'sent'],
        ['message.delivered', 'delivered'],
      ])
      const timeline = await gw.deps.store.read.select().from(messageEvents).where(eq(messageEvents.messageId, id))
      const eventOf = (status: string) => timeline.find((e) => e.status === status)?.id
      expect(mine.slice(1).map((d) => d.event)).toEqual([eventOf('sent')!, eventOf('delivered')!])
    }
    expect(await rows(second.id)).toHaveLength(1)
  })

  test('a sandbox send produces signed queued, sent and delivered events for its namespace only', async () => {
    const mine = receiver()
    const theirs = receiver()
    const hook = await subscribe(acme.key, 'acme', { url: mine.url, event_types: ['message.queued', 'message.sent', 'message.delivered'] })
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
    const other = await gw.tenant('other')
    await subscribe(other.key, 'other', { url: theirs.url })
    await gw.startEngine()
    const id = await sendHello()
    await eventually(async () => mine.received.length >= 3)
    await Bun.sleep(100)
    expect(theirs.received).toHaveLength(0)
    const verifier = new Webhook(hook.secret)
    const events = mine.received.map((r) => verifier.verify(r.body, r.headers) as any)
    expect(events.map((e) => e.type).sort()).toEqual(['message.delivered', 'message.queued', 'message.sent'])
    for (const e of events) {
      expect(e).toMatchObject({ namespace: 'acme', data: { message: { id, channel: { name: 'sandbox', type: 'sandbox' }, to: 'alice@example.com' } } })
      expect(e.id).toStartWith('evt_')
    }
    expect(mine.received[0]!.headers['content-type']).toBe('application/json')
    // One byte changed and the signature no longer verifies.
    const tampered = mine.received[0]!.body.replace('acme', 'acmf')
    expect(() => verifier.verify(tampered, mine.received[0]!.headers)).toThrow()
    // The timeline's event ids are the webhook ids.
    const timeline = ((await (await gw.call('GET', `/v1/namespaces/acme/messages/${id}`, acme.key)).json()) as any).events
    expect(timeline).toHaveLength(4)
  })

  test('the event type and channel filters apply', async () => {
    const r = receiver()
    await gw.channel(acme.namespaceId, 'other-channel')
    await subscribe(acme.key, 'acme', { url: r.url, event_types: ['message.delivered'], channels: ['other-channel'] })
    await gw.startEngine()
    await sendHello()
    const viaOther = (await (await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'other-channel', to: 'x', content: { text: 'y' } })).json()) as { id: string }
    await eventually(async () => r.received.length >= 1)
    await Bun.sleep(150)
    expect(r.received).toHaveLength(1)
    expect(JSON.parse(r.received[0]!.body)).toMatchObject({ type: 'message.delivered', data: { message: { id: viaOther.id } } })
  })

  test('GET /v1/event-types lists every type with a schema and an example', async () => {
    const res = await gw.call('GET', '/v1/event-types', acme.key)
    const { data } = (await res.json()) as { data: { type: string; schema: any; example: any }[] }
    expect(data.map((d) => d.type)).toEqual(expect.arrayContaining(['message.queued', 'message.received', 'webhook.disabled', 'channel.failing']))
    for (const d of data) {
      expect(d.schema.required).toContain('data')
      expect(d.example.type).toBe(d.type)
    }
    expect((await gw.call('GET', '/v1/event-types', null)).status).toBe(401)
  })
})

describe('retries and failures', () => {
  test('a receiver that fails twice gets the event once more, with the same webhook-id, and the log shows every attempt', async () => {
    await start()
    const r = receiver((n) => (n <= 2 ? new Response('down', { status: 500 }) : new Response('ok')))
    const hook = await subscribe(acme.key, 'acme', { url: r.url, event_types: ['message.delivered'] })
    await gw.startEngine()
    await sendHello()
    await eventually(async () => (await deliveries(hook.id))[0]?.status === 'succeeded')
    expect(r.received).toHaveLength(3)
    expect(new Set(r.received.map((x) => x.headers['webhook-id'])).size).toBe(1)
    // Signed per attempt: every attempt verifies on its own.
    for (const x of r.received) new Webhook(hook.secret).verify(x.body, x.headers)
    const [d] = await deliveries(hook.id)
    expect(d).toMatchObject({ status: 'succeeded', attempts: 3, last_status_code: 200 })
    expect(d.attempt_log.map((a: any) => a.status_code)).toEqual([500, 500, 200])
    expect(d.attempt_log[0].response).toBe('down')
    expect(d.attempt_log[0].latency_ms).toBeGreaterThanOrEqual(0)
  })

  test('after the schedule a delivery is dead-lettered; recover sends it again', async () => {
    await start()
    let healthy = false
    const r = receiver(() => (healthy ? new Response('ok') : new Response('no', { status: 503 })))
    const hook = await subscribe(acme.key, 'acme', { url: r.url, event_types: ['message.delivered'] })
    await gw.startEngine()
    await sendHello()
    await eventually(async () => (await deliveries(hook.id))[0]?.status === 'failed')
    expect(r.received).toHaveLength(3)
    expect((await deliveries(hook.id, '?status=failed'))).toHaveLength(1)
    const failing = ((await (await gw.call('GET', `/v1/namespaces/acme/webhooks/${hook.id}`, acme.key)).json()) as any).failing_since
    expect(failing).not.toBeNull()
    healthy = true
    const since = new Date(Date.now() - 60_000).toISOString()
    const rec = await gw.call('POST', `/v1/namespaces/acme/webhooks/${hook.id}/recover`, acme.key, { since })
    expect(await rec.json()).toEqual({ recovered: 1 })
    await eventually(async () => (await deliveries(hook.id))[0]?.status === 'succeeded')
    expect(((await (await gw.call('GET', `/v1/namespaces/acme/webhooks/${hook.id}`, acme.key)).json()) as any).failing_since).toBeNull()
  })

  test('retry sends one delivery again, even a successful one, with its webhook-id', async () => {
    await start()
    const r = receiver()
    const hook = await subscribe(acme.key, 'acme', { url: r.url, event_types: ['message.delivered'] })
    await gw.startEngine()
    await sendHello()
    await eventually(async () => (await deliveries(hook.id))[0]?.status === 'succeeded')
    const [d] = await deliveries(hook.id)
    expect((await gw.call('POST', `/v1/namespaces/acme/webhooks/${hook.id}/deliveries/${d.id}/retry`, acme.key)).status).toBe(200)
    await eventually(async () => r.received.length === 2)
    expect(r.received[1]!.headers['webhook-id']).toBe(r.received[0]!.headers['webhook-id'])
  })

  test('410 Gone disables the endpoint and raises webhook.disabled to other subscribers', async () => {
    await start()
    const gone = receiver(() => new Response('gone', { status: 410 }))
    const watcher = receiver()
    const hook = await subscribe(acme.key, 'acme', { url: gone.url, event_types: ['message.delivered'] })
    const watch = await subscribe(acme.key, 'acme', { url: watcher.url, event_types: ['webhook.disabled'] })
    await gw.startEngine()
    await sendHello()
    await eventually(async () => watcher.received.length === 1)
    const event = new Webhook(watch.secret).verify(watcher.received[0]!.body, watcher.received[0]!.headers) as any
    expect(event).toMatchObject({ type: 'webhook.disabled', data: { webhook: { id: hook.id }, reason: 'the endpoint answered 410 Gone' } })
    const view = (await (await gw.call('GET', `/v1/namespaces/acme/webhooks/${hook.id}`, acme.key)).json()) as any
    expect(view).toMatchObject({ enabled: false, disabled_reason: 'the endpoint answered 410 Gone' })
    expect(gone.received).toHaveLength(1)
  })

  test('429 with Retry-After delays the next attempt by at least that long', async () => {
    await start()
    const r = receiver((n) => (n === 1 ? new Response('slow down', { status: 429, headers: { 'retry-after': '30' } }) : new Response('ok')))
    const hook = await subscribe(acme.key, 'acme', { url: r.url, event_types: ['message.delivered'] })
    await gw.startEngine()
    await sendHello()
    await eventually(async () => r.received.length === 1 && (await deliveries(hook.id))[0]?.attempts === 1 && (await deliveries(hook.id))[0]?.last_status_code === 429)
    const [row] = await gw.deps.store.read.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, hook.id))
    expect(row!.nextAttemptAt! - r.received[0]!.at).toBeGreaterThanOrEqual(29_000)
  })

  test('a hanging receiver times out and the attempt says so', async () => {
    await start({ webhooks: { timeout_ms: 200, retry_schedule_ms: [0] } })
    const r = receiver(() => new Promise<Response>(() => {}))
    const hook = await subscribe(acme.key, 'acme', { url: r.url, event_types: ['message.delivered'] })
    await gw.startEngine()
    await sendHello()
    await eventually(async () => (await deliveries(hook.id))[0]?.status === 'failed')
    const [d] = await deliveries(hook.id)
    expect(d.attempt_log[0].status_code).toBeNull()
    expect(d.attempt_log[0].error).toMatch(/timeout|abort/i)
  })

  test('a delivery claimed by a crashed instance is delivered once its lease expires', async () => {
    await start()
    const r = receiver()
    const hook = await subscribe(acme.key, 'acme', { url: r.url, event_types: ['message.queued'] })
    await sendHello()
    const claimed = await claimDueDeliveries(gw.deps.store, 'crashed', { limit: 10, perEndpoint: 4, leaseMs: 300 }, Date.now())
    expect(claimed.deliveries).toHaveLength(1)
    await gw.startEngine()
    await eventually(async () => (await deliveries(hook.id))[0]?.status === 'succeeded')
    expect(r.received).toHaveLength(1)
    expect((await deliveries(hook.id))[0].attempts).toBe(2)
  })
})

describe('endpoints', () => {
  beforeEach(() => start())

  test('a rotated secret signs beside the new one during the grace period', async () => {
    const r = receiver()
    const hook = await subscribe(acme.key, 'acme', { url: r.url, event_types: ['message.queued'] })
    const rotated = (await (await gw.call('POST', `/v1/namespaces/acme/webhooks/${hook.id}/rotate-secret`, acme.key)).json()) as { secret: string }
    expect(rotated.secret).not.toBe(hook.secret)
    await gw.startEngine()
    await sendHello()
    await eventually(async () => r.received.length === 1)
    const got = r.received[0]!
    expect(got.headers['webhook-signature']!.split(' ')).toHaveLength(2)
    new Webhook(hook.secret).verify(got.body, got.headers)
    new Webhook(rotated.secret).verify(got.body, got.headers)
  })

  test('the secret is shown once; custom headers are sent and masked', async () => {
    const r = receiver()
    const hook = await subscribe(acme.key, 'acme', { url: r.url, event_types: ['message.queued'], headers: { 'x-token': 'custom-secret-value' } })
    const shown = await (await gw.call('GET', `/v1/namespaces/acme/webhooks/${hook.id}`, acme.key)).text()
    expect(shown).not.toContain(hook.secret)
    expect(shown).not.toContain('custom-secret-value')
    await gw.startEngine()
    await sendHello()
    await eventually(async () => r.received.length === 1)
    expect(r.received[0]!.headers['x-token']).toBe('custom-secret-value')
  })

  test('bad input names the field; another namespace cannot see or touch an endpoint', async () => {
    const bad = await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, { url: 'ftp://x', event_types: ['message.nope'] })
    expect(bad.status).toBe(422)
    const unknownType = await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, { url: 'http://127.0.0.1:9/x', event_types: ['message.nope'] })
    expect(((await unknownType.json()) as any).errors[0].field).toBe('event_types.0')
    const hook = await subscribe(acme.key, 'acme', { url: 'http://127.0.0.1:9/x' })
    const other = await gw.tenant('other')
    expect((await gw.call('GET', `/v1/namespaces/other/webhooks/${hook.id}`, other.key)).status).toBe(404)
    expect((await gw.call('DELETE', `/v1/namespaces/other/webhooks/${hook.id}`, other.key)).status).toBe(404)
    expect(await gw.deps.store.read.select().from(webhooks)).toHaveLength(1)
  })
})

test('the outbound-URL guard refuses a private endpoint when private networks are not allowed', async () => {
  await start({ security: { allow_private_network: false } })
  const res = await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, { url: 'http://127.0.0.1:9/hook' })
  expect(res.status).toBe(422)
  expect(((await res.json()) as any).errors[0].field).toBe('url')
})

describe('deliveries start when they commit, not at the next poll', () => {
  // A poll a minute away: only a wake-up can make these deliveries go out within the test.
  const SLOW_POLL = { poll_interval_ms: 60_000 }
  beforeEach(() => start())

  test("a provider's inbound message", async () => {
    const r = receiver()
    await subscribe(acme.key, 'acme', { url: r.url, event_types: ['message.received'] })
    await gw.startEngine(SLOW_POLL)
    await Bun.sleep(50) // the claims at start have found nothing
    const channel = await getChannel(gw.deps, acme.namespaceId, 'sandbox')
    await recordInbound(gw.deps, channel, { messages: [{ from: 'bob@example.com', content: { text: 'hello' } }] })
    await eventually(async () => r.received.length === 1, 3_000)
  })

  test('a cancelled message', async () => {
    const r = receiver()
    await subscribe(acme.key, 'acme', { url: r.url, event_types: ['message.cancelled'] })
    await gw.startEngine(SLOW_POLL)
    const res = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, {
      channel: 'sandbox',
      to: 'alice@example.com',
      content: { text: 'later' },
      send_at: new Date(Date.now() + 3_600_000).toISOString(),
    })
    const { id } = (await res.json()) as { id: string }
    await Bun.sleep(50)
    expect((await gw.call('POST', `/v1/namespaces/acme/messages/${id}/cancel`, acme.key)).status).toBe(200)
    await eventually(async () => r.received.length === 1, 3_000)
    expect(JSON.parse(r.received[0]!.body)).toMatchObject({ type: 'message.cancelled', data: { message: { id } } })
  })
})
