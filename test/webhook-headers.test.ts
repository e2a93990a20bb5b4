/**
 * `[[namespaces.webhooks]] headers` are checked like the API's `headers` (one schema): a header
 * the gateway sets (content-type, webhook-*, …) or a name that is not an HTTP token is refused.
 * And a stored one (declared before this check) never goes out: the deliverer merged a stored
 * `Content-Type` with its own and a `Webhook-Signature` into the signature, and a name like
 * "X Token" made every delivery fail.
 */
import { afterEach, expect, test } from 'bun:test'
import { Webhook } from 'standardwebhooks'
import { configSchema } from '../src/config'
import { updateWebhook } from '../src/domain/webhooks/endpoints'
import { startWebhookReceiver } from './fakes/webhook-receiver'
import { eventually, startTestGateway, type TestGateway } from './helpers/gateway'

let gw: TestGateway | undefined
let receiver: ReturnType<typeof startWebhookReceiver> | undefined
afterEach(async () => {
  await receiver?.stop()
  await gw?.close()
  gw = undefined
  receiver = undefined
})

test('the config refuses declared webhook headers that the API refuses', () => {
  for (const headers of [{ 'Content-Type': 'text/plain' }, { 'Webhook-Signature': 'v1,forged' }, { 'X Token': 'abc' }]) {
    const parsed = configSchema.safeParse({ namespaces: [{ slug: 'acme', webhooks: [{ url: 'https://hooks.example.com/x', headers }] }] })
    expect([Object.keys(headers)[0], parsed.success]).toEqual([Object.keys(headers)[0], false])
  }
})

test('stored custom headers (what reconciliation writes for such a declaration) never change content-type or the signature', async () => {
  receiver = startWebhookReceiver()
  gw = await startTestGateway({ webhooks: { retry_schedule_ms: [0], timeout_ms: 500 } })
  const acme = await gw.tenant('acme')
  await gw.channel(acme.namespaceId, 'sandbox')
  const created = (await (await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, { url: receiver.url, event_types: ['message.queued'] })).json()) as { id: string; secret: string }
  await updateWebhook(gw.deps, acme.namespaceId, created.id, { headers: { 'Content-Type': 'text/plain', 'Webhook-Signature': 'v1,forged' } })
  await gw.startEngine()
  const res = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'sandbox', to: 'a@example.com', content: { text: 'hi' } })
  expect(res.status).toBe(202)
  await eventually(async () => receiver!.received.length >= 1)
  const got = receiver.received[0]!
  expect(got.headers['content-type']).toBe('application/json')
  expect(got.headers['webhook-signature']).not.toContain('forged')
  expect(() => new Webhook(created.secret).verify(got.body, got.headers)).not.toThrow()
})
