/**
 * /v1/namespaces/{ns}/channels and their terminals (issue #3): credentials validated by the
 * connector's schema, sealed at rest, masked in every answer; terminals as senders.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { channels, messages, terminals } from '../../src/store/schema'
import { startTestGateway, type TestGateway } from '../helpers/gateway'
import { expectProblem, fieldsOf, type Problem } from '../helpers/problems'



const CHANNELS = '/v1/namespaces/acme/channels'
const SECRET = 'Bearer s3cr3t-0f-the-receiver'
const OTHER_SECRET = 'k3y-that-must-stay-hidden'
const RECEIVER = 'http://127.0.0.1:9/inbox'
const httpChannel = { name: 'hooks', type: 'http', config: { url: RECEIVER, headers: { authorization: SECRET, 'x-api-key': OTHER_SECRET } } }

type ChannelBody = { id: string; name: string; type: string; status: string; config: Record<string, any>; [field: string]: unknown }

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>

async function start(overrides: Record<string, any> = {}) {
  gw = await startTestGateway(overrides)
  acme = await gw.tenant('acme')
}

const call = (method: string, path: string, body?: unknown) => gw.call(method, `${CHANNELS}${path}`, acme.key, body)
const create = (body: unknown) => call('POST', '', body)
const storedChannels = () => gw.deps.store.read.select().from(channels).where(eq(channels.namespaceId, acme.namespaceId))

afterEach(() => gw.close())

describe('creating channels', () => {
  beforeEach(() => start())

  test('a sandbox channel: 201 with its view', async () => {
    const res = await create({ name: 'sandbox', type: 'sandbox' })
    expect(res.status).toBe(201)
    const body = (await res.json()) as ChannelBody
    expect(body).toEqual({
      id: expect.stringMatching(/^ch_[0-9a-f]{32}$/),
      name: 'sandbox',
      type: 'sandbox',
      status: 'active',
      config: {},
      capabilities: ['send', 'health'],
      inbound_url: null,
      max_attempts: null,
      max_age_seconds: null,
      rate_limit: null,
      health: { success_rate_1h: null, last_error: null },
      created_at: expect.any(String),
      updated_at: expect.any(String),
    })
    const [row] = await storedChannels()
    expect(row).toMatchObject({ id: body.id, name: 'sandbox', type: 'sandbox', status: 'active' })
  })

  test('an http channel: 201, defaults filled in, limits kept', async () => {
    const res = await create({ ...httpChannel, status: 'paused', max_attempts: 3, max_age_seconds: 600 })
    expect(res.status).toBe(201)
    const body = (await res.json()) as ChannelBody
    expect(body).toMatchObject({ name: 'hooks', type: 'http', status: 'paused', max_attempts: 3, max_age_seconds: 600 })
    // Paths of webhook URLs often carry tokens: only the origin is shown back.
    expect(body.config.url).toBe('http://127.0.0.1:9/…')
    expect(body.config.timeout_ms).toBe(10_000)
  })

  test('a channel can be sent through as soon as it is created, even right after a failed send', async () => {
    const hello = { channel: 'fresh', to: 'alice', content: { text: 'hi' } }
    const before = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, hello)
    expect(fieldsOf(await expectProblem(before, 422, 'validation_failed'))).toEqual(['channel'])
    expect((await create({ name: 'fresh', type: 'sandbox' })).status).toBe(201)
    expect((await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, hello)).status).toBe(202)
  })

  test('a duplicate name is 409 and the first channel is untouched', async () => {
    expect((await create({ name: 'alerts', type: 'sandbox' })).status).toBe(201)
    await expectProblem(await create({ ...httpChannel, name: 'alerts' }), 409, 'conflict')
    const rows = await storedChannels()
    expect(rows.map((r) => [r.name, r.type])).toEqual([['alerts', 'sandbox']])
  })

  test('the same name in another namespace is fine', async () => {
    const umbrella = await gw.tenant('umbrella')
    expect((await create({ name: 'alerts', type: 'sandbox' })).status).toBe(201)
    expect((await gw.call('POST', '/v1/namespaces/umbrella/channels', umbrella.key, { name: 'alerts', type: 'sandbox' })).status).toBe(201)
  })

  const invalid: { name: string; body: unknown; fields: string[] }[] = [
    { name: 'an unknown type', body: { name: 'x', type: 'carrier-pigeon' }, fields: ['type'] },
    { name: 'http without config.url', body: { name: 'x', type: 'http', config: {} }, fields: ['config.url'] },
    { name: 'http with an ftp URL', body: { name: 'x', type: 'http', config: { url: 'ftp://files.example.com/in' } }, fields: ['config.url'] },
    { name: 'http with something that is no URL', body: { name: 'x', type: 'http', config: { url: 'not a url' } }, fields: ['config.url'] },
    { name: 'http with credentials in the URL', body: { name: 'x', type: 'http', config: { url: 'https://user:pw@example.com/' } }, fields: ['config.url'] },
    { name: 'an unknown field in http config', body: { name: 'x', type: 'http', config: { url: RECEIVER, verb: 'PUT' } }, fields: ['config.verb'] },
    { name: 'an unknown field in sandbox config', body: { name: 'x', type: 'sandbox', config: { token: 'abc' } }, fields: ['config.token'] },
    { name: 'an unknown top-level field', body: { name: 'x', type: 'sandbox', region: 'eu' }, fields: ['region'] },
    { name: 'a missing name', body: { type: 'sandbox' }, fields: ['name'] },
    { name: 'a name that is not a slug', body: { name: 'My Channel', type: 'sandbox' }, fields: ['name'] },
    { name: 'a status the API does not set', body: { name: 'x', type: 'sandbox', status: 'failing' }, fields: ['status'] },
    { name: 'max_attempts of zero', body: { name: 'x', type: 'sandbox', max_attempts: 0 }, fields: ['max_attempts'] },
    { name: 'a timeout out of range', body: { name: 'x', type: 'http', config: { url: RECEIVER, timeout_ms: 5 } }, fields: ['config.timeout_ms'] },
  ]
  for (const { name, body, fields } of invalid) {
    test(`422 for ${name}, naming the field, nothing stored`, async () => {
      expect(fieldsOf(await expectProblem(await create(body), 422, 'validation_failed'))).toEqual(fields)
      expect(await storedChannels()).toEqual([])
    })
  }

  test('a header value with a line break is refused without echoing the secret', async () => {
    const res = await create({ name: 'x', type: 'http', config: { url: RECEIVER, headers: { authorization: `${SECRET}\r\nx-evil: 1` } } })
    const text = await res.clone().text()
    expect(fieldsOf(await expectProblem(res, 422, 'validation_failed'))).toEqual(['config.headers.authorization'])
    expect(text).not.toContain(SECRET)
  })

  test('malformed JSON is 400', async () => {
    await expectProblem(await create('{"name": '), 400, 'malformed_json')
  })
})

describe('private addresses when security.allow_private_network is false', () => {
  beforeEach(() => start({ security: { allow_private_network: false } }))

  test('an http channel to a loopback, private or link-local address is refused on config.url', async () => {
    for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost/hook', 'http://192.168.1.10/hook', 'http://169.254.169.254/', 'http://[::1]/']) {
      const problem = await expectProblem(await create({ name: 'x', type: 'http', config: { url } }), 422, 'validation_failed')
      expect(fieldsOf(problem)).toEqual(['config.url'])
    }
    expect(await storedChannels()).toEqual([])
  })

  test('a public address is accepted, and a patch to a private one is refused', async () => {
    expect((await create({ name: 'x', type: 'http', config: { url: 'https://93.184.215.14/hook' } })).status).toBe(201)
    const problem = await expectProblem(await call('PATCH', '/x', { config: { url: 'http://10.1.2.3/hook' } }), 422, 'validation_failed')
    expect(fieldsOf(problem)).toEqual(['config.url'])
    const view = (await (await call('GET', '/x')).json()) as ChannelBody
    expect(view.config.url).toBe('https://93.184.215.14/…')
  })
})

describe('secrets', () => {
  beforeEach(() => start())

  test('header values are masked in create, list, show and patch answers; the secret never appears', async () => {
    const created = await create(httpChannel)
    expect(created.status).toBe(201)
    const answers = [
      await created.text(),
      await (await call('GET', '')).text(),
      await (await call('GET', '/hooks')).text(),
      await (await call('PATCH', '/hooks', { status: 'paused' })).text(),
    ]
    for (const text of answers) {
      expect(text).not.toContain(SECRET)
      expect(text).not.toContain(OTHER_SECRET)
      expect(text).not.toContain('s3cr3t')
      // The header names stay visible, so an operator can see what is configured.
      expect(text).toContain('authorization')
      expect(text).toContain('x-api-key')
    }
    const shown = JSON.parse(answers[2]!) as ChannelBody
    expect(shown.config.url).toBe('http://127.0.0.1:9/…')
    expect(shown.config.headers.authorization).toStartWith('••••')
  })

  test('a config replaced by PATCH is masked too', async () => {
    await create(httpChannel)
    const res = await call('PATCH', '/hooks', { config: { url: RECEIVER, headers: { authorization: 'Bearer brand-new-secret' } } })
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(text).not.toContain('brand-new-secret')
    expect(text).not.toContain('x-api-key')
  })

  test('the config is stored sealed: the raw column holds neither the secret nor the URL, yet opens to the config', async () => {
    const { id } = (await (await create(httpChannel)).json()) as ChannelBody
    const [row] = await storedChannels()
    expect(row!.configEnc).not.toContain(SECRET)
    expect(row!.configEnc).not.toContain(OTHER_SECRET)
    expect(row!.configEnc).not.toContain('127.0.0.1')
    expect(row!.configEnc).not.toContain(Buffer.from(SECRET).toString('base64'))
    expect(gw.deps.box.openJson(row!.configEnc, id)).toEqual({ ...httpChannel.config, timeout_ms: 10_000 })
  })
})

describe('reading, updating and deleting', () => {
  beforeEach(() => start())

  test('list is newest first in the list envelope; show finds a channel by id or by name', async () => {
    const a = (await (await create({ name: 'first', type: 'sandbox' })).json()) as ChannelBody
    const b = (await (await create({ name: 'second', type: 'sandbox' })).json()) as ChannelBody
    const list = (await (await call('GET', '')).json()) as { data: ChannelBody[]; next_cursor: null }
    expect(list.data.map((c) => c.id)).toEqual([b.id, a.id])
    expect(list.next_cursor).toBeNull()
    expect(((await (await call('GET', `/${a.id}`)).json()) as ChannelBody).name).toBe('first')
    expect(((await (await call('GET', '/second')).json()) as ChannelBody).id).toBe(b.id)
    await expectProblem(await call('GET', '/third'), 404, 'channel_not_found')
  })

  test('PATCH status paused answers and stores paused; limits can be set and cleared', async () => {
    await create({ name: 'alerts', type: 'sandbox' })
    const res = await call('PATCH', '/alerts', { status: 'paused', max_attempts: 2 })
    expect(res.status).toBe(200)
    expect((await res.json()) as ChannelBody).toMatchObject({ status: 'paused', max_attempts: 2 })
    expect((await storedChannels())[0]).toMatchObject({ status: 'paused', maxAttempts: 2 })

    const cleared = (await (await call('PATCH', '/alerts', { status: 'active', max_attempts: null })).json()) as ChannelBody
    expect(cleared).toMatchObject({ status: 'active', max_attempts: null })
  })

  test('PATCH refuses what cannot change and unknown fields', async () => {
    await create({ name: 'alerts', type: 'sandbox' })
    const bad = async (body: unknown, fields: string[]) =>
      expect(fieldsOf(await expectProblem(await call('PATCH', '/alerts', body), 422, 'validation_failed'))).toEqual(fields)
    await bad({ name: 'renamed' }, ['name'])
    await bad({ type: 'http' }, ['type'])
    await bad({ status: 'failing' }, ['status'])
    await bad({ colour: 'red' }, ['colour'])
    await bad({ config: { token: 'x' } }, ['config.token'])
    expect((await storedChannels())[0]).toMatchObject({ name: 'alerts', type: 'sandbox', status: 'active' })
    await expectProblem(await call('PATCH', '/nope', { status: 'paused' }), 404, 'channel_not_found')
  })

  test('PATCH an http config is validated by the connector schema', async () => {
    await create(httpChannel)
    expect(fieldsOf(await expectProblem(await call('PATCH', '/hooks', { config: { headers: {} } }), 422, 'validation_failed'))).toEqual([
      'config.url',
    ])
    const res = await call('PATCH', '/hooks', { config: { url: 'https://example.com/new' } })
    expect(res.status).toBe(200)
    expect(((await res.json()) as ChannelBody).config).toEqual({ url: 'https://example.com/…', headers: {}, timeout_ms: 10_000 })
  })

  test('deleting an unused channel is 204 and takes its terminals with it', async () => {
    await create({ name: 'alerts', type: 'sandbox' })
    expect((await call('POST', '/alerts/terminals', { address: 'bot-1' })).status).toBe(201)
    const res = await call('DELETE', '/alerts')
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    expect(await storedChannels()).toEqual([])
    expect(await gw.deps.store.read.select().from(terminals)).toEqual([])
    await expectProblem(await call('GET', '/alerts'), 404, 'channel_not_found')
    await expectProblem(await call('DELETE', '/alerts'), 404, 'channel_not_found')
  })

  test('deleting a channel that carried messages is 409; the channel stays', async () => {
    await create({ name: 'alerts', type: 'sandbox' })
    const sent = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'alerts', to: 'a', content: { text: 'x' } })
    expect(sent.status).toBe(202)
    await expectProblem(await call('DELETE', '/alerts'), 409, 'conflict')
    expect(await storedChannels()).toHaveLength(1)
  })

  test('the test endpoint runs the connector health check', async () => {
    await create({ name: 'alerts', type: 'sandbox' })
    const res = await call('POST', '/alerts/test')
    expect(res.status).toBe(200)
    expect(((await res.json()) as { ok: boolean }).ok).toBe(true)
  })

  test("another namespace's channel is 404 by id, and is left as it was", async () => {
    const umbrella = await gw.tenant('umbrella')
    const theirs = await gw.channel(umbrella.namespaceId, 'private')
    await expectProblem(await call('GET', `/${theirs}`), 404, 'channel_not_found')
    await expectProblem(await call('PATCH', `/${theirs}`, { status: 'paused' }), 404, 'channel_not_found')
    await expectProblem(await call('DELETE', `/${theirs}`), 404, 'channel_not_found')
    await expectProblem(await call('GET', `/${theirs}/terminals`), 404, 'channel_not_found')
    await expectProblem(await call('POST', `/${theirs}/terminals`, { address: 'x' }), 404, 'channel_not_found')
    expect((await (await call('GET', '')).json()) as unknown).toEqual({ data: [], next_cursor: null })
    const [row] = await gw.deps.store.read.select().from(channels).where(eq(channels.id, theirs))
    expect(row!.status).toBe('active')
  })
})

describe('terminals', () => {
  beforeEach(async () => {
    await start()
    await create({ name: 'sms', type: 'sandbox' })
  })

  type TerminalBody = { id: string; channel_id: string; address: string; name: string; default: boolean }
  const addTerminal = async (body: unknown) => {
    const res = await call('POST', '/sms/terminals', body)
    expect(res.status).toBe(201)
    return (await res.json()) as TerminalBody
  }
  const listTerminals = async () => ((await (await call('GET', '/sms/terminals')).json()) as { data: TerminalBody[] }).data
  const sendFromSms = (extra: Record<string, unknown> = {}) =>
    gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'sms', to: '+15550001', content: { text: 'x' }, ...extra })
  const storedMessage = async (res: Response) => {
    expect(res.status).toBe(202)
    const { id } = (await res.json()) as { id: string }
    return (await gw.deps.store.read.select().from(messages).where(eq(messages.id, id)))[0]!
  }

  test('the first terminal is the default; a later one is not unless asked', async () => {
    const first = await addTerminal({ address: '+15551111', name: 'Main line' })
    expect(first).toMatchObject({ address: '+15551111', name: 'Main line', default: true, id: expect.stringMatching(/^term_/) })
    const second = await addTerminal({ address: '+15552222' })
    expect(second.default).toBe(false)
    expect(first.channel_id).toBe(second.channel_id)
    expect((await listTerminals()).map((t) => [t.address, t.default])).toEqual([
      ['+15551111', true],
      ['+15552222', false],
    ])
  })

  test('the default terminal is the sender when a message names no from; an explicit one wins', async () => {
    const main = await addTerminal({ address: '+15551111' })
    const backup = await addTerminal({ address: '+15552222' })
    expect(await storedMessage(await sendFromSms())).toMatchObject({ sender: '+15551111', terminalId: main.id })
    expect(await storedMessage(await sendFromSms({ from: '+15552222' }))).toMatchObject({ sender: '+15552222', terminalId: backup.id })
    expect(await storedMessage(await sendFromSms({ from: backup.id }))).toMatchObject({ sender: '+15552222', terminalId: backup.id })

    const { id } = (await (await sendFromSms()).json()) as { id: string }
    const view = (await (await gw.call('GET', `/v1/namespaces/acme/messages/${id}`, acme.key)).json()) as { from: string }
    expect(view.from).toBe('+15551111')
  })

  test('making another terminal the default moves the default, for the API and for sending', async () => {
    await addTerminal({ address: '+15551111' })
    const backup = await addTerminal({ address: '+15552222' })
    const res = await call('PATCH', '/sms/terminals/+15552222', { default: true, name: 'Backup' })
    expect(res.status).toBe(200)
    expect((await res.json()) as TerminalBody).toMatchObject({ id: backup.id, default: true, name: 'Backup' })
    expect((await listTerminals()).map((t) => [t.address, t.default])).toEqual([
      ['+15551111', false],
      ['+15552222', true],
    ])
    expect(await storedMessage(await sendFromSms())).toMatchObject({ sender: '+15552222' })
  })

  test('adding a terminal with default: true takes the default over', async () => {
    await addTerminal({ address: '+15551111' })
    await addTerminal({ address: '+15553333', default: true })
    expect((await listTerminals()).filter((t) => t.default).map((t) => t.address)).toEqual(['+15553333'])
  })

  test('a duplicate address is 409; bad bodies are 422 naming the field', async () => {
    await addTerminal({ address: '+15551111' })
    await expectProblem(await call('POST', '/sms/terminals', { address: '+15551111' }), 409, 'conflict')
    const bad = async (method: string, path: string, body: unknown, fields: string[]) =>
      expect(fieldsOf(await expectProblem(await call(method, path, body), 422, 'validation_failed'))).toEqual(fields)
    await bad('POST', '/sms/terminals', {}, ['address'])
    await bad('POST', '/sms/terminals', { address: '' }, ['address'])
    await bad('POST', '/sms/terminals', { address: '+1', label: 'x' }, ['label'])
    await bad('PATCH', '/sms/terminals/+15551111', { address: '+1999' }, ['address'])
    await bad('PATCH', '/sms/terminals/+15551111', { default: 'yes' }, ['default'])
    expect(await listTerminals()).toHaveLength(1)
  })

  test('deleting a terminal is 204; unknown terminals are 404; messages keep their sender', async () => {
    await addTerminal({ address: '+15551111' })
    const sent = await storedMessage(await sendFromSms())
    const res = await call('DELETE', '/sms/terminals/+15551111')
    expect(res.status).toBe(204)
    expect(await listTerminals()).toEqual([])
    await expectProblem(await call('DELETE', '/sms/terminals/+15551111'), 404, 'terminal_not_found')
    await expectProblem(await call('PATCH', '/sms/terminals/+15559999', { name: 'x' }), 404, 'terminal_not_found')
    const [after] = await gw.deps.store.read.select().from(messages).where(eq(messages.id, sent.id))
    expect(after).toMatchObject({ sender: '+15551111', terminalId: null })
    // With no terminals left, from is free again.
    expect(await storedMessage(await sendFromSms({ from: 'anyone' }))).toMatchObject({ sender: 'anyone', terminalId: null })
  })

  test("terminals of an unknown channel are 404 channel_not_found", async () => {
    await expectProblem(await call('GET', '/nope/terminals'), 404, 'channel_not_found')
    await expectProblem(await call('POST', '/nope/terminals', { address: 'x' }), 404, 'channel_not_found')
  })
})
