/**
 * Retention: a finished webhook delivery older than `message_days` is deleted with its attempts,
 * as the message's content is purged: its payload carries that content (a `message.received`
 * event holds the inbound text), which stayed for ever, went out in `namespace export`, and a
 * retry sent it to the receiver again. A pending delivery stays, to finish.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { applyRetention, PURGED_CONTENT } from '../../src/domain/retention'
import { messages, webhookAttempts, webhookDeliveries } from '../../src/store/schema'
import { startWebhookReceiver } from '../fakes/webhook-receiver'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const DAY = 86_400_000
const SECRET = 'an-inbound-secret-of-32-characters!'
const CONTENT = 'my card number is 4111 1111 1111 1111'
let gw: TestGateway
let receiver: ReturnType<typeof startWebhookReceiver>

beforeAll(async () => {
  gw = await startTestGateway({ retention: { message_days: 30, event_days: 60 }, webhooks: { retry_schedule_ms: [0], timeout_ms: 500 } })
  receiver = startWebhookReceiver()
})
afterAll(async () => {
  await receiver.stop()
  await gw.close()
})

test('after the retention job purged an inbound message, its webhook payload no longer holds the content', async () => {
  const acme = await gw.tenant('acme')
  const channel = (await (await gw.call('POST', '/v1/namespaces/acme/channels', acme.key, { name: 'crm', type: 'http', config: { url: 'http://127.0.0.1:9/out', inbound_secret: SECRET } })).json()) as { id: string }
  await gw.call('POST', '/v1/namespaces/acme/channels/crm/terminals', acme.key, { address: 'support' })
  const hook = (await (await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, { url: receiver.url, event_types: ['message.received'] })).json()) as { id: string }
  await gw.startEngine()

  const raw = JSON.stringify({ messages: [{ from: 'customer-7', to: 'support', id: 'crm-1', content: { text: CONTENT } }] })
  const ts = Math.floor(Date.now() / 1000)
  const sig = createHmac('sha256', SECRET).update(`${ts}.${raw}`).digest('hex')
  const res = await gw.app.request(`/inbound/${channel.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-omnigate-timestamp': String(ts), 'x-omnigate-signature': `v1=${sig}` },
    body: raw,
  })
  expect(res.status).toBe(200)
  await eventually(async () => receiver.received.length === 1)
  expect(receiver.received[0]!.body).toContain(CONTENT)
  // Its outcome recorded (the receiver answered before the deliverer committed it).
  await eventually(async () => (await gw.deps.store.read.select().from(webhookAttempts)).length === 1)

  // 100 days on, the retention job runs: the message's content is purged…
  const realNow = gw.deps.now
  gw.deps.now = () => Date.now() + 100 * DAY
  const report = await applyRetention(gw.deps)
  gw.deps.now = realNow
  const [message] = await gw.deps.store.read.select().from(messages).where(eq(messages.namespaceId, acme.namespaceId))
  expect(message!.content).toEqual(PURGED_CONTENT as never)

  // …and the delivery that carried it is gone, with its attempts.
  expect(await gw.deps.store.read.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, hook.id))).toEqual([])
  expect(await gw.deps.store.read.select().from(webhookAttempts)).toEqual([])
  expect(report.deliveriesDeleted).toBe(1)
})
