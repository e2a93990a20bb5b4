import { afterEach, beforeEach, expect, test } from 'bun:test'
import { eventually, startTestGateway, type TestGateway } from './helpers/gateway'

let gw: TestGateway
beforeEach(async () => {
  gw = await startTestGateway()
})
afterEach(() => gw.close())

test('a message sent through the sandbox channel ends delivered, with its timeline', async () => {
  const t = await gw.tenant('acme')
  await gw.channel(t.namespaceId, 'sandbox')
  await gw.startEngine()
  const res = await gw.call('POST', '/v1/namespaces/acme/messages', t.key, { channel: 'sandbox', to: 'alice@example.com', content: { text: 'hi' } })
  expect(res.status).toBe(202)
  const { id, status } = (await res.json()) as { id: string; status: string }
  expect(id).toStartWith('msg_')
  expect(status).toBe('queued')
  const message = await eventually(async () => {
    const m = (await (await gw.call('GET', `/v1/namespaces/acme/messages/${id}`, t.key)).json()) as any
    return m.status === 'delivered' && m
  })
  expect(message.events.map((e: any) => e.status)).toEqual(['queued', 'sending', 'sent', 'delivered'])
})
