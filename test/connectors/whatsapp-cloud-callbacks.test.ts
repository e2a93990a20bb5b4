/**
 * whatsapp-cloud callbacks and health through the public API: the GET verification handshake,
 * signed POSTs with inbound messages and statuses (signatures computed here with node:crypto,
 * independently of the connector), refused signatures, replays, and `POST …/channels/wa/test`.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { inboundValue, notification, startWhatsappFake, statusValue, type WhatsappFake } from '../fakes/whatsapp'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const TOKEN = 'EAAGm0PX4ZCpsBAtest-access-token'
const APP_SECRET = '3f9c1d0e8b7a6c5d4e3f2a1b0c9d8e7f'
const VERIFY_TOKEN = 'omnigate-verify-7Qk2'
const PHONE_ID = '106540352242922'
const USER = '15551234567'

type View = { id: string; status: string; from: string; to: string; content: any; metadata: Record<string, string>; provider_message_id: string | null; error: { code: string; message: string } | null; events: { status: string; at: string; error: { code: string; class: string } | null }[] }

let gw: TestGateway
let key: string
let fake: WhatsappFake
let channelId: string

const api = (method: string, path: string, body?: unknown) => gw.call(method, `/v1/namespaces/acme${path}`, key, body)
const view = async (id: string) => (await (await api('GET', `/messages/${id}`)).json()) as View
const inbound = async () => ((await (await api('GET', '/messages?direction=inbound')).json()) as { data: View[] }).data

const sign = (raw: string, secret = APP_SECRET) => `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`
function callback(payload: unknown, signature?: string | null, raw = JSON.stringify(payload)) {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (signature !== null) headers['x-hub-signature-256'] = signature ?? sign(raw)
  return gw.app.request(`/inbound/${channelId}`, { method: 'POST', headers, body: raw })
}
const handshake = (query: string) => gw.app.request(`/inbound/${channelId}?${query}`)

/** Sends a text through the engine and returns the message once the provider accepted it. */
async function sentMessage(): Promise<View> {
  const res = await api('POST', '/messages', { channel: 'wa', to: `+${USER}`, content: { text: 'hello' } })
  const { id } = (await res.json()) as { id: string }
  return eventually(async () => {
    const v = await view(id)
    return v.status === 'sent' && v
  })
}

beforeEach(async () => {
  fake = startWhatsappFake({ accessToken: TOKEN, phoneNumberIds: [PHONE_ID] })
  gw = await startTestGateway()
  key = (await gw.tenant('acme')).key
  const config = { access_token: TOKEN, phone_number_id: PHONE_ID, app_secret: APP_SECRET, verify_token: VERIFY_TOKEN, base_url: fake.url }
  const res = await api('POST', '/channels', { name: 'wa', type: 'whatsapp-cloud', config })
  expect(res.status).toBe(201)
  channelId = ((await res.json()) as { id: string }).id
})
afterEach(async () => {
  await gw.close()
  await fake.stop()
})

describe('the verification handshake', () => {
  test('the right verify token gets the challenge back as text', async () => {
    const res = await handshake(`hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toStartWith('text/plain')
    expect(await res.text()).toBe('1158201444')
  })

  test.each([
    ['a wrong token', 'hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1'],
    ['no token', 'hub.mode=subscribe&hub.challenge=1'],
    ['another mode', `hub.mode=unsubscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`],
  ])('%s is 403 without the challenge', async (_name, query) => {
    const res = await handshake(query)
    expect(res.status).toBe(403)
    expect(await res.text()).not.toBe('1')
  })
})

describe('inbound messages', () => {
  const text = notification(PHONE_ID, inboundValue(USER, { id: 'wamid.IN1', type: 'text', text: { body: 'Where is my order?' } }))

  test('a signed text becomes a received message from the E.164 number to the phone number id', async () => {
    const res = await callback(text)
    expect(res.status).toBe(200)
    const [message, ...rest] = await inbound()
    expect(rest).toEqual([])
    expect(message).toMatchObject({
      status: 'received',
      from: `+${USER}`,
      to: PHONE_ID,
      content: { text: 'Where is my order?' },
      metadata: { type: 'text', profile_name: 'Kerry Fisher' },
      provider_message_id: 'wamid.IN1',
    })
  })

  test('a replayed callback stores nothing new', async () => {
    expect((await callback(text)).status).toBe(200)
    expect((await callback(text)).status).toBe(200)
    expect(await inbound()).toHaveLength(1)
  })

  test('media arrives as an attachment without URL and its media id; a document keeps its name', async () => {
    const value = inboundValue(USER, { id: 'wamid.IN2', type: 'image', image: { id: '1479537139650973', mime_type: 'image/jpeg', sha256: 'abc', caption: 'the damage' } })
    value.messages.push({ from: USER, timestamp: '1717171718', id: 'wamid.IN3', type: 'document', document: { id: '9988', mime_type: 'application/pdf', filename: 'receipt.pdf' } } as any)
    expect((await callback(notification(PHONE_ID, value))).status).toBe(200)
    const byId = Object.fromEntries((await inbound()).map((m) => [m.provider_message_id, m]))
    expect(byId['wamid.IN2']).toMatchObject({
      content: { text: 'the damage', attachments: [{ filename: '1479537139650973.jpeg', content_type: 'image/jpeg' }] },
      metadata: { type: 'image', media_id: '1479537139650973' },
    })
    expect(byId['wamid.IN3']!.content).toEqual({ attachments: [{ filename: 'receipt.pdf', content_type: 'application/pdf' }] })
  })

  test('changes for a phone number id the channel does not own are acknowledged and dropped', async () => {
    const other = notification('999000111222', inboundValue(USER, { id: 'wamid.IN9', type: 'text', text: { body: 'hi' } }))
    expect((await callback(other)).status).toBe(200)
    expect(await inbound()).toEqual([])
  })

  test.each([
    ['no signature', null],
    ['a signature made with another secret', sign(JSON.stringify(text), 'not-the-app-secret')],
    ['a malformed signature', 'sha1=0123'],
  ])('%s is 403 and nothing is stored', async (_name, signature) => {
    const res = await callback(text, signature)
    expect(res.status).toBe(403)
    expect(await inbound()).toEqual([])
  })

  test('a body changed after signing is 403', async () => {
    const raw = JSON.stringify(text)
    const res = await callback(undefined, sign(raw), raw.replace('Where is my order?', 'Send it to my new address'))
    expect(res.status).toBe(403)
    expect(await inbound()).toEqual([])
  })

  test('STOP puts the sender on the suppression list; the next send fails before reaching Meta', async () => {
    await callback(notification(PHONE_ID, inboundValue(USER, { id: 'wamid.IN4', type: 'text', text: { body: 'STOP' } })))
    await gw.startEngine()
    const res = await api('POST', '/messages', { channel: 'wa', to: `+${USER}`, content: { text: 'promo' } })
    const { id } = (await res.json()) as { id: string }
    const done = await eventually(async () => {
      const v = await view(id)
      return v.status === 'failed' && v
    })
    expect(done.error?.code).toBe('recipient_suppressed')
    expect(fake.sent).toHaveLength(0)
  })
})

describe('status callbacks', () => {
  test('delivered then read move the message on, at the times Meta reports; a replay adds nothing', async () => {
    await gw.startEngine()
    const sent = await sentMessage()
    const wamid = sent.provider_message_id!
    const delivered = notification(PHONE_ID, statusValue(wamid, 'delivered', 1717171800, USER))
    const read = notification(PHONE_ID, statusValue(wamid, 'read', 1717171860, USER))
    expect((await callback(delivered)).status).toBe(200)
    expect((await callback(read)).status).toBe(200)
    const after = await view(sent.id)
    expect(after.status).toBe('read')
    expect(after.events.slice(-2)).toMatchObject([
      { status: 'delivered', at: new Date(1717171800_000).toISOString() },
      { status: 'read', at: new Date(1717171860_000).toISOString() },
    ])
    await callback(read)
    await callback(delivered)
    expect((await view(sent.id)).events).toHaveLength(after.events.length)
  })

  test('failed carries the error code and the details', async () => {
    await gw.startEngine()
    const sent = await sentMessage()
    const errors = [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message', error_data: { details: 'More than 24 hours have passed since the recipient last replied to the sender number.' } }]
    expect((await callback(notification(PHONE_ID, statusValue(sent.provider_message_id!, 'failed', 1717171900, USER, errors)))).status).toBe(200)
    const after = await view(sent.id)
    expect(after.status).toBe('failed')
    expect(after.error).toEqual({ code: '131047', message: 'More than 24 hours have passed since the recipient last replied to the sender number.' })
    expect(after.events.at(-1)).toMatchObject({ status: 'failed', error: { code: '131047', class: 'permanent' } })
  })

  test('a status with a bad signature changes nothing', async () => {
    await gw.startEngine()
    const sent = await sentMessage()
    const res = await callback(notification(PHONE_ID, statusValue(sent.provider_message_id!, 'read', 1717171800, USER)), sign('{}'))
    expect(res.status).toBe(403)
    expect((await view(sent.id)).status).toBe('sent')
  })
})

describe('health: POST /channels/wa/test', () => {
  const runTest = () => api('POST', '/channels/wa/test').then((r) => r.json() as Promise<{ ok: boolean; detail?: string }>)

  test('ok with the number Meta reports, asked with the token', async () => {
    const result = await runTest()
    expect(result.ok).toBe(true)
    expect(result.detail).toContain('+1 555-010-0200')
    expect(result.detail).toContain('quality GREEN')
    expect(fake.received.at(-1)).toMatchObject({ method: 'GET', path: `/v21.0/${PHONE_ID}` })
    expect(fake.received.at(-1)!.headers.authorization).toBe(`Bearer ${TOKEN}`)
  })

  test('a revoked token and an unknown phone number id are clear failures', async () => {
    expect((await api('PATCH', '/channels/wa', { config: { access_token: 'EAA-revoked', phone_number_id: PHONE_ID, base_url: fake.url } })).status).toBe(200)
    const revoked = await runTest()
    expect(revoked.ok).toBe(false)
    expect(revoked.detail).toContain('Invalid OAuth access token')

    expect((await api('PATCH', '/channels/wa', { config: { access_token: TOKEN, phone_number_id: '123', base_url: fake.url } })).status).toBe(200)
    const unknown = await runTest()
    expect(unknown.ok).toBe(false)
    expect(unknown.detail).toContain("Object with ID '123' does not exist")
  })
})
