/**
 * The whatsapp-cloud channel end to end through the public API, against a fake Graph API on
 * loopback: the channel config, the exact send bodies, provider errors → retry or fail, and the
 * drafts the Cloud API cannot carry.
 * Callbacks and health: whatsapp-cloud-callbacks.test.ts.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { graphErrorResponse, startWhatsappFake, type WhatsappFake } from '../fakes/whatsapp'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const TOKEN = 'EAAGm0PX4ZCpsBAtest-access-token'
const APP_SECRET = '3f9c1d0e8b7a6c5d4e3f2a1b0c9d8e7f'
const VERIFY_TOKEN = 'omnigate-verify-7Qk2'
const PHONE_ID = '106540352242922'
const SECOND_PHONE_ID = '109876543210987'
const USER = '15551234567'

type View = { id: string; status: string; from: string; to: string; content: any; metadata: Record<string, string>; provider_message_id: string | null; error: { code: string; message: string } | null; events: { status: string; at: string; error: { code: string; class: string } | null }[] }

let gw: TestGateway
let key: string
let fake: WhatsappFake
let respond: ((n: number) => Response | undefined) | undefined
let channelId: string

const config = (extra: Record<string, unknown> = {}) => ({
  access_token: TOKEN,
  phone_number_id: PHONE_ID,
  app_secret: APP_SECRET,
  verify_token: VERIFY_TOKEN,
  base_url: fake.url,
  ...extra,
})
const api = (method: string, path: string, body?: unknown) => gw.call(method, `/v1/namespaces/acme${path}`, key, body)
const createChannel = (name: string, cfg: Record<string, unknown>) => api('POST', '/channels', { name, type: 'whatsapp-cloud', config: cfg })
const view = async (id: string) => (await (await api('GET', `/messages/${id}`)).json()) as View
const send = async (body: Record<string, unknown>) => {
  const res = await api('POST', '/messages', { channel: 'wa', to: `+${USER}`, ...body })
  expect(res.status).toBe(202)
  return ((await res.json()) as { id: string }).id
}
const settled = (id: string) => eventually(async () => {
  const v = await view(id)
  return ['sent', 'delivered', 'read', 'failed'].includes(v.status) && v
})

beforeEach(async () => {
  respond = undefined
  fake = startWhatsappFake({ accessToken: TOKEN, phoneNumberIds: [PHONE_ID, SECOND_PHONE_ID], respond: (_req, n) => respond?.(n) })
  gw = await startTestGateway()
  key = (await gw.tenant('acme')).key
  const res = await createChannel('wa', config())
  expect(res.status).toBe(201)
  channelId = ((await res.json()) as { id: string }).id
})
afterEach(async () => {
  await gw.close()
  await fake.stop()
})

describe('the channel', () => {
  test('created with secrets masked, the callback URL shown and defaults filled in', async () => {
    const text = await (await api('GET', '/channels/wa')).text()
    for (const secret of [TOKEN, APP_SECRET, VERIFY_TOKEN]) expect(text).not.toContain(secret)
    const body = JSON.parse(text)
    expect(body.inbound_url).toEndWith(`/inbound/${channelId}`)
    expect(body.capabilities).toEqual(['send', 'receive', 'status-callback', 'media', 'templates', 'health'])
    expect(body.config).toMatchObject({ phone_number_id: PHONE_ID, api_version: 'v21.0', base_url: `${fake.url}/` })
  })

  test.each([
    [{ access_token: undefined }, 'config.access_token'],
    [{ phone_number_id: '+15550100200' }, 'config.phone_number_id'],
    [{ api_version: '21' }, 'config.api_version'],
    [{ base_url: 'ftp://graph.example.com' }, 'config.base_url'],
    [{ webhook_secret: 'x' }, 'config.webhook_secret'],
  ])('422 for %j naming %s', async (extra, field) => {
    const res = await createChannel('bad', config(extra))
    expect(res.status).toBe(422)
    expect(((await res.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual([field])
  })
})

describe('sending', () => {
  test('a text: the exact Graph request, the wamid kept as the provider id', async () => {
    await gw.startEngine()
    const id = await send({ content: { text: 'Your order 42 has shipped' } })
    const done = await settled(id)
    expect(done).toMatchObject({ status: 'sent', provider_message_id: 'wamid.HBgL0001' })
    expect(fake.sent).toHaveLength(1)
    const [req] = fake.sent
    expect(req!.path).toBe(`/v21.0/${PHONE_ID}/messages`)
    expect(req!.headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(req!.headers['content-type']).toBe('application/json')
    expect(req!.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: USER,
      type: 'text',
      text: { body: 'Your order 42 has shipped', preview_url: false },
      biz_opaque_callback_data: id,
    })
    expect(done.events.map((e) => e.status)).toEqual(['queued', 'sending', 'sent'])
  })

  test('a terminal is the sending phone number id', async () => {
    expect((await api('POST', '/channels/wa/terminals', { address: PHONE_ID })).status).toBe(201)
    expect((await api('POST', '/channels/wa/terminals', { address: SECOND_PHONE_ID })).status).toBe(201)
    await gw.startEngine()
    await settled(await send({ from: SECOND_PHONE_ID, content: { text: 'from the second number' }, options: { 'whatsapp-cloud': { preview_url: true } } }))
    expect(fake.sent[0]!.path).toBe(`/v21.0/${SECOND_PHONE_ID}/messages`)
    expect((fake.sent[0]!.body as any).text).toEqual({ body: 'from the second number', preview_url: true })
  })

  test('a template, with language given as a code', async () => {
    await gw.startEngine()
    const components = [{ type: 'body', parameters: [{ type: 'text', text: '42' }] }]
    const id = await send({
      content: { text: 'order 42 shipped (template)' },
      options: { 'whatsapp-cloud': { template: { name: 'order_shipped', language: 'en_US', components } } },
    })
    expect((await settled(id)).status).toBe('sent')
    expect(fake.sent[0]!.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: USER,
      type: 'template',
      template: { name: 'order_shipped', language: { code: 'en_US' }, components },
      biz_opaque_callback_data: id,
    })
  })

  test('media by link: the text is the caption; documents keep their file name; audio has no caption', async () => {
    await gw.startEngine()
    const ids = [
      await send({ content: { text: 'the parcel', attachments: [{ filename: 'p.jpg', content_type: 'image/jpeg', url: 'https://cdn.example.com/p.jpg' }] } }),
      await send({ content: { attachments: [{ filename: 'invoice-42.pdf', content_type: 'application/pdf', url: 'https://cdn.example.com/i.pdf' }] } }),
      await send({ content: { attachments: [{ filename: 'hello.ogg', content_type: 'audio/ogg', url: 'https://cdn.example.com/h.ogg' }] } }),
      await send({ content: { text: 'clip', attachments: [{ filename: 'c.mp4', content_type: 'video/mp4', url: 'https://cdn.example.com/c.mp4' }] } }),
    ]
    for (const id of ids) expect((await settled(id)).status).toBe('sent')
    const bodies = Object.fromEntries(fake.sent.map((r) => [(r.body as any).type, r.body as any]))
    expect(bodies.image.image).toEqual({ link: 'https://cdn.example.com/p.jpg', caption: 'the parcel' })
    expect(bodies.document.document).toEqual({ link: 'https://cdn.example.com/i.pdf', filename: 'invoice-42.pdf' })
    expect(bodies.audio.audio).toEqual({ link: 'https://cdn.example.com/h.ogg' })
    expect(bodies.video.video).toEqual({ link: 'https://cdn.example.com/c.mp4', caption: 'clip' })
  })
})

describe('what WhatsApp cannot carry is a 422 naming the field', () => {
  const url = (n: string, type = 'image/png') => ({ filename: n, content_type: type, url: `https://cdn.example.com/${n}` })
  test.each([
    ['an e-mail recipient', { to: 'bob@example.com', content: { text: 'x' } }, ['to']],
    ['a number that is not E.164', { to: '+0123', content: { text: 'x' } }, ['to']],
    ['html', { content: { html: '<b>x</b>' } }, ['content.html']],
    ['a subject', { content: { text: 'x', subject: 'Hi' } }, ['content.subject']],
    ['an inline attachment', { content: { attachments: [{ filename: 'a.png', content_base64: 'AAAA' }] } }, ['content.attachments.0.content_base64']],
    ['two attachments', { content: { attachments: [url('a.png'), url('b.png')] } }, ['content.attachments']],
    ['audio with text', { content: { text: 'x', attachments: [url('a.ogg', 'audio/ogg')] } }, ['content.text']],
    ['a caption over 1024 characters', { content: { text: 'x'.repeat(1025), attachments: [url('a.png')] } }, ['content.text']],
    ['a text over 4096 characters', { content: { text: 'x'.repeat(4097) } }, ['content.text']],
    ['a from that is no phone number id', { from: 'acme-support', content: { text: 'x' } }, ['from']],
    ['a template with an attachment', { content: { attachments: [url('a.png')] }, options: { 'whatsapp-cloud': { template: { name: 'promo', language: 'en' } } } }, ['content.attachments']],
    ['a template name with capitals', { content: { text: 'x' }, options: { 'whatsapp-cloud': { template: { name: 'Order Shipped', language: 'en' } } } }, ['options.whatsapp-cloud.template.name']],
    ['an unknown option', { content: { text: 'x' }, options: { 'whatsapp-cloud': { colour: 'green' } } }, ['options.whatsapp-cloud.colour']],
  ])('%s', async (_name, body, fields) => {
    const res = await api('POST', '/messages', { channel: 'wa', to: `+${USER}`, ...body })
    expect(res.status).toBe(422)
    expect(((await res.json()) as { errors: { field: string }[] }).errors.map((e) => e.field).sort()).toEqual(fields)
    expect((await api('GET', '/messages').then((r) => r.json()) as { data: unknown[] }).data).toEqual([])
  })
})

describe('provider errors', () => {
  beforeEach(async () => {
    expect((await api('PATCH', '/channels/wa', { max_attempts: 2 })).status).toBe(200)
  })

  test.each([
    [190, 'permanent', 1],
    [100, 'permanent', 1],
    [131009, 'permanent', 1],
    [131026, 'permanent', 1],
    [131047, 'permanent', 1],
    [131051, 'permanent', 1],
    [132001, 'permanent', 1],
    [4, 'rate-limited', 2],
    [80007, 'rate-limited', 2],
    [130429, 'rate-limited', 2],
    [131048, 'rate-limited', 2],
    [131056, 'rate-limited', 2],
    [1, 'transient', 2],
    [2, 'transient', 2],
    [131000, 'transient', 2],
    [131016, 'transient', 2],
  ])('Graph error %d is %s: %d attempt(s), then failed', async (code, errorClass, attempts) => {
    respond = () => graphErrorResponse(code, { details: 'details from Meta' })
    await gw.startEngine()
    const done = await settled(await send({ content: { text: 'hello' } }))
    expect(done.status).toBe('failed')
    expect(done.error?.code).toBe(String(code))
    expect(done.error?.message).toContain('details from Meta')
    expect(done.error?.message).toContain('fbtrace_id')
    expect(fake.sent).toHaveLength(attempts)
    const failures = done.events.filter((e) => e.error)
    expect(failures.map((e) => e.error!.class)).toEqual(Array(attempts).fill(errorClass))
  })

  test('a 502 page that is not Graph JSON is transient; the retry goes through', async () => {
    respond = (n) => (n === 1 ? new Response('<html>Bad Gateway</html>', { status: 502 }) : undefined)
    await gw.startEngine()
    const done = await settled(await send({ content: { text: 'hello' } }))
    expect(done).toMatchObject({ status: 'sent', provider_message_id: 'wamid.HBgL0002' })
    expect(done.events.find((e) => e.error)?.error).toMatchObject({ code: 'http_502', class: 'transient' })
  })

  test('a wrong access token is refused by the Graph API: failed at once with 190', async () => {
    expect((await createChannel('wrong', config({ access_token: 'EAA-revoked' }))).status).toBe(201)
    await gw.startEngine()
    const id = ((await (await api('POST', '/messages', { channel: 'wrong', to: `+${USER}`, content: { text: 'x' } })).json()) as { id: string }).id
    const done = await settled(id)
    expect(done).toMatchObject({ status: 'failed', error: { code: '190' } })
    expect(fake.sent).toHaveLength(0)
    expect(fake.received[0]!.headers.authorization).toBe('Bearer EAA-revoked')
  })
})
