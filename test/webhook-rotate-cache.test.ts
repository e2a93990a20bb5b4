/**
 * Rotating a webhook's secret clears the endpoint cache the deliverer reads, as updates,
 * creates and deletes do: the next delivery is signed with the new secret too. (For up to a
 * second after `POST …/rotate-secret` it was signed with the old one only, which a receiver that
 * switched at once rejected.)
 */
import { afterEach, expect, test } from 'bun:test'
import { Webhook } from 'standardwebhooks'
import { startWebhookReceiver } from './fakes/webhook-receiver'
import { eventually, startTestGateway, type TestGateway } from './helpers/gateway'

let gw: TestGateway
let receiver: ReturnType<typeof startWebhookReceiver>
afterEach(async () => {
  await receiver.stop()
  await gw.close()
})

test('a delivery right after rotate-secret is signed with the new secret', async () => {
  gw = await startTestGateway({ webhooks: { retry_schedule_ms: [0, 50, 50], timeout_ms: 500 } })
  const acme = await gw.tenant('acme')
  await gw.channel(acme.namespaceId, 'sandbox')
  receiver = startWebhookReceiver()
  const created = await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, { url: receiver.url, event_types: ['message.queued'] })
  const hook = (await created.json()) as { id: string; secret: string }
  await gw.startEngine()
  const send = () => gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'sandbox', to: 'a@example.com', content: { text: 'hi' } })
  await send()
  await eventually(async () => receiver.received.length === 1)
  const rotated = (await (await gw.call('POST', `/v1/namespaces/acme/webhooks/${hook.id}/rotate-secret`, acme.key)).json()) as { secret: string }
  await send()
  await eventually(async () => receiver.received.length === 2)
  const second = receiver.received[1]!
  // Within the grace period both secrets sign: the old one, and the new one the API just handed out.
  expect(second.headers['webhook-signature']!.split(' ')).toHaveLength(2)
  expect(() => new Webhook(rotated.secret).verify(second.body, second.headers)).not.toThrow()
})
