/**
 * The portal's channel pages over HTTP: the form generated from each connector's schema (a bad
 * field named next to it, secrets never sent back, a blank secret kept on edit), test, pause,
 * delete, terminals — and the same scope and tenancy rules as the API (a viewer's hand-made
 * POST is refused and changes nothing; another namespace's channel is not found).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { generateKeyPairSync } from 'node:crypto'
import { and, eq } from 'drizzle-orm'
import { getChannel, openChannelConfig } from '../../src/domain/channels'
import { setPasswordHashCost } from '../../src/domain/identity/users'
import { sendMessage } from '../../src/domain/messages/send'
import { auditLog, channels, terminals } from '../../src/store/schema'
import { startTestGateway } from '../helpers/gateway'
import { fieldError, makeMember, signedInClient } from './portal-client'

// Cheap argon2 in tests: the cost is not what is under test.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const gw = await startTestGateway()
afterAll(() => gw.close())
const acme = await gw.tenant('acme')
const other = await gw.tenant('other')
const foreignChannel = await gw.channel(other.namespaceId, 'theirs')

const person = (email: string, role: 'viewer' | 'developer') => makeMember(gw.deps, acme.namespaceId, email, role)
const client = (email: string) => signedInClient(gw, email, '/portal/ns/acme/channels')

const channelRow = async (name: string) => (await gw.deps.store.read.select().from(channels).where(and(eq(channels.namespaceId, acme.namespaceId), eq(channels.name, name))))[0]
const storedConfig = async (name: string) => openChannelConfig(gw.deps, (await channelRow(name))!)

await person('dev@example.com', 'developer')
await person('viewer@example.com', 'viewer')
const dev = await client('dev@example.com')
const viewer = await client('viewer@example.com')

const INBOUND_SECRET = 'inbound-secret-0123456789'

describe('the list', () => {
  test('is empty at first and says what to do; a viewer is not offered to add one', async () => {
    const page = await dev.get('/portal/ns/acme/channels')
    expect(page.status).toBe(200)
    expect(page.html).toContain('No channels yet')
    expect(page.html).toContain('href="/portal/ns/acme/channels/new"')
    const seen = await viewer.get('/portal/ns/acme/channels')
    expect(seen.html).toContain('No channels yet')
    expect(seen.html).not.toContain('/channels/new')
  })
})

describe('creating from the generated form', () => {
  test('the form of a type has a labelled field per config key; secrets are password inputs', async () => {
    const chooser = await dev.get('/portal/ns/acme/channels/new')
    for (const type of ['sandbox', 'http', 'smtp', 'twilio-sms', 'telegram', 'webpush', 'slack', 'discord', 'whatsapp-cloud']) expect(chooser.html).toContain(`<option value="${type}"`)
    const http = await dev.get('/portal/ns/acme/channels/new?type=http')
    expect(http.html).toContain('<label for="config.url">URL</label>')
    expect(http.html).toMatch(/<input id="config.inbound_secret" name="config.inbound_secret" type="password"/)
    expect(http.html).toMatch(/<input id="config.timeout_ms" name="config.timeout_ms" type="number" value="10000"/)
    expect(http.html).toContain('<label for="config.headers">Headers</label>')
    const twilio = await dev.get('/portal/ns/acme/channels/new?type=twilio-sms')
    expect(twilio.html).toMatch(/name="config.auth_token" type="password"/)
    expect(twilio.html).toContain('<label for="config.account_sid">Account SID</label>')
    const unknown = await dev.get('/portal/ns/acme/channels/new?type=carrier-pigeon')
    expect(unknown.status).toBe(422)
    expect(fieldError(unknown.html, 'type')).toContain('unknown channel type')
  })

  test('a bad field is named next to it; the typed secret is not sent back and nothing is stored', async () => {
    const page = await dev.post('/portal/ns/acme/channels', { type: 'http', name: 'hooks', 'config.url': 'not a url', 'config.timeout_ms': 'soon', 'config.inbound_secret': INBOUND_SECRET })
    expect(page.status).toBe(422)
    expect(fieldError(page.html, 'config.timeout_ms')).toBe('must be a number')
    expect(page.html).toContain('value="hooks"')
    expect(page.html).not.toContain(INBOUND_SECRET)
    const domainError = await dev.post('/portal/ns/acme/channels', { type: 'http', name: 'hooks', 'config.url': 'ftp://example.com/x', 'config.timeout_ms': '5' })
    expect(domainError.status).toBe(422)
    expect(fieldError(domainError.html, 'config.url')).toBeTruthy()
    expect(fieldError(domainError.html, 'config.timeout_ms')).toBeTruthy()
    const badName = await dev.post('/portal/ns/acme/channels', { type: 'sandbox', name: 'Not A Slug' })
    expect(fieldError(badName.html, 'name')).toContain('lowercase')
    const badLimit = await dev.post('/portal/ns/acme/channels', { type: 'sandbox', name: 'limited', rate_limit: '0' })
    expect(badLimit.status).toBe(422)
    expect(fieldError(badLimit.html, 'rate_limit')).toBeTruthy()
    expect(await channelRow('hooks')).toBeUndefined()
    expect(await channelRow('limited')).toBeUndefined()
  })

  test('a good form creates the channel; its page shows the callback URL and never the secret', async () => {
    const created = await dev.post('/portal/ns/acme/channels', { type: 'http', name: 'hooks', 'config.url': 'http://127.0.0.1:9/hook', 'config.headers': '{"X-Token": "header-secret-value"}', 'config.timeout_ms': '3000', 'config.inbound_secret': INBOUND_SECRET, rate_limit: '5' })
    expect(created.status).toBe(303)
    const row = (await channelRow('hooks'))!
    expect(created.location).toBe(`/portal/ns/acme/channels/${row.id}?notice=created`)
    expect(row.rateLimit).toBe(5)
    expect(await storedConfig('hooks')).toEqual({ url: 'http://127.0.0.1:9/hook', headers: { 'X-Token': 'header-secret-value' }, timeout_ms: 3000, inbound_secret: INBOUND_SECRET })
    const page = await dev.get(created.location!)
    expect(page.html).toContain('The channel is created')
    expect(page.html).toContain(`<code id="inbound-url">${gw.deps.publicUrl}/inbound/${row.id}</code>`)
    expect(page.html).toContain('data-copy="inbound-url"')
    for (const secret of [INBOUND_SECRET, 'header-secret-value', '/hook']) expect(page.html).not.toContain(secret)
    const audit = await gw.deps.store.read.select().from(auditLog).where(eq(auditLog.namespaceId, acme.namespaceId))
    expect(audit.some((a) => a.action === 'POST /portal/ns/{ns}/channels' && a.resourceId === row.id)).toBe(true)
  })
})

describe('editing', () => {
  test('the edit form shows no secret or URL; blank keeps them, the other fields change', async () => {
    const id = (await channelRow('hooks'))!.id
    const form = await dev.get(`/portal/ns/acme/channels/${id}/edit`)
    expect(form.status).toBe(200)
    for (const secret of [INBOUND_SECRET, 'header-secret-value', '127.0.0.1:9/hook']) expect(form.html).not.toContain(secret)
    expect(form.html).toContain('value="3000"')
    expect(form.html).toContain('leave blank to keep it')
    const saved = await dev.post(`/portal/ns/acme/channels/${id}/edit`, { 'config.url': '', 'config.timeout_ms': '4000', 'config.inbound_secret': '', 'config.headers': '', rate_limit: '' })
    expect(saved.status).toBe(303)
    expect(saved.location).toBe(`/portal/ns/acme/channels/${id}?notice=saved`)
    expect(await storedConfig('hooks')).toEqual({ url: 'http://127.0.0.1:9/hook', headers: { 'X-Token': 'header-secret-value' }, timeout_ms: 4000, inbound_secret: INBOUND_SECRET })
    expect((await channelRow('hooks'))!.rateLimit).toBeNull()
  })

  test('a new secret replaces the old; "remove" drops an optional one; a bad value is named and changes nothing', async () => {
    const id = (await channelRow('hooks'))!.id
    const bad = await dev.post(`/portal/ns/acme/channels/${id}/edit`, { 'config.timeout_ms': '4000', 'config.inbound_secret': 'short' })
    expect(bad.status).toBe(422)
    expect(fieldError(bad.html, 'config.inbound_secret')).toContain('16')
    expect(bad.html).not.toContain('value="short"')
    expect((await storedConfig('hooks')).inbound_secret).toBe(INBOUND_SECRET)
    await dev.post(`/portal/ns/acme/channels/${id}/edit`, { 'config.timeout_ms': '4000', 'config.inbound_secret': 'a-brand-new-inbound-secret' })
    expect((await storedConfig('hooks')).inbound_secret).toBe('a-brand-new-inbound-secret')
    await dev.post(`/portal/ns/acme/channels/${id}/edit`, { 'config.timeout_ms': '4000', 'clear:config.inbound_secret': 'on' })
    const config = await storedConfig('hooks')
    expect(config.inbound_secret).toBeUndefined()
    expect(config.headers).toEqual({ 'X-Token': 'header-secret-value' })
  })

  test('a required secret left blank on edit is kept (twilio auth token, smtp password); unticked boxes are false', async () => {
    const sid = `AC${'0'.repeat(32)}`
    const created = await dev.post('/portal/ns/acme/channels', { type: 'twilio-sms', name: 'sms', 'config.account_sid': sid, 'config.auth_token': 'twilio-token-secret', 'config.base_url': 'http://127.0.0.1:9' })
    expect(created.status).toBe(303)
    const id = (await channelRow('sms'))!.id
    expect((await dev.get(`/portal/ns/acme/channels/${id}/edit`)).html).not.toContain('twilio-token-secret')
    expect((await dev.post(`/portal/ns/acme/channels/${id}/edit`, { 'config.account_sid': `AC${'1'.repeat(32)}`, 'config.auth_token': '', 'config.base_url': '' })).status).toBe(303)
    expect(await storedConfig('sms')).toEqual({ account_sid: `AC${'1'.repeat(32)}`, auth_token: 'twilio-token-secret', base_url: 'http://127.0.0.1:9' })

    const smtp = await dev.post('/portal/ns/acme/channels', { type: 'smtp', name: 'mail', 'config.host': '127.0.0.1', 'config.port': '2525', 'config.username': 'relay', 'config.password': 'smtp-password', 'config.pool': 'on', 'config.headers': '{}' })
    expect(smtp.status).toBe(303)
    const mailId = (await channelRow('mail'))!.id
    const edit = await dev.get(`/portal/ns/acme/channels/${mailId}/edit`)
    expect(edit.html).toContain('value="2525"')
    expect(edit.html).toContain('value="relay"')
    expect(edit.html).not.toContain('smtp-password')
    // Unticked boxes are false; the password stays.
    await dev.post(`/portal/ns/acme/channels/${mailId}/edit`, { 'config.host': '127.0.0.1', 'config.port': '2526', 'config.username': 'relay', 'config.password': '', 'config.headers': '{}' })
    const config = await storedConfig('mail')
    expect(config).toMatchObject({ host: '127.0.0.1', port: 2526, username: 'relay', password: 'smtp-password', pool: false, secure: false })
    expect(config.dkim).toBeUndefined()
  })
  test('a nested group (smtp DKIM): a partial one names the missing fields; blank keeps it on edit; "remove" drops it', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const partial = await dev.post('/portal/ns/acme/channels', { type: 'smtp', name: 'signed', 'config.host': '127.0.0.1', 'config.dkim.domain_name': 'example.com' })
    expect(partial.status).toBe(422)
    expect(fieldError(partial.html, 'config.dkim.key_selector')).toBeTruthy()
    expect(fieldError(partial.html, 'config.dkim.private_key')).toBeTruthy()
    expect(await channelRow('signed')).toBeUndefined()
    const dkim = { 'config.dkim.domain_name': 'example.com', 'config.dkim.key_selector': 'mail', 'config.dkim.private_key': pem }
    expect((await dev.post('/portal/ns/acme/channels', { type: 'smtp', name: 'signed', 'config.host': '127.0.0.1', ...dkim })).status).toBe(303)
    expect((await storedConfig('signed')).dkim).toEqual({ domain_name: 'example.com', key_selector: 'mail', private_key: pem })
    const id = (await channelRow('signed'))!.id
    const edit = await dev.get(`/portal/ns/acme/channels/${id}/edit`)
    expect(edit.html).not.toContain('PRIVATE KEY')
    expect(edit.html).toContain('Remove the stored DKIM')
    await dev.post(`/portal/ns/acme/channels/${id}/edit`, { 'config.host': '127.0.0.2' })
    expect(await storedConfig('signed')).toMatchObject({ host: '127.0.0.2', dkim: { domain_name: 'example.com', key_selector: 'mail', private_key: pem } })
    // One field typed: the others of the group are kept.
    await dev.post(`/portal/ns/acme/channels/${id}/edit`, { 'config.host': '127.0.0.2', 'config.dkim.key_selector': 'mail2' })
    expect((await storedConfig('signed')).dkim).toEqual({ domain_name: 'example.com', key_selector: 'mail2', private_key: pem })
    await dev.post(`/portal/ns/acme/channels/${id}/edit`, { 'config.host': '127.0.0.2', 'clear:config.dkim': 'on' })
    expect((await storedConfig('signed')).dkim).toBeUndefined()
  })
})

describe('actions', () => {
  test('test credentials shows the connector health result on the page', async () => {
    await gw.channel(acme.namespaceId, 'sandbox')
    const id = (await channelRow('sandbox'))!.id
    const page = await dev.post(`/portal/ns/acme/channels/${id}/test`, {})
    expect(page.status).toBe(200)
    expect(page.html).toContain('id="test-result"')
    expect(page.html).toContain('The credentials work')
  })

  test('pause and resume change the status; delete refuses a channel with messages and removes one without', async () => {
    const id = (await channelRow('sandbox'))!.id
    expect((await dev.post(`/portal/ns/acme/channels/${id}/pause`, {})).location).toBe(`/portal/ns/acme/channels/${id}?notice=paused`)
    expect((await channelRow('sandbox'))!.status).toBe('paused')
    expect((await dev.get(`/portal/ns/acme/channels/${id}`)).html).toContain('>Resume</button>')
    await dev.post(`/portal/ns/acme/channels/${id}/resume`, {})
    expect((await channelRow('sandbox'))!.status).toBe('active')

    await sendMessage(gw.deps, acme.namespaceId, { channel: 'sandbox', to: 'a@example.com', content: { text: 'hi' } })
    const refused = await dev.post(`/portal/ns/acme/channels/${id}/delete`, {})
    expect(refused.status).toBe(409)
    expect(refused.html).toContain('pause it instead')
    expect(await channelRow('sandbox')).toBeDefined()
    const smsId = (await channelRow('sms'))!.id
    const deleted = await dev.post(`/portal/ns/acme/channels/${smsId}/delete`, {})
    expect(deleted.location).toBe('/portal/ns/acme/channels?notice=deleted')
    expect(await channelRow('sms')).toBeUndefined()
  })

  test('the list shows each channel with type, status and health', async () => {
    const page = await viewer.get('/portal/ns/acme/channels')
    expect(page.html).toContain('>hooks</a>')
    expect(page.html).toContain('Success (last hour)')
    expect(page.html).toContain('status-active')
    expect(page.html).not.toContain('No channels yet')
  })
})

describe('terminals', () => {
  test('add (a bad or duplicate address named), rename, make default, remove', async () => {
    const id = (await channelRow('hooks'))!.id
    const empty = await dev.post(`/portal/ns/acme/channels/${id}/terminals`, { address: ' ' })
    expect(empty.status).toBe(422)
    expect(fieldError(empty.html, 'address')).toBeTruthy()
    expect((await dev.post(`/portal/ns/acme/channels/${id}/terminals`, { address: 'bot-1', name: 'First' })).location).toBe(`/portal/ns/acme/channels/${id}?notice=terminal-added#terminals`)
    await dev.post(`/portal/ns/acme/channels/${id}/terminals`, { address: 'bot-2' })
    const duplicate = await dev.post(`/portal/ns/acme/channels/${id}/terminals`, { address: 'bot-1' })
    expect(duplicate.status).toBe(409)
    expect(duplicate.html).toContain('already exists')
    const rows = async () => gw.deps.store.read.select().from(terminals).where(eq(terminals.channelId, id))
    const [first, second] = (await rows()).sort((a, b) => a.address.localeCompare(b.address))
    expect(first!.isDefault).toBe(true)
    await dev.post(`/portal/ns/acme/channels/${id}/terminals/${second!.id}/default`, {})
    expect((await rows()).find((t) => t.isDefault)?.address).toBe('bot-2')
    expect((await dev.get(`/portal/ns/acme/channels/${id}/terminals/${first!.id}/edit`)).html).toContain('value="First"')
    await dev.post(`/portal/ns/acme/channels/${id}/terminals/${first!.id}/edit`, { name: 'Renamed' })
    expect((await rows()).find((t) => t.id === first!.id)?.name).toBe('Renamed')
    await dev.post(`/portal/ns/acme/channels/${id}/terminals/${first!.id}/delete`, {})
    expect((await rows()).map((t) => t.address)).toEqual(['bot-2'])
    expect((await dev.get(`/portal/ns/acme/channels/${id}`)).html).toContain('bot-2')
  })
})

describe('who may do what', () => {
  test('a viewer sees no controls, and every hand-made POST is refused (403) and changes nothing', async () => {
    const row = (await channelRow('hooks'))!
    const page = await viewer.get(`/portal/ns/acme/channels/${row.id}`)
    expect(page.status).toBe(200)
    for (const control of ['>Edit</a>', 'Test credentials', '>Pause</button>', '>Delete</button>', 'Add terminal', 'Make default']) expect(page.html).not.toContain(control)
    expect((await viewer.get('/portal/ns/acme/channels/new?type=http')).status).toBe(403)
    expect((await viewer.get(`/portal/ns/acme/channels/${row.id}/edit`)).status).toBe(403)
    const [terminal] = await gw.deps.store.read.select().from(terminals).where(eq(terminals.channelId, row.id))
    const posts: [string, Record<string, string>][] = [
      ['/portal/ns/acme/channels', { type: 'sandbox', name: 'sneaky' }],
      [`/portal/ns/acme/channels/${row.id}/edit`, { 'config.timeout_ms': '100' }],
      [`/portal/ns/acme/channels/${row.id}/pause`, {}],
      [`/portal/ns/acme/channels/${row.id}/test`, {}],
      [`/portal/ns/acme/channels/${row.id}/delete`, {}],
      [`/portal/ns/acme/channels/${row.id}/terminals`, { address: 'bot-9' }],
      [`/portal/ns/acme/channels/${row.id}/terminals/${terminal!.id}/delete`, {}],
    ]
    for (const [path, fields] of posts) {
      const res = await viewer.post(path, fields)
      expect(res.status, path).toBe(403)
      // Refused for the role, not for the form's token (which would say "out of date").
      expect(res.html, path).toContain('channels:write')
    }
    expect(await channelRow('sneaky')).toBeUndefined()
    const after = (await channelRow('hooks'))!
    expect(after.status).toBe('active')
    expect(after.updatedAt).toBe(row.updatedAt)
    expect((await gw.deps.store.read.select().from(terminals).where(eq(terminals.channelId, row.id))).map((t) => t.address)).toEqual(['bot-2'])
  })

  test('a form without the CSRF token is refused', async () => {
    const res = await dev.post('/portal/ns/acme/channels', { type: 'sandbox', name: 'no-token' }, { token: null })
    expect(res.status).toBe(403)
    expect(await channelRow('no-token')).toBeUndefined()
  })

  test("another namespace's channel id is not found, for every page and action", async () => {
    for (const path of [`/portal/ns/acme/channels/${foreignChannel}`, `/portal/ns/acme/channels/${foreignChannel}/edit`]) {
      const page = await dev.get(path)
      expect(page.status, path).toBe(404)
      expect(page.html).not.toContain('theirs')
    }
    for (const action of ['pause', 'test', 'delete', 'edit', 'terminals']) {
      expect((await dev.post(`/portal/ns/acme/channels/${foreignChannel}/${action}`, { address: 'x' })).status, action).toBe(404)
    }
    const theirs = await getChannel(gw.deps, other.namespaceId, foreignChannel)
    expect(theirs.status).toBe('active')
    // Nor can a member of acme open the other namespace itself.
    expect((await dev.get(`/portal/ns/other/channels/${foreignChannel}`)).status).toBe(404)
  })
})
