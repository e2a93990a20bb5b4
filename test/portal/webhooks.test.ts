/**
 * The portal's webhook pages over HTTP: create (the secret on the answer page only), edit the
 * filters and headers (sealed: never shown, blank keeps them), enable/disable, rotate, delete,
 * the delivery log with response codes and latency, retry and recover — with the API's scope
 * and tenancy rules (a viewer's hand-made POST is refused; another namespace's id is not found).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { setPasswordHashCost } from '../../src/domain/identity/users'
import { sendMessage } from '../../src/domain/messages/send'
import { createWebhook, openSecrets } from '../../src/domain/webhooks/endpoints'
import { webhookDeliveries, webhooks } from '../../src/store/schema'
import { startWebhookReceiver } from '../fakes/webhook-receiver'
import { eventually, startTestGateway } from '../helpers/gateway'
import { fieldError, makeMember, signedInClient } from './portal-client'

// Cheap argon2 in tests: the cost is not what is under test.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

// One attempt per delivery: a failing receiver dead-letters it at once.
const gw = await startTestGateway({ webhooks: { retry_schedule_ms: [0], timeout_ms: 1000 } })
const failing = startWebhookReceiver(() => new Response('receiver is down', { status: 500 }))
afterAll(async () => {
  await gw.close()
  await failing.stop()
})
const acme = await gw.tenant('acme')
const other = await gw.tenant('other')
const alertsId = await gw.channel(acme.namespaceId, 'alerts')
await gw.channel(acme.namespaceId, 'sandbox')
const theirChannel = await gw.channel(other.namespaceId, 'theirs')
const theirHook = (await createWebhook(gw.deps, other.namespaceId, { url: 'http://127.0.0.1:9/theirs' })).webhook.id

const person = (email: string, role: 'viewer' | 'developer') => makeMember(gw.deps, acme.namespaceId, email, role)
const client = (email: string) => signedInClient(gw, email, '/portal/ns/acme/webhooks')

const secretIn = (html: string) => /<code id="webhook-secret">(whsec_[^<]+)<\/code>/.exec(html)?.[1]
const hookRows = () => gw.deps.store.read.select().from(webhooks).where(eq(webhooks.namespaceId, acme.namespaceId))
const hookRow = async (id: string) => (await gw.deps.store.read.select().from(webhooks).where(eq(webhooks.id, id)))[0]
const deliveriesOf = (id: string) => gw.deps.store.read.select().from(webhookDeliveries).where(and(eq(webhookDeliveries.namespaceId, acme.namespaceId), eq(webhookDeliveries.webhookId, id)))

await person('dev@example.com', 'developer')
await person('viewer@example.com', 'viewer')
const dev = await client('dev@example.com')
const viewer = await client('viewer@example.com')
let hookId = ''
let firstSecret = ''

describe('creating', () => {
  test('the list is empty at first and says what to do; the form lists the event catalogue and the channels', async () => {
    const list = await dev.get('/portal/ns/acme/webhooks')
    expect(list.html).toContain('No webhooks yet')
    expect(list.html).toContain('href="/portal/ns/acme/webhooks/new"')
    expect((await viewer.get('/portal/ns/acme/webhooks')).html).not.toContain('/webhooks/new')
    const form = await dev.get('/portal/ns/acme/webhooks/new')
    for (const type of ['message.delivered', 'message.failed', 'channel.failing', 'webhook.disabled']) expect(form.html).toContain(`value="${type}"`)
    expect(form.html).toContain(`value="${alertsId}"`)
    expect(form.html).not.toContain(theirChannel)
  })

  test('bad fields are named next to them and nothing is stored', async () => {
    const bad = await dev.post('/portal/ns/acme/webhooks', { url: 'ftp://example.com/hook', headers: 'X-Api-Key: header-secret\nno colon here', rate_limit: 'lots' })
    expect(bad.status).toBe(422)
    expect(fieldError(bad.html, 'headers')).toContain('line 2')
    expect(fieldError(bad.html, 'rate_limit')).toBe('must be a whole number')
    expect(bad.html).not.toContain('header-secret')
    const url = await dev.post('/portal/ns/acme/webhooks', { url: 'ftp://example.com/hook' })
    expect(url.status).toBe(422)
    expect(fieldError(url.html, 'url')).toBeTruthy()
    expect(url.html).toContain('value="ftp://example.com/hook"')
    const events = await dev.post('/portal/ns/acme/webhooks', { url: failing.url, event_types: ['message.sent', 'message.bogus'] })
    expect(fieldError(events.html, 'event_types')).toContain('unknown event type')
    const channel = await dev.post('/portal/ns/acme/webhooks', { url: failing.url, channel_ids: theirChannel })
    expect(fieldError(channel.html, 'channels')).toContain('no channel')
    const header = await dev.post('/portal/ns/acme/webhooks', { url: failing.url, headers: 'Webhook-Id: mine' })
    expect(fieldError(header.html, 'headers')).toContain('set by the gateway')
    expect(await hookRows()).toEqual([])
  })

  test('the answer shows the signing secret once, with a copy button; no later page shows it', async () => {
    const created = await dev.post('/portal/ns/acme/webhooks', { url: failing.url, description: 'Ops receiver', event_types: ['message.queued'], channel_ids: alertsId, headers: 'X-Api-Key: header-secret', rate_limit: '20' })
    expect(created.status).toBe(201)
    const [row] = await hookRows()
    hookId = row!.id
    firstSecret = secretIn(created.html)!
    expect(firstSecret).toMatch(/^whsec_/)
    expect(openSecrets(gw.deps, row!).secrets[0]!.secret).toBe(firstSecret)
    expect(created.html).toContain('data-copy="webhook-secret"')
    expect(created.html).toContain(`data-replace-url="/portal/ns/acme/webhooks/${hookId}"`)
    expect(row).toMatchObject({ url: failing.url, description: 'Ops receiver', eventTypes: ['message.queued'], channelIds: [alertsId], rateLimit: 20, enabled: true })
    expect(openSecrets(gw.deps, row!).headers).toEqual({ 'X-Api-Key': 'header-secret' })
    for (const path of ['/portal/ns/acme/webhooks', `/portal/ns/acme/webhooks/${hookId}`, `/portal/ns/acme/webhooks/${hookId}/edit`]) {
      const page = await dev.get(path)
      expect(page.status, path).toBe(200)
      expect(page.html, path).not.toContain(firstSecret)
      expect(page.html, path).not.toContain('header-secret')
    }
    const detail = await dev.get(`/portal/ns/acme/webhooks/${hookId}`)
    expect(detail.html).toContain('X-Api-Key: ••••')
    expect(detail.html).toContain('message.queued')
    expect(detail.html).toContain('alerts')
  })
})

describe('changing', () => {
  test('edit: filters change, blank headers are kept, "remove" drops them', async () => {
    const form = await dev.get(`/portal/ns/acme/webhooks/${hookId}/edit`)
    expect(form.html).toMatch(/value="message.queued" checked/)
    expect(form.html).toContain('Stored: X-Api-Key')
    const saved = await dev.post(`/portal/ns/acme/webhooks/${hookId}/edit`, { url: failing.url, description: 'Ops', event_types: ['message.queued', 'message.failed'], headers: '', rate_limit: '' })
    expect(saved.location).toBe(`/portal/ns/acme/webhooks/${hookId}?notice=saved`)
    let row = (await hookRow(hookId))!
    expect(row).toMatchObject({ description: 'Ops', eventTypes: ['message.queued', 'message.failed'], channelIds: [], rateLimit: null })
    expect(openSecrets(gw.deps, row).headers).toEqual({ 'X-Api-Key': 'header-secret' })
    await dev.post(`/portal/ns/acme/webhooks/${hookId}/edit`, { url: failing.url, event_types: 'message.queued', clear_headers: 'on' })
    row = (await hookRow(hookId))!
    expect(openSecrets(gw.deps, row).headers).toEqual({})
    expect(row.eventTypes).toEqual(['message.queued'])
    const bad = await dev.post(`/portal/ns/acme/webhooks/${hookId}/edit`, { url: '' })
    expect(bad.status).toBe(422)
    expect(fieldError(bad.html, 'url')).toBeTruthy()
    expect((await hookRow(hookId))!.url).toBe(failing.url)
  })

  test('disable and enable; rotate shows the new secret once and keeps the old one signing', async () => {
    await dev.post(`/portal/ns/acme/webhooks/${hookId}/disable`, {})
    expect((await hookRow(hookId))!).toMatchObject({ enabled: false, disabledReason: 'disabled by a user' })
    expect((await dev.get(`/portal/ns/acme/webhooks/${hookId}`)).html).toContain('>Enable</button>')
    await dev.post(`/portal/ns/acme/webhooks/${hookId}/enable`, {})
    expect((await hookRow(hookId))!.enabled).toBe(true)
    const rotated = await dev.post(`/portal/ns/acme/webhooks/${hookId}/rotate`, {})
    expect(rotated.status).toBe(200)
    const secret = secretIn(rotated.html)!
    expect(secret).toMatch(/^whsec_/)
    expect(secret).not.toBe(firstSecret)
    expect(openSecrets(gw.deps, (await hookRow(hookId))!).secrets.map((s) => s.secret)).toEqual([secret, firstSecret])
    expect((await dev.get(`/portal/ns/acme/webhooks/${hookId}`)).html).not.toContain(secret)
  })
})

describe('the delivery log', () => {
  test('shows each delivery with its response code, latency and attempts; retry and recover send again', async () => {
    await gw.startEngine()
    const startedAt = new Date(Date.now() - 60_000).toISOString()
    await sendMessage(gw.deps, acme.namespaceId, { channel: 'alerts', to: 'a@example.com', content: { text: 'hi' } })
    const [delivery] = await eventually(async () => {
      const rows = await deliveriesOf(hookId)
      return rows[0]?.status === 'failed' ? rows : null
    })
    const page = await viewer.get(`/portal/ns/acme/webhooks/${hookId}`)
    expect(page.html).toContain(`id="delivery-${delivery!.id}"`)
    expect(page.html).toContain('message.queued')
    expect(page.html).toContain('status-failed')
    expect(page.html).toMatch(/<td>500/)
    expect(page.html).toMatch(/<td>\d+ ms<\/td>/)
    expect(page.html).toContain('receiver is down')
    expect(page.html).not.toContain('>Retry</button>')

    const retried = await dev.post(`/portal/ns/acme/webhooks/${hookId}/deliveries/${delivery!.id}/retry`, {})
    expect(retried.location).toBe(`/portal/ns/acme/webhooks/${hookId}?notice=retried#deliveries`)
    await eventually(async () => {
      const [row] = await deliveriesOf(hookId)
      return row!.attempts === 2 && row!.status === 'failed'
    })
    const badSince = await dev.post(`/portal/ns/acme/webhooks/${hookId}/recover`, { recover_since: 'yesterday' })
    expect(badSince.status).toBe(422)
    expect(fieldError(badSince.html, 'recover_since')).toBeTruthy()
    const recovered = await dev.post(`/portal/ns/acme/webhooks/${hookId}/recover`, { recover_since: startedAt })
    expect(recovered.location).toBe(`/portal/ns/acme/webhooks/${hookId}?notice=recovered&count=1#deliveries`)
    expect((await dev.get(recovered.location!)).html).toContain('1 failed deliveries queued again.')
    await eventually(async () => (await deliveriesOf(hookId))[0]!.attempts === 3)
  }, 20_000)

  test("a picked time filters the log and recovers in the browser's zone, or in UTC without its offset", async () => {
    const [delivery] = await deliveriesOf(hookId)
    // An hour before the delivery, on a picker's wall clock in a UTC+2 zone (getTimezoneOffset -120).
    const anHourBefore = new Date(delivery!.createdAt - 3_600_000 + 7_200_000).toISOString().slice(0, 16)
    const shown = `id="delivery-${delivery!.id}"`
    expect((await viewer.get(`/portal/ns/acme/webhooks/${hookId}?since=${anHourBefore}&since_tz_offset=-120`)).html).toContain(shown)
    const asUtc = await viewer.get(`/portal/ns/acme/webhooks/${hookId}?since=${anHourBefore}`)
    expect(asUtc.html).not.toContain(shown)
    expect(asUtc.html).toContain('No deliveries match these filters')
    // Read as UTC the time is after the failure: nothing to recover.
    expect((await dev.post(`/portal/ns/acme/webhooks/${hookId}/recover`, { recover_since: anHourBefore })).location).toEndWith('?notice=recovered&count=0#deliveries')
    const attempts = (await deliveriesOf(hookId))[0]!.attempts
    const recovered = await dev.post(`/portal/ns/acme/webhooks/${hookId}/recover`, { recover_since: anHourBefore, recover_since_tz_offset: '-120' })
    expect(recovered.location).toEndWith('?notice=recovered&count=1#deliveries')
    await eventually(async () => {
      const [row] = await deliveriesOf(hookId)
      return row!.attempts === attempts + 1 && row!.status === 'failed'
    })
  })

  test('filters name a bad value next to the field; a disabled webhook refuses retry and recover on the page', async () => {
    const bad = await dev.get(`/portal/ns/acme/webhooks/${hookId}?status=lost`)
    expect(bad.status).toBe(422)
    expect(fieldError(bad.html, 'status')).toBeTruthy()
    const none = await dev.get(`/portal/ns/acme/webhooks/${hookId}?status=succeeded`)
    expect(none.html).toContain('No deliveries match these filters')
    const [delivery] = await deliveriesOf(hookId)
    await dev.post(`/portal/ns/acme/webhooks/${hookId}/disable`, {})
    const refused = await dev.post(`/portal/ns/acme/webhooks/${hookId}/deliveries/${delivery!.id}/retry`, {})
    expect(refused.status).toBe(409)
    expect(refused.html).toContain('enable it first')
    const recover = await dev.post(`/portal/ns/acme/webhooks/${hookId}/recover`, { recover_since: new Date(0).toISOString() })
    expect(recover.status).toBe(409)
    expect(recover.html).toContain('enable it first')
    await dev.post(`/portal/ns/acme/webhooks/${hookId}/enable`, {})
  })
})

describe('who may do what', () => {
  test('a viewer sees no controls, and every hand-made POST is refused (403) and changes nothing', async () => {
    const before = (await hookRow(hookId))!
    const page = await viewer.get(`/portal/ns/acme/webhooks/${hookId}`)
    for (const control of ['>Edit</a>', '>Disable</button>', 'Rotate secret', '>Delete</button>', 'Replay failed deliveries', '>Retry</button>']) expect(page.html).not.toContain(control)
    expect((await viewer.get('/portal/ns/acme/webhooks/new')).status).toBe(403)
    const [delivery] = await deliveriesOf(hookId)
    const posts: [string, Record<string, string>][] = [
      ['/portal/ns/acme/webhooks', { url: failing.url }],
      [`/portal/ns/acme/webhooks/${hookId}/edit`, { url: 'http://127.0.0.1:9/changed' }],
      [`/portal/ns/acme/webhooks/${hookId}/disable`, {}],
      [`/portal/ns/acme/webhooks/${hookId}/rotate`, {}],
      [`/portal/ns/acme/webhooks/${hookId}/delete`, {}],
      [`/portal/ns/acme/webhooks/${hookId}/deliveries/${delivery!.id}/retry`, {}],
      [`/portal/ns/acme/webhooks/${hookId}/recover`, { recover_since: new Date(0).toISOString() }],
    ]
    for (const [path, fields] of posts) {
      const res = await viewer.post(path, fields)
      expect(res.status, path).toBe(403)
      // Refused for the role, not for the form's token (which would say "out of date").
      expect(res.html, path).toContain('webhooks:write')
      expect(secretIn(res.html)).toBeUndefined()
    }
    expect(await hookRows()).toHaveLength(1)
    expect(await hookRow(hookId)).toEqual(before)
  })

  test('a form without the CSRF token is refused', async () => {
    expect((await dev.post(`/portal/ns/acme/webhooks/${hookId}/rotate`, {}, { token: null })).status).toBe(403)
    expect(openSecrets(gw.deps, (await hookRow(hookId))!).secrets).toHaveLength(2)
  })

  test("another namespace's webhook or delivery id is not found, for every page and action", async () => {
    for (const path of [`/portal/ns/acme/webhooks/${theirHook}`, `/portal/ns/acme/webhooks/${theirHook}/edit`]) {
      const page = await dev.get(path)
      expect(page.status, path).toBe(404)
      expect(page.html).not.toContain('/theirs')
    }
    for (const action of ['edit', 'disable', 'rotate', 'delete', 'recover']) {
      const res = await dev.post(`/portal/ns/acme/webhooks/${theirHook}/${action}`, { url: 'http://127.0.0.1:9/x', recover_since: new Date(0).toISOString() })
      expect(res.status, action).toBe(404)
      expect(secretIn(res.html)).toBeUndefined()
    }
    expect((await dev.post(`/portal/ns/acme/webhooks/${hookId}/deliveries/whd_none/retry`, {})).status).toBe(404)
    expect((await hookRow(theirHook))!).toMatchObject({ enabled: true, url: 'http://127.0.0.1:9/theirs' })
  })

  test('delete removes the webhook and its log', async () => {
    const res = await dev.post(`/portal/ns/acme/webhooks/${hookId}/delete`, {})
    expect(res.location).toBe('/portal/ns/acme/webhooks?notice=deleted')
    expect(await hookRow(hookId)).toBeUndefined()
    expect(await deliveriesOf(hookId)).toEqual([])
    expect((await dev.get(`/portal/ns/acme/webhooks/${hookId}`)).status).toBe(404)
  })
})
