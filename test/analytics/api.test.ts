/**
 * The analytics API around the numbers: the CSV export parses as RFC 4180, tenants see only
 * their own counts, and the instance-wide route is for instance admins only.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { RollupBatch, type CountedStatus } from '../../src/domain/analytics/rollups'
import { createApplication } from '../../src/domain/identity/applications'
import { insertMembership } from '../../src/domain/identity/members'
import { login } from '../../src/domain/identity/sessions'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

// Cheap argon2: two people log in once each.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
let umbrella: Awaited<ReturnType<TestGateway['tenant']>>
let acmeSms = ''
let umbrellaSms = ''
let billingApp = ''
const tokens: Record<string, string> = {}
const HOUR = '2026-03-08T10:00:00Z'

async function put(namespaceId: string, channelId: string, status: CountedStatus, n: number, applicationId: string | null = null, direction = 'outbound') {
  await gw.deps.store.tx(async (tx) => {
    const batch = new RollupBatch()
    batch.count({ namespaceId, channelId, applicationId, direction }, status, Date.parse(HOUR) + 60_000, n)
    await batch.flush(tx)
  })
}

async function person(name: string, opts: { instanceAdmin?: boolean; ownerOf?: string } = {}) {
  const passwordHash = await hashPassword('analytics test password')
  await gw.deps.store.tx(async (tx) => {
    const user = await insertUser(tx, { email: `${name}@example.com`, displayName: name, passwordHash, instanceAdmin: opts.instanceAdmin }, Date.now())
    if (opts.ownerOf) await insertMembership(tx, opts.ownerOf, user.id, 'owner', Date.now())
  })
  tokens[name] = (await login(gw.deps, { email: `${name}@example.com`, password: 'analytics test password' })).accessToken
}

/** RFC 4180: CRLF-terminated records, fields quoted when they hold a comma, a quote or a line break. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted) {
      if (c !== '"') field += c
      else if (text[i + 1] === '"') (field += '"'), i++
      else quoted = false
    } else if (c === '"') {
      if (field !== '') throw new Error(`a quote inside an unquoted field at ${i}`)
      quoted = true
    } else if (c === ',') {
      row.push(field)
      field = ''
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field)
      rows.push(row)
      ;[row, field] = [[], '']
      i++
    } else if (c === '\r' || c === '\n') {
      throw new Error(`a bare line break outside quotes at ${i}`)
    } else field += c
  }
  if (quoted || field !== '' || row.length > 0) throw new Error('the last record is not terminated by CRLF')
  return rows
}

beforeAll(async () => {
  gw = await startTestGateway({ limits: { login_attempts_per_minute: 1000 } })
  gw.deps.now = () => Date.parse('2026-03-09T00:00:00Z')
  acme = await gw.tenant('acme')
  umbrella = await gw.tenant('umbrella')
  acmeSms = await gw.channel(acme.namespaceId, 'sms')
  umbrellaSms = await gw.channel(umbrella.namespaceId, 'sms')
  billingApp = (await createApplication(gw.deps, acme.namespaceId, { name: 'Billing, "EU"' })).id
  await put(acme.namespaceId, acmeSms, 'queued', 5, billingApp)
  await put(acme.namespaceId, acmeSms, 'delivered', 4, billingApp)
  await put(acme.namespaceId, acmeSms, 'received', 2, null, 'inbound')
  await put(umbrella.namespaceId, umbrellaSms, 'queued', 70)
  await put(umbrella.namespaceId, umbrellaSms, 'failed', 7)
  await person('root', { instanceAdmin: true })
  await person('olivia', { ownerOf: acme.namespaceId })
})
afterAll(() => gw.close())

const range = `from=${HOUR}&to=2026-03-08T11:00:00Z`

describe('CSV export', () => {
  test('a header row, one record per bucket and group, quoted fields where needed', async () => {
    const res = await gw.call('GET', `/v1/namespaces/acme/analytics/messages.csv?${range}&group_by=application`, acme.key)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toStartWith('text/csv')
    expect(res.headers.get('content-disposition')).toContain('attachment')
    const text = await res.text()
    expect(text).toContain('"Billing, ""EU"""')
    const [header, ...records] = parseCsv(text)
    expect(header).toEqual(['start', 'application', 'scheduled', 'queued', 'retried', 'sent', 'delivered', 'read', 'failed', 'cancelled', 'expired', 'received'])
    const rows = records.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]])))
    expect(rows).toEqual([
      expect.objectContaining({ start: '2026-03-08T10:00:00Z', application: 'Billing, "EU"', queued: '5', delivered: '4', received: '0' }),
      // Inbound messages have no application: an empty field.
      expect.objectContaining({ start: '2026-03-08T10:00:00Z', application: '', queued: '0', received: '2' }),
    ])
    for (const r of records) expect(r).toHaveLength(header!.length)
  })

  test('a name that a spreadsheet would run as a formula is exported as text', async () => {
    // Application names are free text: a tenant could name one so that the export, opened in a
    // spreadsheet (an instance admin's, across namespaces), runs it.
    const formula = (await createApplication(gw.deps, umbrella.namespaceId, { name: '=HYPERLINK("http://evil.test","x")' })).id
    const plus = (await createApplication(gw.deps, umbrella.namespaceId, { name: '@SUM(1+1)' })).id
    // A day before the other tests' range, so their totals stay as they are.
    const dayBefore = '2026-03-07T10:00:00Z'
    await gw.deps.store.tx(async (tx) => {
      const batch = new RollupBatch()
      for (const applicationId of [formula, plus]) batch.count({ namespaceId: umbrella.namespaceId, channelId: umbrellaSms, applicationId, direction: 'outbound' }, 'sent', Date.parse(dayBefore))
      await batch.flush(tx)
    })
    const earlier = `from=${dayBefore}&to=2026-03-07T11:00:00Z&group_by=application`
    for (const [path, token] of [
      [`/v1/namespaces/umbrella/analytics/messages.csv?${earlier}`, umbrella.key],
      [`/v1/analytics/messages.csv?${earlier}`, tokens.root!],
    ] as const) {
      const res = await gw.call('GET', path, token)
      expect(res.status).toBe(200)
      const [header, ...records] = parseCsv(await res.text())
      const names = records.map((r) => r[header!.indexOf('application')]!)
      expect(names).toContain(`'=HYPERLINK("http://evil.test","x")`)
      expect(names).toContain("'@SUM(1+1)")
      // No field starts with a character a spreadsheet reads as a formula.
      for (const r of records) for (const field of r) expect(field).not.toMatch(/^[=+\-@\t\r]/)
    }
  })

  test('without grouping, every bucket of the range is a record', async () => {
    const res = await gw.call('GET', `/v1/namespaces/acme/analytics/messages.csv?from=2026-03-08T09:00:00Z&to=2026-03-08T12:00:00Z`, acme.key)
    const [header, ...records] = parseCsv(await res.text())
    expect(header![0]).toBe('start')
    expect(records.map((r) => [r[0], r[header!.indexOf('queued')]])).toEqual([
      ['2026-03-08T09:00:00Z', '0'],
      ['2026-03-08T10:00:00Z', '5'],
      ['2026-03-08T11:00:00Z', '0'],
    ])
  })
})

describe('tenancy', () => {
  test("a namespace sees its own counts only; another namespace's analytics are a 404", async () => {
    const res = await gw.call('GET', `/v1/namespaces/acme/analytics/messages?${range}`, acme.key)
    const body = (await res.json()) as { totals: Record<string, number> }
    expect(body.totals).toMatchObject({ queued: 5, delivered: 4, received: 2, failed: 0 })
    for (const path of ['messages', 'messages.csv']) {
      const other = await gw.call('GET', `/v1/namespaces/umbrella/analytics/${path}?${range}`, acme.key)
      expect(other.status).toBe(404)
      expect(((await other.json()) as { code: string }).code).toBe('namespace_not_found')
    }
  })

  test("another namespace's channel id is refused like an unknown channel, revealing nothing", async () => {
    const res = await gw.call('GET', `/v1/namespaces/acme/analytics/messages?${range}&channel=${umbrellaSms}`, acme.key)
    expect(res.status).toBe(422)
    const text = await res.text()
    expect(JSON.parse(text).errors).toEqual([{ field: 'channel', message: expect.any(String) }])
    // Only the id the caller gave is echoed: no counts, no trace of the other namespace.
    expect(text).not.toContain('totals')
    expect(text).not.toContain(umbrella.namespaceId)
  })

  test('a member reads analytics by role; the scope is analytics:read', async () => {
    expect((await gw.call('GET', `/v1/namespaces/acme/analytics/messages?${range}`, tokens.olivia!)).status).toBe(200)
    expect((await gw.call('GET', `/v1/namespaces/umbrella/analytics/messages?${range}`, tokens.olivia!)).status).toBe(404)
  })
})

describe('instance-wide analytics', () => {
  test('an instance admin sees every namespace, grouped by namespace or channel', async () => {
    const res = await gw.call('GET', `/v1/analytics/messages?${range}&group_by=namespace`, tokens.root!)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { totals: Record<string, number>; buckets: { group: string; counts: Record<string, number> }[] }
    expect(body.totals).toMatchObject({ queued: 75, delivered: 4, failed: 7, received: 2 })
    expect(body.buckets.map((b) => [b.group, b.counts])).toEqual([
      ['acme', { delivered: 4, queued: 5, received: 2 }],
      ['umbrella', { failed: 7, queued: 70 }],
    ])
    const byChannel = (await (await gw.call('GET', `/v1/analytics/messages?${range}&group_by=channel`, tokens.root!)).json()) as typeof body
    expect(byChannel.buckets.map((b) => b.group)).toEqual(['acme/sms', 'umbrella/sms'])
    const one = (await (await gw.call('GET', `/v1/analytics/messages?${range}&namespace=umbrella`, tokens.root!)).json()) as typeof body
    expect(one.totals).toMatchObject({ queued: 70, failed: 7, delivered: 0 })
    const csv = await gw.call('GET', `/v1/analytics/messages.csv?${range}&group_by=namespace`, tokens.root!)
    expect(parseCsv(await csv.text()).map((r) => r[1])).toEqual(['namespace', 'acme', 'umbrella'])
  })

  test('anyone else gets 403, an owner and an application key included', async () => {
    for (const token of [tokens.olivia!, acme.key]) {
      for (const path of ['messages', 'messages.csv']) {
        const res = await gw.call('GET', `/v1/analytics/${path}?${range}`, token)
        expect(res.status).toBe(403)
        expect(((await res.json()) as { code: string }).code).toBe('instance_admin_required')
      }
    }
    expect((await gw.call('GET', `/v1/analytics/messages?${range}`, null)).status).toBe(401)
  })
})
