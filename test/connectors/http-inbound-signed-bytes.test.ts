/**
 * The http channel's inbound signature is checked over the exact bytes sent. (It was checked over
 * the body decoded and re-encoded as text, which drops a leading UTF-8 byte-order mark, as .NET
 * and PowerShell writers send: a correctly signed callback got 403 and its messages were lost.)
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

const SECRET = 'an-inbound-secret-of-32-characters!'
let gw: TestGateway
let channelId: string
beforeAll(async () => {
  gw = await startTestGateway()
  const acme = await gw.tenant('acme')
  const res = await gw.call('POST', '/v1/namespaces/acme/channels', acme.key, {
    name: 'crm',
    type: 'http',
    config: { url: 'http://127.0.0.1:9/out', inbound_secret: SECRET },
  })
  channelId = ((await res.json()) as { id: string }).id
})
afterAll(() => gw.close())

test('a callback signed over its exact bytes is accepted, even when those bytes begin with a BOM', async () => {
  const json = JSON.stringify({ messages: [{ from: 'customer-1', id: 'crm-bom-1', content: { text: 'hello' } }] })
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)])
  const timestamp = Math.floor(Date.now() / 1000)
  // The client signs what it sends: "<timestamp>." followed by the raw body bytes.
  const signature = createHmac('sha256', SECRET).update(`${timestamp}.`).update(bytes).digest('hex')
  const res = await gw.app.request(`/inbound/${channelId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-omnigate-timestamp': String(timestamp), 'x-omnigate-signature': `v1=${signature}` },
    body: bytes,
  })
  expect(res.status).toBe(200)
})
