/**
 * The \`http\` channel's answers from the receiver: a 409 while the receiver still handles the
 * same idempotency key (a retry after a timeout; draft-ietf-httpapi-idempotency-key-header) is
 * retried, not a failure (the receiver did handle the message, once); a numeric JSON \`id\` is
 * kept as the provider id, so the receiver's reports naming it find the message (it was dropped).
 */
import { afterEach, expect, test } from 'bun:test'
import { signHttpInbound } from '../../src/connectors/http-inbound'
import { startHttpReceiver, type HttpReceiver } from '../fakes/http-receiver'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const SECRET = 'an-inbound-secret-of-32-characters!'
let gw: TestGateway
let receiver: HttpReceiver
afterEach(async () => {
  await gw?.close()
  await receiver?.stop()
})

test('a retry answered 409 (same idempotency key still in flight) is retried, not failed for good', async () => {
  // An idempotent receiver: the first request with a key takes 1.5 s; the same key meanwhile is
  // 409; once done, the same key replays the first answer.
  const inFlight = new Set<string>()
  const done = new Map<string, string>()
  let n = 0
  receiver = startHttpReceiver({
    respond: async (req) => {
      const key = req.headers['idempotency-key']!
      if (done.has(key)) return Response.json({ id: done.get(key) })
      if (inFlight.has(key)) return Response.json({ error: 'a request with this Idempotency-Key is being processed' }, { status: 409 })
      inFlight.add(key)
      await Bun.sleep(1500)
      const id = `rcv_${++n}`
      done.set(key, id)
      inFlight.delete(key)
      return Response.json({ id })
    },
  })
  gw = await startTestGateway()
  const { key } = await gw.tenant('acme')
  expect((await gw.call('POST', '/v1/namespaces/acme/channels', key, { name: 'hook', type: 'http', config: { url: receiver.url } })).status).toBe(201)
  // Backoff long enough for the receiver's 1.5 s: the test gateway's own is a few ms.
  await gw.startEngine({ send_timeout_ms: 300, backoff_base_ms: 250, backoff_max_ms: 2000 })
  const res = await gw.call('POST', '/v1/namespaces/acme/messages', key, { channel: 'hook', to: 'ops', content: { text: 'disk full' } })
  const { id } = (await res.json()) as { id: string }
  const final = await eventually(async () => {
    const m = (await (await gw.call('GET', `/v1/namespaces/acme/messages/${id}`, key)).json()) as {
      status: string
      provider_message_id: string | null
      error: { code: string } | null
    }
    return ['sent', 'failed'].includes(m.status) && m
  }, 15_000)
  // The receiver processed the message exactly once (rcv_1); the gateway must not call it failed.
  expect(final).toMatchObject({ status: 'sent', provider_message_id: 'rcv_1' })
})

test('a numeric id in the receiver answer is kept, so its delivery report finds the message', async () => {
  receiver = startHttpReceiver({ respond: () => Response.json({ id: 4711 }, { status: 201 }) })
  gw = await startTestGateway()
  const { key } = await gw.tenant('acme')
  const created = await gw.call('POST', '/v1/namespaces/acme/channels', key, { name: 'crm', type: 'http', config: { url: receiver.url, inbound_secret: SECRET } })
  const channelId = ((await created.json()) as { id: string }).id
  await gw.startEngine()
  const { id } = (await (await gw.call('POST', '/v1/namespaces/acme/messages', key, { channel: 'crm', to: 'c-1', content: { text: 'hi' } })).json()) as { id: string }
  const show = async () => (await (await gw.call('GET', `/v1/namespaces/acme/messages/${id}`, key)).json()) as { status: string; provider_message_id: string | null }
  await eventually(async () => (await show()).status === 'sent')

  const raw = JSON.stringify({ statuses: [{ id: '4711', status: 'delivered' }] })
  const timestamp = Math.floor(Date.now() / 1000)
  const res = await gw.app.request(`/inbound/${channelId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-omnigate-timestamp': String(timestamp), 'x-omnigate-signature': signHttpInbound(SECRET, timestamp, raw) },
    body: raw,
  })
  expect(res.status).toBe(200)
  expect(await show()).toMatchObject({ status: 'delivered', provider_message_id: '4711' })
})
