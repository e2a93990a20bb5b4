/**
 * The Dashboard and Messages pages over HTTP: what the dashboard counts, the list's filters and
 * their errors, and the send form's field errors — each through the same domain as the API.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { insertMembership } from '../../src/domain/identity/members'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { sendMessage } from '../../src/domain/messages/send'
import { messages } from '../../src/store/schema'
import { eventually, startTestGateway } from '../helpers/gateway'
import { fieldError, PORTAL_PASSWORD, portalClient } from './portal-client'

// Cheap argon2 in tests: the cost is not what is under test.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const gw = await startTestGateway()
afterAll(() => gw.close())
const acme = await gw.tenant('acme')
await gw.channel(acme.namespaceId, 'sandbox')
await gw.channel(acme.namespaceId, 'alerts')
await gw.startEngine()

async function member(email: string, role: 'viewer' | 'developer') {
  const passwordHash = await hashPassword(PORTAL_PASSWORD)
  await gw.deps.store.tx(async (tx) => {
    const user = await insertUser(tx, { email, passwordHash, verified: true }, Date.now())
    await insertMembership(tx, acme.namespaceId, user.id, role, Date.now())
  })
  const client = portalClient(gw)
  await client.signIn(email)
  return client
}
const dev = await member('dev@example.com', 'developer')
const viewer = await member('viewer@example.com', 'viewer')

const send = (extra: Record<string, unknown> = {}) =>
  sendMessage(gw.deps, acme.namespaceId, { channel: 'sandbox', to: 'ada@example.com', content: { text: 'hello' }, ...extra })

describe('dashboard', () => {
  test('starts empty, then counts what was sent, failed and waits, and draws it', async () => {
    let page = await dev.get('/portal/ns/acme/dashboard')
    expect(page.res.status).toBe(200)
    expect(page.html).toContain('No messages in the last 24 hours')
    expect(page.html).toContain('Nothing waiting to be sent')
    await send()
    await send({ options: { sandbox: { outcome: 'failed' } } })
    await send({ send_at: new Date(Date.now() + 3_600_000).toISOString() })
    await eventually(async () => (await gw.deps.store.read.select({ status: messages.status }).from(messages)).filter((m) => m.status === 'delivered' || m.status === 'failed').length === 2)
    page = await dev.get('/portal/ns/acme/dashboard')
    const chart = JSON.parse(/data-chart="([^"]+)"/.exec(page.html)![1]!.replaceAll('&quot;', '"')) as { x: number[]; series: { label: string; values: number[] }[] }
    expect(chart.x.length).toBeGreaterThanOrEqual(24)
    const total = (label: string) => chart.series.find((s) => s.label === label)?.values.reduce((a, b) => a + b, 0)
    expect(total('delivered')).toBe(1)
    expect(total('failed')).toBe(1)
    expect(page.html).toContain('sandbox_failed')
    expect(page.html).toMatch(/status-scheduled">scheduled<\/span><\/a><\/td><td>1</)
  })
})

describe('message list', () => {
  test('filters by status and direction, and names a bad filter next to its field', async () => {
    await send({ to: 'filter-me@example.com', send_at: new Date(Date.now() + 3_600_000).toISOString() })
    let page = await viewer.get('/portal/ns/acme/messages?status=scheduled&recipient=filter-me%40example.com')
    expect(page.res.status).toBe(200)
    expect(page.html).toContain('filter-me@example.com')
    expect(page.html).not.toContain('>ada@example.com<')
    page = await viewer.get('/portal/ns/acme/messages?direction=inbound')
    expect(page.html).toContain('No messages match these filters')
    page = await viewer.get('/portal/ns/acme/messages?since=yesterday&channel=nope')
    expect(page.res.status).toBe(422)
    expect(fieldError(page.html, 'since')).toContain('RFC 3339')
    page = await viewer.get('/portal/ns/acme/messages?channel=nope')
    expect(page.res.status).toBe(422)
    expect(fieldError(page.html, 'channel')).toContain('no channel &quot;nope&quot;')
    // A time range that is not one of the choices is named too, even one that looks like a built-in name.
    for (const range of ['2h', 'constructor']) {
      page = await viewer.get(`/portal/ns/acme/messages?range=${range}`)
      expect(page.res.status).toBe(422)
      expect(fieldError(page.html, 'range')).toBe('must be one of 1h, 24h, 7d, 30d')
    }
  })

  test("picked times (datetime-local) are the viewer's local time with the browser's offset, else UTC; RFC 3339 links still work", async () => {
    await send({ to: 'picked@example.com' })
    const sentAt = Date.now()
    // A picker's wall clock (to the minute) in a UTC+2 zone, whose getTimezoneOffset is -120, and back.
    const wallAtPlus2 = (ms: number) => new Date(ms + 7_200_000).toISOString().slice(0, 16)
    const instantOf = (wall: string) => new Date(Date.parse(`${wall}:00Z`) - 7_200_000).toISOString()
    const list = (query: string) => viewer.get(`/portal/ns/acme/messages?recipient=picked%40example.com&${query}`)
    // An hour before the send, in UTC+2: the message is after it.
    const anHourBefore = wallAtPlus2(sentAt - 3_600_000)
    let page = await list(`since=${anHourBefore}&since_tz_offset=-120`)
    expect(page.res.status).toBe(200)
    expect(page.html).toContain('>picked@example.com<')
    // The picker shows the time as picked, with its offset, and the instant for the script.
    expect(page.html).toContain(`type="datetime-local" step="any" value="${anHourBefore}" data-local-time="" data-instant="${instantOf(anHourBefore)}"`)
    expect(page.html).toContain('name="since_tz_offset" value="-120"')
    // Without script, the label says what a time without an offset is (the script names the browser's zone).
    expect(page.html).toContain('<label for="since">Since <span class="zone" data-zone="">(UTC)</span></label>')
    // The same wall clock without an offset is UTC: an hour after the send.
    page = await list(`since=${anHourBefore}`)
    expect(page.res.status).toBe(200)
    expect(page.html).toContain('No messages match these filters')
    // Until, the same rule the other way round.
    page = await list(`until=${anHourBefore}&until_tz_offset=-120`)
    expect(page.html).toContain('No messages match these filters')
    page = await list(`until=${anHourBefore}`)
    expect(page.html).toContain('>picked@example.com<')
    // A link with RFC 3339 (here at +02:00) works as before; without a zone to show it in, the picker shows UTC.
    page = await list(`since=${encodeURIComponent(`${anHourBefore}:05+02:00`)}`)
    expect(page.html).toContain('>picked@example.com<')
    expect(page.html).toContain(`value="${instantOf(anHourBefore).slice(0, 16)}:05" data-local-time=""`)
    expect(page.html).toContain('name="since_tz_offset" value=""')
    // An offset that is not one leaves the time unread: named next to the field, and kept as typed.
    page = await list(`since=${anHourBefore}&since_tz_offset=Europe%2FBerlin`)
    expect(page.res.status).toBe(422)
    expect(fieldError(page.html, 'since')).toContain('RFC 3339')
    expect(page.html).toContain(`type="text" value="${anHourBefore}"`)
  })

  test('a viewer sees no send link and cannot open the send form', async () => {
    expect((await viewer.get('/portal/ns/acme/messages')).html).not.toContain('Send a test message')
    expect((await viewer.get('/portal/ns/acme/messages/new')).res.status).toBe(403)
    expect((await dev.get('/portal/ns/acme/messages')).html).toContain('Send a test message')
  })
})

describe('send form', () => {
  test('names every bad field at once and keeps what was typed', async () => {
    await dev.get('/portal/ns/acme/messages/new')
    const page = await dev.post('/portal/ns/acme/messages', { channel: 'sandbox', to: '', text: 'kept text', send_at: 'soon', options: '{not json' })
    expect(page.res.status).toBe(422)
    expect(fieldError(page.html, 'to')).toBe('is required')
    expect(fieldError(page.html, 'send_at')).toContain('RFC 3339')
    expect(fieldError(page.html, 'options')).toContain('JSON')
    expect(fieldError(page.html, 'text')).toBeUndefined()
    expect(page.html).toContain('kept text')
  })

  test("the domain's own errors land next to their field (an unknown channel, bad sandbox options)", async () => {
    await dev.get('/portal/ns/acme/messages/new')
    let page = await dev.post('/portal/ns/acme/messages', { channel: 'nope', to: 'a@example.com', text: 'hi' })
    expect(page.res.status).toBe(422)
    expect(fieldError(page.html, 'channel')).toBeTruthy()
    page = await dev.post('/portal/ns/acme/messages', { channel: 'sandbox', to: 'a@example.com', text: 'hi', options: '{"sandbox": {"outcome": "maybe"}}' })
    expect(page.res.status).toBe(422)
    expect(fieldError(page.html, 'options')).toBeTruthy()
  })

  test("a picked send time is stored as the instant in the browser's zone, or in UTC without its offset", async () => {
    await dev.get('/portal/ns/acme/messages/new')
    const sendAtOf = async (fields: Record<string, string>) => {
      const page = await dev.post('/portal/ns/acme/messages', { channel: 'sandbox', to: 'later@example.com', text: 'later', ...fields })
      expect(page.res.status).toBe(303)
      const id = page.res.headers.get('location')!.split('/').at(-1)!
      const row = (await gw.deps.store.read.select({ sendAt: messages.sendAt, status: messages.status }).from(messages).where(eq(messages.id, id)))[0]!
      expect(row.status).toBe('scheduled')
      return new Date(row.sendAt!).toISOString()
    }
    // A day within the year a send may be scheduled ahead, picked in a UTC−4 zone (getTimezoneOffset 240).
    const day = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10)
    expect(await sendAtOf({ send_at: `${day}T09:30`, send_at_tz_offset: '240' })).toBe(`${day}T13:30:00.000Z`)
    expect(await sendAtOf({ send_at: `${day}T09:30` })).toBe(`${day}T09:30:00.000Z`)
    expect(await sendAtOf({ send_at: `${day}T09:30:15`, send_at_tz_offset: '-330' })).toBe(`${day}T04:00:15.000Z`)
    // RFC 3339, as the API takes it, still works.
    expect(await sendAtOf({ send_at: `${day}T09:30:00-04:00` })).toBe(`${day}T13:30:00.000Z`)
    // A form sent back with an error keeps the picked time and its offset.
    const failed = await dev.post('/portal/ns/acme/messages', { channel: 'sandbox', to: '', text: 'later', send_at: `${day}T09:30`, send_at_tz_offset: '240' })
    expect(failed.res.status).toBe(422)
    expect(fieldError(failed.html, 'to')).toBe('is required')
    expect(fieldError(failed.html, 'send_at')).toBeUndefined()
    expect(failed.html).toContain(`value="${day}T09:30" data-local-time="" data-instant="${day}T13:30:00.000Z"`)
    expect(failed.html).toContain('name="send_at_tz_offset" value="240"')
  })

  test('a good form sends through the domain and leads to the message', async () => {
    await dev.get('/portal/ns/acme/messages/new')
    const before = (await gw.deps.store.read.select().from(messages)).length
    const page = await dev.post('/portal/ns/acme/messages', { channel: 'alerts', to: 'grace@example.com', subject: 'Hi', text: 'from the form' })
    expect(page.res.status).toBe(303)
    const id = page.res.headers.get('location')!.split('/').at(-1)!
    expect(id).toStartWith('msg_')
    const rows = await gw.deps.store.read.select().from(messages)
    expect(rows.length).toBe(before + 1)
    const row = rows.find((m) => m.id === id)!
    expect(row).toMatchObject({ recipient: 'grace@example.com', content: { subject: 'Hi', text: 'from the form' }, applicationId: null })
    const detail = await dev.get(`/portal/ns/acme/messages/${id}`)
    expect(detail.html).toContain('from the form')
    expect(detail.html).toContain('grace@example.com')
  })
})
