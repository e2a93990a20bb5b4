/**
 * The inbound side of the `http` channel, and the inbound framework through it: signed POSTs to
 * /inbound/{channel_id} become inbound messages and status reports; bad signatures are refused;
 * replays change nothing; reports that race ahead of the send are parked and applied.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { claimDueMessages, completeAttempt } from '../../src/domain/messages/dispatch'
import { messages, namespaces, pendingStatuses, webhookDeliveries } from '../../src/store/schema'
import { startHttpReceiver } from '../fakes/http-receiver'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const SECRET = 'an-inbound-secret-of-32-characters!'
let gw: TestGateway
let ns: Awaited<ReturnType<TestGateway['tenant']>>
let channelId: string
let receiver: ReturnType<typeof startHttpReceiver>

beforeEach(async () => {
  gw = await startTestGateway()
  ns = await gw.tenant('acme')
  receiver = startHttpReceiver({ respond: (_req, n) => Response.json({ id: `remote-${n}` }) })
  const res = await gw.call('POST', '/v1/namespaces/acme/channels', ns.key, {
    name: 'crm',
    type: 'http',
    config: { url: receiver.url, inbound_secret: SECRET },
  })
  const body = (await res.json()) as { id: string; inbound_url: string; config: Record<string, unknown> }
  channelId = body.id
  expect(body.inbound_url).toBe(`${gw.deps.publicUrl}/inbound/${channelId}`)
  expect(JSON.stringify(body)).not.toContain(SECRET)
  await gw.call('POST', '/v1/namespaces/acme/channels/crm/terminals', ns.key, { address: 'support' })
})
afterEach(async () => {
  await receiver.stop()
  await gw.close()
})

/** Signed independently of the connector's own helper, as a client would. */
function signed(body: unknown, opts: { secret?: string; timestamp?: number } = {}) {
  const raw = JSON.stringify(body)
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000)
  const signature = createHmac('sha256', opts.secret ?? SECRET).update(`${timestamp}.${raw}`).digest('hex')
  return gw.app.request(`/inbound/${channelId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-omnigate-timestamp': String(timestamp), 'x-omnigate-signature': `v1=${signature}` },
    body: raw,
  })
}

const inbound = async () =>
  ((await (await gw.call('GET', '/v1/namespaces/acme/messages?direction=inbound', ns.key)).json()) as { data: any[] }).data

describe('inbound messages', () => {
  // A recipient is whatever the provider said, even "{{customer}}" (an unfilled template): shown
  // as is. It was JSON-parsed on every read: the message list answered 500, and with a webhook
  // subscribed the callback itself failed on every provider retry.
  test('a recipient that starts with "{" and is not JSON is stored and shown as given', async () => {
    expect((await signed({ messages: [{ from: 'customer-7', to: '{{customer}}', id: 'crm-tpl', content: { text: 'hello' } }] })).status).toBe(200)
    const list = await gw.call('GET', '/v1/namespaces/acme/messages', ns.key)
    expect(list.status).toBe(200)
    const [stored] = ((await list.json()) as { data: { id: string; to: unknown }[] }).data
    expect(stored!.to).toBe('{{customer}}')
    const one = await gw.call('GET', `/v1/namespaces/acme/messages/${stored!.id}`, ns.key)
    expect([one.status, ((await one.json()) as { to: unknown }).to]).toEqual([200, '{{customer}}'])
  })

  test('with a webhook subscribed, such a message is stored and its event raised', async () => {
    expect((await gw.call('POST', '/v1/namespaces/acme/webhooks', ns.key, { url: 'http://127.0.0.1:9/hook', event_types: ['message.received'] })).status).toBe(201)
    expect((await signed({ messages: [{ from: 'customer-7', to: '{{customer}}', id: 'crm-tpl-2', content: { text: 'hello' } }] })).status).toBe(200)
    const [delivery] = await gw.deps.store.read.select().from(webhookDeliveries)
    expect((JSON.parse(delivery!.payload) as { data: { message: { to: unknown } } }).data.message.to).toBe('{{customer}}')
  })

  test('a deleted (disabled) namespace takes no callbacks: 404, nothing stored', async () => {
    await gw.deps.store.tx((tx) => tx.update(namespaces).set({ status: 'disabled' }).where(eq(namespaces.id, ns.namespaceId)))
    const res = await signed({ messages: [{ from: 'customer-7', to: 'support', id: 'crm-late', content: { text: 'anyone there?' } }] })
    expect(res.status).toBe(404)
    const stored = await gw.deps.store.read.select().from(messages).where(eq(messages.namespaceId, ns.namespaceId))
    expect(stored).toEqual([])
  })

  test('a signed message is stored as received, linked to its terminal, once even if replayed', async () => {
    const body = { messages: [{ from: 'customer-7', to: 'support', id: 'crm-991', content: { text: 'where is my order?' }, metadata: { ticket: '17' } }] }
    const res = await signed(body)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, messages: 1, statuses: 0 })
    expect((await signed(body)).status).toBe(200)
    const stored = await inbound()
    expect(stored).toHaveLength(1)
    expect(stored[0]).toMatchObject({
      direction: 'inbound',
      status: 'received',
      from: 'customer-7',
      to: 'support',
      content: { text: 'where is my order?' },
      metadata: { ticket: '17' },
      provider_message_id: 'crm-991',
      channel: { id: channelId, name: 'crm', type: 'http' },
    })
    const row = (await gw.deps.store.read.select().from(messages).where(eq(messages.id, stored[0].id)))[0]!
    expect(row.terminalId).toStartWith('term_')
    expect(row.nextAttemptAt).toBeNull()
  })

  test('a shared bearer secret is accepted too', async () => {
    const res = await gw.app.request(`/inbound/${channelId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
      body: JSON.stringify({ messages: [{ from: 'x', id: 'in-1', content: { text: 'hi' } }] }),
    })
    expect(res.status).toBe(200)
    expect(await inbound()).toHaveLength(1)
  })

  test.each([
    ['a wrong secret', () => signed({ messages: [{ from: 'x', id: 'in-1', content: { text: 'hi' } }] }, { secret: 'not-the-secret-at-all!!' })],
    ['a stale timestamp', () => signed({ messages: [{ from: 'x', id: 'in-1', content: { text: 'hi' } }] }, { timestamp: Math.floor(Date.now() / 1000) - 3600 })],
    [
      'no signature',
      () =>
        gw.app.request(`/inbound/${channelId}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ messages: [{ from: 'x', id: 'in-1', content: { text: 'hi' } }] }),
        }),
    ],
  ])('%s is refused with 403 problem+json and nothing is stored', async (_, send) => {
    const res = await send()
    expect(res.status).toBe(403)
    expect(res.headers.get('content-type')).toStartWith('application/problem+json')
    expect(((await res.json()) as { code: string }).code).toBe('callback_rejected')
    expect(await inbound()).toHaveLength(0)
  })

  test('a message without an id is refused: a replayed request must not store it twice', async () => {
    const res = await signed({ messages: [{ from: 'x', content: { text: 'hi' } }] })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { detail: string }).detail).toContain('messages.0.id')
  })

  test('a malformed body is 400 naming the field; an unknown channel is 404', async () => {
    const bad = await signed({ messages: [{ content: { text: 'no sender' } }] })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { detail: string }).detail).toContain('messages.0.from')
    expect((await gw.app.request('/inbound/ch_nope', { method: 'POST', body: '{}' })).status).toBe(404)
  })
})

describe('status reports', () => {
  test('reports move a sent message forward, append events, and a replay changes nothing', async () => {
    await gw.startEngine()
    const sent = (await (await gw.call('POST', '/v1/namespaces/acme/messages', ns.key, { channel: 'crm', to: 'c-1', content: { text: 'hi' } })).json()) as { id: string }
    const message = await eventually(async () => {
      const m = (await (await gw.call('GET', `/v1/namespaces/acme/messages/${sent.id}`, ns.key)).json()) as any
      return m.status === 'sent' && m
    })
    const report = { statuses: [{ id: message.provider_message_id, status: 'delivered' }] }
    expect((await signed(report)).status).toBe(200)
    expect((await signed(report)).status).toBe(200)
    expect((await signed({ statuses: [{ id: message.provider_message_id, status: 'sent' }] })).status).toBe(200)
    const after = (await (await gw.call('GET', `/v1/namespaces/acme/messages/${sent.id}`, ns.key)).json()) as any
    expect(after.status).toBe('delivered')
    expect(after.events.map((e: any) => e.status)).toEqual(['queued', 'sending', 'sent', 'delivered'])
  })

  test('a report for an unknown id is acknowledged, parked, and applied when the send is recorded', async () => {
    const sent = (await (await gw.call('POST', '/v1/namespaces/acme/messages', ns.key, { channel: 'crm', to: 'c-1', content: { text: 'hi' } })).json()) as { id: string }
    const [claimed] = await claimDueMessages(gw.deps.store, 'test-owner', 10, 60_000, Date.now())
    expect(claimed!.id).toBe(sent.id)
    // The provider reports before its API answer is recorded.
    expect((await signed({ statuses: [{ id: 'remote-early', status: 'delivered' }] })).status).toBe(200)
    expect(await gw.deps.store.read.select().from(pendingStatuses)).toHaveLength(1)
    await completeAttempt(gw.deps.store, 'test-owner', claimed!, { kind: 'sent', providerMessageId: 'remote-early', confirmed: 'sent' }, Date.now())
    const after = (await (await gw.call('GET', `/v1/namespaces/acme/messages/${sent.id}`, ns.key)).json()) as any
    expect(after.status).toBe('delivered')
    expect(after.events.map((e: any) => e.status)).toEqual(['queued', 'sending', 'sent', 'delivered'])
    expect(await gw.deps.store.read.select().from(pendingStatuses)).toHaveLength(0)
  })

  test('a failed report fails a sent message with the provider error', async () => {
    const sent = (await (await gw.call('POST', '/v1/namespaces/acme/messages', ns.key, { channel: 'crm', to: 'c-1', content: { text: 'hi' } })).json()) as { id: string }
    const [claimed] = await claimDueMessages(gw.deps.store, 'o', 10, 60_000, Date.now())
    await completeAttempt(gw.deps.store, 'o', claimed!, { kind: 'sent', providerMessageId: 'remote-x', confirmed: 'sent' }, Date.now())
    await signed({ statuses: [{ id: 'remote-x', status: 'failed', error_code: 'mailbox_full', error_message: 'the mailbox is full' }] })
    const after = (await (await gw.call('GET', `/v1/namespaces/acme/messages/${sent.id}`, ns.key)).json()) as any
    expect(after).toMatchObject({ status: 'failed', error: { code: 'mailbox_full', message: 'the mailbox is full' } })
  })
})

test('inbound is off for an http channel without inbound_secret', async () => {
  const res = await gw.call('POST', '/v1/namespaces/acme/channels', ns.key, { name: 'plain', type: 'http', config: { url: receiver.url } })
  const plain = (await res.json()) as { id: string }
  const refused = await gw.app.request(`/inbound/${plain.id}`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}` }, body: '{}' })
  expect(refused.status).toBe(403)
  expect(((await refused.json()) as { detail: string }).detail).toContain('inbound_secret')
})
