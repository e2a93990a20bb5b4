/**
 * The `twilio-sms` channel end to end through the public API, against a fake Twilio on loopback:
 * the exact request Twilio gets, how each class of Twilio error is retried or failed, what an SMS
 * cannot carry, signed incoming messages and delivery reports (signed by the official `twilio`
 * package), suppression on STOP and on dead numbers, and the health check.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { twilioSmsConnector } from '../../src/connectors/twilio-sms'
import { createGuardedFetch } from '../../src/lib/url-guard'
import { USER_AGENT } from '../../src/version'
import { type FakeTwilio, type FakeTwilioOptions, signedCallback, startFakeTwilio, twilioErrorResponse } from '../fakes/twilio'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const ACCOUNT_SID = `AC${'5f'.repeat(16)}`
const AUTH_TOKEN = '9b1c4e7d2a6f8e0b3c5d7f9a1b2c3d4e'
const SERVICE_SID = `MG${'0c'.repeat(16)}`
const SENDER = '+15005550006'
const ALICE = '+15551230001'
const MESSAGES = '/v1/namespaces/acme/messages'
const CHANNELS = '/v1/namespaces/acme/channels'

type Event = { status: string; attempt: number | null; provider_message_id: string | null; error: { code: string; message: string; class: string } | null }
type MessageBody = { id: string; status: string; attempts: number; provider_message_id: string | null; error: { code: string; message: string } | null; events: Event[]; [k: string]: unknown }

let gw: TestGateway
let ns: Awaited<ReturnType<TestGateway['tenant']>>
let fake: FakeTwilio
let channel: { id: string; inbound_url: string; config: Record<string, unknown>; capabilities: string[] }

async function setUp(fakeOptions: Partial<FakeTwilioOptions> = {}, config: Record<string, unknown> = {}, terminal: string | null = SENDER) {
  fake = startFakeTwilio({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, ...fakeOptions })
  const res = await gw.call('POST', CHANNELS, ns.key, {
    name: 'sms',
    type: 'twilio-sms',
    config: { account_sid: ACCOUNT_SID, auth_token: AUTH_TOKEN, base_url: fake.url, ...config },
  })
  expect(res.status).toBe(201)
  channel = (await res.json()) as typeof channel
  if (terminal) expect((await gw.call('POST', `${CHANNELS}/sms/terminals`, ns.key, { address: terminal })).status).toBe(201)
}

beforeEach(async () => {
  gw = await startTestGateway()
  ns = await gw.tenant('acme')
})
afterEach(async () => {
  await fake?.stop()
  await gw.close()
})

const send = async (body: Record<string, unknown> = {}) => {
  const res = await gw.call('POST', MESSAGES, ns.key, { channel: 'sms', to: ALICE, content: { text: 'Your code is 4711' }, ...body })
  expect(res.status).toBe(202)
  return ((await res.json()) as { id: string }).id
}
const message = async (id: string) => (await (await gw.call('GET', `${MESSAGES}/${id}`, ns.key)).json()) as MessageBody
const settled = (id: string, statuses = ['sent', 'delivered', 'read', 'failed']) =>
  eventually(async () => {
    const m = await message(id)
    return statuses.includes(m.status) && m
  })
/** The form of the n-th message create Twilio received, without the StatusCallback the dispatcher may add. */
const createForm = (n = 0) =>
  fake.received.filter((r) => r.path.endsWith('/Messages.json'))[n]!.form.filter(([name]) => name !== 'StatusCallback')
const callback = (params: Record<string, string>, token = AUTH_TOKEN) =>
  gw.app.request(`/inbound/${channel.id}`, signedCallback(token, channel.inbound_url, { AccountSid: ACCOUNT_SID, ApiVersion: '2010-04-01', ...params }))
const inbound = async () => ((await (await gw.call('GET', `${MESSAGES}?direction=inbound`, ns.key)).json()) as { data: any[] }).data

describe('creating a twilio-sms channel', () => {
  test('201: the token masked, base_url shown as origin, the inbound_url to give Twilio', async () => {
    await setUp()
    expect(channel.config).toEqual({ account_sid: ACCOUNT_SID, auth_token: '••••3d4e', base_url: `${fake.url}/` })
    expect(channel.inbound_url).toBe(`${gw.deps.publicUrl}/inbound/${channel.id}`)
    expect(channel.capabilities).toEqual(['send', 'receive', 'status-callback', 'media', 'health'])
    expect(JSON.stringify(channel)).not.toContain(AUTH_TOKEN)
  })

  test.each([
    [{ account_sid: 'AC123', auth_token: AUTH_TOKEN }, ['config.account_sid']],
    [{ account_sid: ACCOUNT_SID }, ['config.auth_token']],
    [{ account_sid: ACCOUNT_SID, auth_token: AUTH_TOKEN, messaging_service_sid: 'PN123' }, ['config.messaging_service_sid']],
    [{ account_sid: ACCOUNT_SID, auth_token: AUTH_TOKEN, base_url: 'ftp://api.example.com' }, ['config.base_url']],
    [{ account_sid: ACCOUNT_SID, auth_token: AUTH_TOKEN, from: SENDER }, ['config.from']],
  ])('422 for %j', async (config, fields) => {
    const res = await gw.call('POST', CHANNELS, ns.key, { name: 'sms', type: 'twilio-sms', config: { base_url: 'http://127.0.0.1:9', ...config } })
    expect(res.status).toBe(422)
    expect(((await res.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(fields)
  })
})

describe('sending', () => {
  test('an SMS: one form-encoded POST with Basic auth; sent with the SM sid', async () => {
    await setUp()
    await gw.startEngine()
    const done = await settled(await send())
    expect(done).toMatchObject({ status: 'sent', attempts: 1, provider_message_id: fake.created[0] })
    expect(done.provider_message_id).toMatch(/^SM[0-9a-f]{32}$/)
    expect(done.events.map((e) => e.status)).toEqual(['queued', 'sending', 'sent'])
    const [req] = fake.received
    expect(req!.method).toBe('POST')
    expect(req!.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`)
    expect(req!.headers.authorization).toBe(`Basic ${btoa(`${ACCOUNT_SID}:${AUTH_TOKEN}`)}`)
    expect(req!.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(req!.headers['user-agent']).toBe(USER_AGENT)
    expect(createForm()).toEqual([['To', ALICE], ['From', SENDER], ['Body', 'Your code is 4711']])
  })

  test('an MMS: each attachment URL as a repeated MediaUrl, in order', async () => {
    await setUp()
    await gw.startEngine()
    const attachments = [
      { filename: 'a.png', url: 'http://127.0.0.1:9/media/a.png' },
      { filename: 'b.jpg', content_type: 'image/jpeg', url: 'http://127.0.0.1:9/media/b.jpg' },
    ]
    expect((await settled(await send({ content: { attachments } }))).status).toBe('sent')
    expect(createForm()).toEqual([['To', ALICE], ['From', SENDER], ['MediaUrl', attachments[0]!.url], ['MediaUrl', attachments[1]!.url]])
  })

  test('without a terminal the Messaging Service picks the sender', async () => {
    await setUp({}, { messaging_service_sid: SERVICE_SID }, null)
    await gw.startEngine()
    expect((await settled(await send())).status).toBe('sent')
    expect(createForm()).toEqual([['To', ALICE], ['MessagingServiceSid', SERVICE_SID], ['Body', 'Your code is 4711']])
  })

  test('without a terminal or a Messaging Service the message fails at once, Twilio not called', async () => {
    await setUp({}, {}, null)
    await gw.startEngine()
    expect(await settled(await send())).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'no_sender' } })
    expect(fake.received).toHaveLength(0)
  })

  test('the StatusCallback is the channel inbound_url when the context carries it', async () => {
    await setUp()
    const config = twilioSmsConnector.configSchema.parse({ account_sid: ACCOUNT_SID, auth_token: AUTH_TOKEN, base_url: fake.url })
    const fetch = createGuardedFetch({ allowPrivateNetwork: true, defaultTimeoutMs: 5_000, maxResponseBytes: 1 << 16 })
    const ctx = { config, fetch, userAgent: USER_AGENT, callbackUrl: channel.inbound_url }
    const msg = { id: 'msg_1', namespace: 'acme', channel: { id: channel.id, name: 'sms', type: 'twilio-sms' }, from: SENDER, to: ALICE, content: { text: 'hi' }, metadata: {}, options: {}, createdAt: Date.now(), attempt: 1 }
    expect(await twilioSmsConnector.send(msg, ctx)).toEqual({ status: 'sent', providerMessageId: fake.created[0] })
    expect(fake.received[0]!.form).toContainEqual(['StatusCallback', channel.inbound_url])
  })
})

describe('Twilio errors', () => {
  const failsAtOnce: [string, () => Response, string, RegExp][] = [
    ['21211 invalid To', () => twilioErrorResponse(400, 21211, "The 'To' number +15551230001 is not a valid phone number."), '21211', /not a valid phone number/],
    ['21610 unsubscribed', () => twilioErrorResponse(400, 21610, 'Attempt to send to unsubscribed recipient'), '21610', /unsubscribed/],
    ['21408 no permission', () => twilioErrorResponse(400, 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"), '21408', /Permission/],
    ['21614 not a mobile', () => twilioErrorResponse(400, 21614, "'To' number is not a valid mobile number"), '21614', /mobile/],
  ]
  test.each(failsAtOnce)('%s fails the message permanently after one attempt', async (_name, answer, code, text) => {
    await setUp({ respond: answer as () => Response })
    await gw.startEngine()
    const done = await settled(await send())
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code } })
    expect(done.error!.message).toMatch(text)
    expect(done.events.at(-1)!.error).toMatchObject({ code, class: 'permanent' })
  })

  test('bad credentials (401, 20003) fail permanently with a clear message', async () => {
    await setUp({ authToken: 'another-token' })
    await gw.startEngine()
    const done = await settled(await send())
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: '20003' } })
    expect(done.error!.message).toContain('authentication failed (20003)')
  })

  test('429 / 20429 is rate-limited: retried after Retry-After, then sent', async () => {
    await setUp({ respond: (_r, n) => (n === 1 ? twilioErrorResponse(429, 20429, 'Too Many Requests', { 'retry-after': '1' }) : undefined) })
    await gw.startEngine()
    const done = await settled(await send())
    expect(done).toMatchObject({ status: 'sent', attempts: 2 })
    expect(done.events.find((e) => e.error)?.error).toMatchObject({ code: '20429', class: 'rate-limited' })
  })

  test('a 5xx is transient: retried, then sent', async () => {
    await setUp({ respond: (_r, n) => (n === 1 ? twilioErrorResponse(503, 20503, 'Service Unavailable') : undefined) })
    await gw.startEngine()
    const done = await settled(await send())
    expect(done).toMatchObject({ status: 'sent', attempts: 2 })
    expect(done.events.find((e) => e.error)?.error).toMatchObject({ code: '20503', class: 'transient' })
  })

  test("a 5xx that persists fails after the channel's max_attempts", async () => {
    await setUp({ respond: () => new Response('<html>bad gateway</html>', { status: 502 }) })
    expect((await gw.call('PATCH', `${CHANNELS}/sms`, ns.key, { max_attempts: 2 })).status).toBe(200)
    await gw.startEngine()
    const done = await settled(await send())
    expect(done).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'http_502' } })
    expect(done.error!.message).toContain('gave up after 2 attempts')
  })

  test('a Twilio that does not answer in time is transient: retried, then sent', async () => {
    await setUp({ respond: async (_r, n) => (n === 1 ? (await Bun.sleep(3_000), undefined) : undefined) })
    await gw.startEngine({ send_timeout_ms: 300 })
    const done = await settled(await send())
    expect(done).toMatchObject({ status: 'sent', attempts: 2 })
    expect(done.events.find((e) => e.error)?.error).toMatchObject({ code: 'timeout', class: 'transient' })
  })
})

describe('what an SMS cannot carry (422 naming the field, nothing queued)', () => {
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['a number without +', { to: '5551230001' }, ['to']],
    ['a number with country code 0', { to: '+0551230001' }, ['to']],
    ['html', { content: { text: 'hi', html: '<b>hi</b>' } }, ['content.html']],
    ['a subject', { content: { text: 'hi', subject: 'Hello' } }, ['content.subject']],
    ['an inline attachment', { content: { attachments: [{ filename: 'a.png', content_base64: 'iVBORw0KGgo=' }] } }, ['content.attachments.0.content_base64']],
    ['a body over 1600 characters', { content: { text: 'x'.repeat(1601) } }, ['content.text']],
    ['a sender that is no E.164 number', { from: 'ACME' }, ['from']],
  ]
  test.each(cases)('%s', async (_name, body, fields) => {
    await setUp({}, {}, null)
    const res = await gw.call('POST', MESSAGES, ns.key, { channel: 'sms', to: ALICE, content: { text: 'hi' }, ...body })
    expect(res.status).toBe(422)
    expect(((await res.json()) as { errors: { field: string }[] }).errors.map((e) => e.field).sort()).toEqual(fields)
    expect(((await (await gw.call('GET', MESSAGES, ns.key)).json()) as { data: unknown[] }).data).toEqual([])
  })
})

/** An incoming SMS as Twilio posts it to the number's messaging webhook. */
const incoming = (extra: Record<string, string> = {}) => ({
  ToCountry: 'US',
  SmsMessageSid: 'SM0f1e2d3c4b5a69788796a5b4c3d2e1f0',
  NumMedia: '0',
  SmsSid: 'SM0f1e2d3c4b5a69788796a5b4c3d2e1f0',
  SmsStatus: 'received',
  Body: 'Where is my order?',
  FromCountry: 'US',
  To: SENDER,
  NumSegments: '1',
  MessageSid: 'SM0f1e2d3c4b5a69788796a5b4c3d2e1f0',
  From: ALICE,
  ...extra,
})

/** A status callback for an outbound message, as Twilio posts it to the StatusCallback URL. */
const report = (sid: string, status: string, extra: Record<string, string> = {}) => ({
  SmsSid: sid,
  SmsStatus: status,
  MessageStatus: status,
  To: ALICE,
  MessageSid: sid,
  From: SENDER,
  ...extra,
})

describe('incoming messages', () => {
  beforeEach(() => setUp())

  test('a signed SMS is stored as received and answered with empty TwiML; a replay stores nothing more', async () => {
    const res = await callback(incoming())
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toStartWith('text/xml')
    expect(await res.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response></Response>')
    expect((await callback(incoming())).status).toBe(200)
    const stored = await inbound()
    expect(stored).toHaveLength(1)
    expect(stored[0]).toMatchObject({
      direction: 'inbound',
      status: 'received',
      from: ALICE,
      to: SENDER,
      content: { text: 'Where is my order?' },
      provider_message_id: 'SM0f1e2d3c4b5a69788796a5b4c3d2e1f0',
      metadata: { num_segments: '1', from_country: 'US' },
      channel: { id: channel.id, name: 'sms', type: 'twilio-sms' },
    })
  })

  test('an MMS keeps its media as attachments with url and content type', async () => {
    const media = `https://api.twilio.com/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/MM1/Media/ME`
    const res = await callback(
      incoming({
        MessageSid: 'MM1',
        SmsMessageSid: 'MM1',
        SmsSid: 'MM1',
        Body: '',
        NumMedia: '2',
        MediaUrl0: `${media}0a`,
        MediaContentType0: 'image/jpeg',
        MediaUrl1: `${media}1b`,
        MediaContentType1: 'text/vcard',
      }),
    )
    expect(res.status).toBe(200)
    expect((await inbound())[0].content).toEqual({
      attachments: [
        { filename: 'ME0a.jpg', url: `${media}0a`, content_type: 'image/jpeg' },
        { filename: 'ME1b.vcf', url: `${media}1b`, content_type: 'text/vcard' },
      ],
    })
  })

  const refused: [string, () => Response | Promise<Response>, number][] = [
    ['no signature', () => gw.app.request(`/inbound/${channel.id}`, { ...signedCallback(AUTH_TOKEN, channel.inbound_url, incoming()), headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 403],
    ['a signature made with another token', () => callback(incoming(), 'f'.repeat(32)), 403],
    ['a signature over another URL', () => gw.app.request(`/inbound/${channel.id}`, signedCallback(AUTH_TOKEN, 'https://evil.example.com/inbound', incoming())), 403],
    [
      'a body changed after signing',
      () => {
        const init = signedCallback(AUTH_TOKEN, channel.inbound_url, { AccountSid: ACCOUNT_SID, ...incoming() })
        return gw.app.request(`/inbound/${channel.id}`, { ...init, body: String(init.body).replace('Where', 'When') })
      },
      403,
    ],
    ['a callback of another account, signed with our token', () => callback({ ...incoming(), AccountSid: `AC${'11'.repeat(16)}` }), 403],
    ['a GET', () => gw.app.request(`/inbound/${channel.id}`, { headers: { 'x-twilio-signature': 'x' } }), 405],
    ['a JSON body', () => gw.app.request(`/inbound/${channel.id}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-twilio-signature': 'x' }, body: '{}' }), 415],
  ]
  test.each(refused)('%s is refused and nothing is stored', async (_name, request, status) => {
    const res = await request()
    expect(res.status).toBe(status)
    expect(res.headers.get('content-type')).toStartWith('application/problem+json')
    expect(await inbound()).toEqual([])
  })

  test('STOP suppresses the sender: a later send fails with recipient_suppressed; START lifts it', async () => {
    await gw.startEngine()
    expect((await callback(incoming({ MessageSid: 'SMstop', Body: 'STOP' }))).status).toBe(200)
    const suppressed = (await (await gw.call('GET', '/v1/namespaces/acme/suppressions', ns.key)).json()) as { data: any[] }
    expect(suppressed.data).toEqual([expect.objectContaining({ channel_type: 'twilio-sms', recipient: ALICE, reason: 'opt-out' })])
    expect(await settled(await send())).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'recipient_suppressed' } })
    expect(fake.received).toHaveLength(0)

    expect((await callback(incoming({ MessageSid: 'SMstart', Body: 'start' }))).status).toBe(200)
    expect((await settled(await send())).status).toBe('sent')
    expect(createForm()).toContainEqual(['To', ALICE])
  })
})

describe('delivery reports', () => {
  beforeEach(() => setUp())

  test('sent, then delivered: status and events follow; queued/sending and replays change nothing', async () => {
    await gw.startEngine()
    const id = await send()
    const sid = (await settled(id)).provider_message_id!
    for (const status of ['queued', 'sending', 'sent', 'delivered', 'delivered', 'sent']) {
      const res = await callback(report(sid, status))
      expect(res.status).toBe(204)
    }
    const done = await message(id)
    expect(done.status).toBe('delivered')
    expect(done.events.map((e) => e.status)).toEqual(['queued', 'sending', 'sent', 'delivered'])
    expect(done.events.at(-1)!.provider_message_id).toBe(sid)
  })

  test('undelivered with 30003 (phone off) fails the message with the code; the number stays sendable', async () => {
    await gw.startEngine()
    const id = await send()
    const sid = (await settled(id)).provider_message_id!
    expect((await callback(report(sid, 'undelivered', { ErrorCode: '30003' }))).status).toBe(204)
    const done = await message(id)
    expect(done).toMatchObject({ status: 'failed', error: { code: '30003' } })
    expect(done.error!.message).toBe('Twilio reports the message undelivered (error 30003): unreachable destination handset')
    expect(done.events.at(-1)).toMatchObject({ status: 'failed', error: { code: '30003', class: 'permanent' } })
    expect((await settled(await send())).status).toBe('sent')
  })

  test('failed with 30005 (unknown number) suppresses the recipient: the next send fails before Twilio', async () => {
    await gw.startEngine()
    const id = await send()
    const sid = (await settled(id)).provider_message_id!
    expect((await callback(report(sid, 'failed', { ErrorCode: '30005' }))).status).toBe(204)
    expect(await message(id)).toMatchObject({ status: 'failed', error: { code: '30005' } })
    const suppressed = (await (await gw.call('GET', '/v1/namespaces/acme/suppressions', ns.key)).json()) as { data: any[] }
    expect(suppressed.data).toEqual([expect.objectContaining({ recipient: ALICE, reason: 'bounce' })])
    expect(await settled(await send())).toMatchObject({ status: 'failed', error: { code: 'recipient_suppressed' } })
    expect(fake.created).toHaveLength(1)
  })

  test('a report with a bad signature is refused and changes nothing', async () => {
    await gw.startEngine()
    const id = await send()
    const sid = (await settled(id)).provider_message_id!
    const res = await callback(report(sid, 'delivered'), 'f'.repeat(32))
    expect(res.status).toBe(403)
    expect((await message(id)).status).toBe('sent')
  })
})

describe('health (POST …/channels/sms/test)', () => {
  const check = async () => (await (await gw.call('POST', `${CHANNELS}/sms/test`, ns.key)).json()) as { ok: boolean; detail: string }

  test('ok for an active account, with the account request authenticated', async () => {
    await setUp({ account: { friendly_name: 'Acme Ops', type: 'Trial' } })
    expect(await check()).toEqual({ ok: true, detail: `account "Acme Ops" (${ACCOUNT_SID}) is active; trial account: it can only send to verified numbers` })
    expect(fake.received[0]).toMatchObject({ method: 'GET', path: `/2010-04-01/Accounts/${ACCOUNT_SID}.json` })
  })

  test('wrong credentials: authentication failed (20003)', async () => {
    await setUp({ authToken: 'the-real-token-differs' })
    expect(await check()).toEqual({ ok: false, detail: 'authentication failed (20003): check account_sid and auth_token' })
  })

  test('a suspended account is not ok', async () => {
    await setUp({ account: { status: 'suspended' } })
    expect(await check()).toMatchObject({ ok: false, detail: expect.stringContaining('is suspended') })
  })
})
