/**
 * An inbound message's `to` is whatever the provider said, even a string that starts with "{"
 * and is not JSON (a client's unfilled template placeholder): it is stored and shown as is. (It
 * was JSON-parsed on every read: the namespace's message list answered 500, and with a webhook
 * subscribed the callback itself failed on every provider retry.)
 */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { startHttpReceiver } from '../fakes/http-receiver'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

const SECRET = 'an-inbound-secret-of-32-characters!'
let gw: TestGateway
let ns: Awaited<ReturnType<TestGateway['tenant']>>
let channelId: string
let receiver: ReturnType<typeof startHttpReceiver>

beforeEach(async () => {
  gw = await startTestGateway()
  ns = await gw.tenant('acme')
  receiver = startHttpReceiver({ respond: () => Response.json({ id: 'remote' }) })
  const res = await gw.call('POST', '/v1/namespaces/acme/channels', ns.key, { name: 'crm', type: 'http', config: { url: receiver.url, inbound_secret: SECRET } })
  channelId = ((await res.json()) as { id: string }).id
})
afterEach(async () => {
  await receiver.stop()
  await gw.close()
})

const post = (body: unknown) =>
  gw.app.request(`/inbound/${channelId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
    body: JSON.stringify(body),
  })

test('an inbound message to "{{customer}}" does not break the namespace\'s message list and reads', async () => {
  const res = await post({ messages: [{ from: 'customer-7', to: '{{customer}}', id: 'crm-1', content: { text: 'hello' } }] })
  expect(res.status).toBe(200)
  const list = await gw.call('GET', '/v1/namespaces/acme/messages', ns.key)
  expect(list.status).toBe(200)
  const [stored] = ((await list.json()) as { data: { id: string; to: unknown }[] }).data
  expect(stored!.to).toBe('{{customer}}')
  expect((await gw.call('GET', `/v1/namespaces/acme/messages/${stored!.id}`, ns.key)).status).toBe(200)
})

test('with a webhook subscribed, such an inbound message is stored (not refused with a 500 on every provider retry)', async () => {
  const hook = await gw.call('POST', '/v1/namespaces/acme/webhooks', ns.key, { url: 'http://127.0.0.1:9/hook', event_types: ['message.received'] })
  expect(hook.status).toBe(201)
  const res = await post({ messages: [{ from: 'customer-7', to: '{{customer}}', id: 'crm-2', content: { text: 'hello' } }] })
  expect(res.status).toBe(200)
})
