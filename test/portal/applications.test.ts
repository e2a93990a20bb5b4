/**
 * The Applications pages over HTTP: applications, API keys and OAuth clients created (secrets
 * shown once), listed and revoked through the same domain functions and scopes as the API; a
 * viewer sees no controls and a hand-made POST changes nothing; another namespace's ids are not
 * found; every form names its bad fields.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { listAudit } from '../../src/domain/audit'
import { createApiKey, flushKeyUsage } from '../../src/domain/identity/api-keys'
import { createApplication } from '../../src/domain/identity/applications'
import { createClient } from '../../src/domain/identity/clients'
import { insertMembership } from '../../src/domain/identity/members'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { apiKeys, applications, oauthClients } from '../../src/store/schema'
import { startTestGateway } from '../helpers/gateway'
import { fieldError, formMessage, makeMember, PORTAL_PASSWORD, portalClient } from './portal-client'

// Cheap argon2 in tests: the cost is not what is under test.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const gw = await startTestGateway()
afterAll(() => gw.close())
const acme = await gw.tenant('acme')
const beta = await gw.tenant('beta')
const betaApp = await createApplication(gw.deps, beta.namespaceId, { name: 'beta-app' })
const betaKey = await createApiKey(gw.deps, beta.namespaceId, { applicationId: betaApp.id })

async function person(email: string, role: 'viewer' | 'developer' | 'admin' | 'owner') {
  await makeMember(gw.deps, acme.namespaceId, email, role)
  const client = portalClient(gw)
  await client.signIn(email)
  return client
}
const dev = await person('dev@example.com', 'developer')
const viewer = await person('viewer@example.com', 'viewer')

const appsIn = async (namespaceId: string) => gw.deps.store.read.select().from(applications).where(eq(applications.namespaceId, namespaceId))
const keyRow = async (id: string) => (await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.id, id)))[0]
const secretIn = (html: string) => /<code id="new-secret">([^<]+)<\/code>/.exec(html)?.[1]

let appId = ''

describe('applications', () => {
  test('a developer creates one and lands on its page; the list shows it', async () => {
    await dev.get('/portal/ns/acme/applications')
    const res = await dev.post('/portal/ns/acme/applications', { name: 'billing', description: 'Invoices' })
    expect(res.res.status).toBe(303)
    const row = (await appsIn(acme.namespaceId)).find((a) => a.name === 'billing')!
    expect(row.description).toBe('Invoices')
    appId = row.id
    expect(res.res.headers.get('location')).toBe(`/portal/ns/acme/applications/${appId}`)
    const list = await dev.get('/portal/ns/acme/applications')
    expect(list.html).toContain(`href="/portal/ns/acme/applications/${appId}"`)
    expect(list.html).toContain('New application')
  })

  test('renamed and described from its page; a taken or empty name is named next to the field and nothing changes', async () => {
    const page = await dev.get(`/portal/ns/acme/applications/${appId}`)
    expect(page.html).toContain('aria-label="Application settings"')
    expect(page.html).toContain('value="billing"')
    const saved = await dev.post(`/portal/ns/acme/applications/${appId}/edit`, { name: 'billing-v2', description: 'Invoices and receipts' })
    expect(saved.res.status).toBe(303)
    expect(saved.res.headers.get('location')).toBe(`/portal/ns/acme/applications/${appId}?notice=app-saved`)
    let row = (await appsIn(acme.namespaceId)).find((a) => a.id === appId)!
    expect([row.name, row.description]).toEqual(['billing-v2', 'Invoices and receipts'])
    expect((await dev.get(`/portal/ns/acme/applications/${appId}?notice=app-saved`)).html).toContain('The application is saved.')

    await dev.post('/portal/ns/acme/applications', { name: 'taken-name' })
    const taken = await dev.post(`/portal/ns/acme/applications/${appId}/edit`, { name: 'taken-name', description: '' })
    expect(taken.res.status).toBe(409)
    expect(fieldError(taken.html, 'name')).toContain('already exists')
    const empty = await dev.post(`/portal/ns/acme/applications/${appId}/edit`, { name: ' ', description: 'x' })
    expect(empty.res.status).toBe(422)
    expect(fieldError(empty.html, 'name')).toBe('is required')
    row = (await appsIn(acme.namespaceId)).find((a) => a.id === appId)!
    expect([row.name, row.description]).toEqual(['billing-v2', 'Invoices and receipts'])
    // Back to the name the other tests use; an emptied description is cleared.
    expect((await dev.post(`/portal/ns/acme/applications/${appId}/edit`, { name: 'billing', description: '' })).res.status).toBe(303)
    row = (await appsIn(acme.namespaceId)).find((a) => a.id === appId)!
    expect([row.name, row.description]).toEqual(['billing', ''])
  })

  test('an empty or taken name is named next to the field, nothing created', async () => {
    const before = (await appsIn(acme.namespaceId)).length
    const empty = await dev.post('/portal/ns/acme/applications', { name: '  ', description: 'kept' })
    expect(empty.res.status).toBe(422)
    expect(fieldError(empty.html, 'name')).toBe('is required')
    expect(empty.html).toContain('value="kept"')
    const taken = await dev.post('/portal/ns/acme/applications', { name: 'billing' })
    expect(taken.res.status).toBe(409)
    expect(fieldError(taken.html, 'name')).toContain('already exists')
    const unknown = await dev.post('/portal/ns/acme/applications', { name: 'x', rate_limit: '5' })
    expect(unknown.res.status).toBe(422)
    expect(formMessage(unknown.html)).toContain('rate_limit')
    expect((await appsIn(acme.namespaceId)).length).toBe(before)
  })

  test('an empty namespace says what to do', async () => {
    const admin = portalClient(gw)
    const passwordHash = await hashPassword(PORTAL_PASSWORD)
    const ns = await gw.tenant('empty-ns')
    await gw.deps.store.tx(async (tx) => {
      const user = await insertUser(tx, { email: 'lonely@example.com', passwordHash, verified: true }, Date.now())
      await insertMembership(tx, ns.namespaceId, user.id, 'viewer', Date.now())
    })
    await gw.deps.store.tx((tx) => tx.delete(applications).where(eq(applications.namespaceId, ns.namespaceId)))
    await admin.signIn('lonely@example.com')
    const page = await admin.get('/portal/ns/empty-ns/applications')
    expect(page.html).toContain('No applications yet')
    expect(page.html).toContain('A developer or admin of this namespace can add one.')
  })
})

describe('API keys', () => {
  test('created with the scopes ticked, shown once, working against the API', async () => {
    await dev.get(`/portal/ns/acme/applications/${appId}`)
    const res = await dev.post(`/portal/ns/acme/applications/${appId}/keys`, { key_name: 'prod', key_scopes: ['messages:read', 'channels:read'] })
    expect(res.res.status).toBe(200)
    expect(res.res.headers.get('cache-control')).toContain('no-store')
    const secret = secretIn(res.html)!
    expect(secret).toMatch(/^og_live_/)
    expect(res.html).toContain('data-copy="new-secret"')
    const row = (await gw.deps.store.read.select().from(apiKeys).where(and(eq(apiKeys.applicationId, appId), eq(apiKeys.name, 'prod'))))[0]!
    expect(row.scopes).toEqual(['messages:read', 'channels:read'])
    expect((await gw.call('GET', '/v1/namespaces/acme/channels', secret)).status).toBe(200)
    expect((await gw.call('GET', '/v1/namespaces/acme/webhooks', secret)).status).toBe(403)
    // Never again: the page lists the key by its prefix only.
    const again = await dev.get(`/portal/ns/acme/applications/${appId}`)
    expect(again.html).not.toContain(secret)
    expect(again.html).toContain(secret.slice(0, 12))
    expect(again.html).toContain('messages:read, channels:read')
    // "Last used": written at the minute's flush (here, at once), then shown on the key's row.
    expect(again.html).toContain('<th>Last used</th>')
    await flushKeyUsage(gw.deps)
    const used = (await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.id, row.id)))[0]!.lastUsedAt!
    expect(used).toBeGreaterThan(0)
    const after = await dev.get(`/portal/ns/acme/applications/${appId}`)
    expect(after.html).toContain(`<time datetime="${new Date(used).toISOString()}">`)
  })

  test('bad fields are named next to them and nothing is created', async () => {
    const count = async () => (await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.applicationId, appId))).length
    const before = await count()
    const none = await dev.post(`/portal/ns/acme/applications/${appId}/keys`, { key_name: 'nothing' })
    expect(none.res.status).toBe(422)
    expect(fieldError(none.html, 'key_scopes')).toBe('choose at least one scope')
    expect(none.html).toContain('value="nothing"')
    const badTime = await dev.post(`/portal/ns/acme/applications/${appId}/keys`, { key_scopes: 'messages:read', key_expires_at: 'tomorrow' })
    expect(badTime.res.status).toBe(422)
    expect(fieldError(badTime.html, 'key_expires_at')).toContain('RFC 3339')
    // The ticked box survives the failure.
    expect(badTime.html).toMatch(/value="messages:read" checked/)
    const past = await dev.post(`/portal/ns/acme/applications/${appId}/keys`, { key_scopes: 'messages:read', key_expires_at: '2020-01-01T00:00:00Z' })
    expect(past.res.status).toBe(422)
    expect(fieldError(past.html, 'key_expires_at')).toBe('must be in the future')
    const unknown = await dev.post(`/portal/ns/acme/applications/${appId}/keys`, { key_scopes: 'root:all' })
    expect(unknown.res.status).toBe(422)
    expect(fieldError(unknown.html, 'key_scopes')).toContain('unknown scope')
    // A developer does not hold audit:read: no box for it, and a hand-made one is refused.
    expect(none.html).not.toContain('value="audit:read"')
    const notHeld = await dev.post(`/portal/ns/acme/applications/${appId}/keys`, { key_scopes: ['messages:read', 'audit:read'] })
    expect(notHeld.res.status).toBe(403)
    expect(fieldError(notHeld.html, 'key_scopes')).toContain('audit:read')
    expect(await count()).toBe(before)
  })

  test("a picked expiry is stored as the instant in the browser's zone, or in UTC without its offset", async () => {
    await dev.get(`/portal/ns/acme/applications/${appId}`)
    const expiryOf = async (name: string, fields: Record<string, string>) => {
      const res = await dev.post(`/portal/ns/acme/applications/${appId}/keys`, { key_name: name, key_scopes: 'messages:read', ...fields })
      expect(res.res.status).toBe(200)
      const row = (await gw.deps.store.read.select().from(apiKeys).where(and(eq(apiKeys.applicationId, appId), eq(apiKeys.name, name))))[0]!
      return new Date(row.expiresAt!).toISOString()
    }
    // Midnight on New Year's Day in a UTC+1 zone (getTimezoneOffset -60) is 23:00 UTC the day before.
    expect(await expiryOf('berlin', { key_expires_at: '2030-01-01T00:00', key_expires_at_tz_offset: '-60' })).toBe('2029-12-31T23:00:00.000Z')
    expect(await expiryOf('no-script', { key_expires_at: '2030-01-01T00:00' })).toBe('2030-01-01T00:00:00.000Z')
    expect(await expiryOf('api-style', { key_expires_at: '2030-01-01T00:00:00+01:00' })).toBe('2029-12-31T23:00:00.000Z')
    // Sent back with an error, the picker keeps the time and its offset; an OAuth client's expiry has its own.
    const failed = await dev.post(`/portal/ns/acme/applications/${appId}/keys`, { key_expires_at: '2030-01-01T00:00', key_expires_at_tz_offset: '-60' })
    expect(failed.res.status).toBe(422)
    expect(fieldError(failed.html, 'key_scopes')).toBe('choose at least one scope')
    expect(failed.html).toContain('value="2030-01-01T00:00" data-local-time="" data-instant="2029-12-31T23:00:00.000Z"')
    expect(failed.html).toContain('name="key_expires_at_tz_offset" value="-60"')
    const client = await dev.post(`/portal/ns/acme/applications/${appId}/clients`, { client_name: 'picked', client_scopes: 'messages:send', client_expires_at: '2030-07-01T09:30', client_expires_at_tz_offset: '240' })
    expect(client.res.status).toBe(200)
    const clientRow = (await gw.deps.store.read.select().from(oauthClients).where(and(eq(oauthClients.applicationId, appId), eq(oauthClients.name, 'picked'))))[0]!
    expect(new Date(clientRow.expiresAt!).toISOString()).toBe('2030-07-01T13:30:00.000Z')
    // Another form's offset field is still an unknown field.
    const stray = await dev.post(`/portal/ns/acme/applications/${appId}/keys`, { key_scopes: 'messages:read', client_expires_at_tz_offset: '60' })
    expect(stray.res.status).toBe(422)
    expect(formMessage(stray.html)).toContain('client_expires_at_tz_offset')
  })

  test('revoked: the API refuses the key at once', async () => {
    const { key, secret } = await createApiKey(gw.deps, acme.namespaceId, { applicationId: appId, name: 'to-revoke' })
    expect((await gw.call('GET', '/v1/namespaces/acme/channels', secret)).status).toBe(200)
    await dev.get(`/portal/ns/acme/applications/${appId}`)
    const res = await dev.post(`/portal/ns/acme/applications/${appId}/keys/${key.id}/revoke`)
    expect(res.res.status).toBe(303)
    expect(res.res.headers.get('location')).toBe(`/portal/ns/acme/applications/${appId}?notice=key-revoked`)
    expect((await keyRow(key.id))!.revokedAt).not.toBeNull()
    expect((await gw.call('GET', '/v1/namespaces/acme/channels', secret)).status).toBe(401)
    const page = await dev.get(res.res.headers.get('location')!)
    expect(page.html).toContain('The API key is revoked')
    expect(page.html).toContain('status-failed">revoked')
  })

  test('the change is in the audit log, marked as made in the portal', async () => {
    const log = await listAudit(gw.deps, acme.namespaceId, { limit: 50 })
    const entry = log.data.find((e) => e.action === 'POST /portal/ns/{ns}/applications/{app}/keys/{credential}/revoke')!
    expect(entry.resource_type).toBe('api_key')
    expect(entry.detail.via).toBe('portal')
    expect(entry.actor_type).toBe('user')
  })
})

describe('OAuth clients', () => {
  test('created with its secret shown once; the secret gets a token; revoked, it does not', async () => {
    await dev.get(`/portal/ns/acme/applications/${appId}`)
    const res = await dev.post(`/portal/ns/acme/applications/${appId}/clients`, { client_name: 'worker', client_scopes: ['messages:send'] })
    expect(res.res.status).toBe(200)
    const secret = secretIn(res.html)!
    const clientId = /<code id="new-client-id">([^<]+)<\/code>/.exec(res.html)![1]!
    expect(secret).toMatch(/^og_secret_/)
    const token = () =>
      gw.app.request('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }).toString(),
      })
    const granted = await token()
    expect(granted.status).toBe(200)
    expect(((await granted.json()) as { scope: string }).scope).toBe('messages:send')
    expect((await dev.get(`/portal/ns/acme/applications/${appId}`)).html).not.toContain(secret)

    const revoked = await dev.post(`/portal/ns/acme/applications/${appId}/clients/${clientId}/revoke`)
    expect(revoked.res.status).toBe(303)
    expect((await gw.deps.store.read.select().from(oauthClients).where(eq(oauthClients.id, clientId)))[0]!.revokedAt).not.toBeNull()
    expect((await token()).status).toBe(401)
  })

  test('a bad client field is named with the client prefix', async () => {
    const res = await dev.post(`/portal/ns/acme/applications/${appId}/clients`, { client_scopes: 'messages:send', client_expires_at: 'never' })
    expect(res.res.status).toBe(422)
    expect(fieldError(res.html, 'client_expires_at')).toContain('RFC 3339')
    expect(fieldError(res.html, 'key_expires_at')).toBeUndefined()
  })
})

describe('a viewer', () => {
  test('sees applications and keys without any control', async () => {
    const list = await viewer.get('/portal/ns/acme/applications')
    expect(list.res.status).toBe(200)
    expect(list.html).toContain('billing')
    expect(list.html).not.toContain('New application')
    const detail = await viewer.get(`/portal/ns/acme/applications/${appId}`)
    expect(detail.res.status).toBe(200)
    expect(detail.html).toContain('prod')
    expect(detail.html).not.toContain('Create API key')
    expect(detail.html).not.toContain('>Revoke<')
    expect(detail.html).not.toContain('Delete application')
    expect(detail.html).not.toContain('Application settings')
  })

  test('is refused a hand-made POST (403) and nothing changes', async () => {
    const { key, secret } = await createApiKey(gw.deps, acme.namespaceId, { applicationId: appId })
    const before = (await appsIn(acme.namespaceId)).length
    for (const [path, fields] of [
      ['/portal/ns/acme/applications', { name: 'sneaky' }],
      [`/portal/ns/acme/applications/${appId}/keys`, { key_scopes: 'messages:read' }],
      [`/portal/ns/acme/applications/${appId}/keys/${key.id}/revoke`, {}],
      [`/portal/ns/acme/applications/${appId}/delete`, {}],
      [`/portal/ns/acme/applications/${appId}/edit`, { name: 'renamed' }],
    ] as const) {
      const res = await viewer.post(path, fields)
      expect(res.res.status, path).toBe(403)
      expect(res.html).toContain('apps:write')
    }
    expect((await appsIn(acme.namespaceId)).length).toBe(before)
    expect((await keyRow(key.id))!.revokedAt).toBeNull()
    expect((await gw.call('GET', '/v1/namespaces/acme/channels', secret)).status).toBe(200)
  })
})

describe('tenancy and CSRF', () => {
  test("another namespace's application or key is not found, and nothing of it changes", async () => {
    expect((await dev.get(`/portal/ns/acme/applications/${betaApp.id}`)).res.status).toBe(404)
    expect((await dev.post(`/portal/ns/acme/applications/${betaApp.id}/keys`, { key_scopes: 'messages:read' })).res.status).toBe(404)
    expect((await dev.post(`/portal/ns/acme/applications/${betaApp.id}/delete`)).res.status).toBe(404)
    // Beta's key id under acme's own application.
    expect((await dev.post(`/portal/ns/acme/applications/${appId}/keys/${betaKey.key.id}/revoke`)).res.status).toBe(404)
    expect((await keyRow(betaKey.key.id))!.revokedAt).toBeNull()
    const betaClient = await createClient(gw.deps, beta.namespaceId, { applicationId: betaApp.id })
    expect((await dev.post(`/portal/ns/acme/applications/${appId}/clients/${betaClient.client.id}/revoke`)).res.status).toBe(404)
    // And beta's pages themselves: a non-member gets the same 404 as for no namespace.
    expect((await dev.get('/portal/ns/beta/applications')).res.status).toBe(404)
    expect((await appsIn(beta.namespaceId)).map((a) => a.id)).toContain(betaApp.id)
  })

  test('a form post without the CSRF token is refused and creates nothing', async () => {
    const before = (await appsIn(acme.namespaceId)).length
    const res = await dev.post('/portal/ns/acme/applications', { _csrf: '', name: 'forged' })
    expect(res.res.status).toBe(403)
    expect((await appsIn(acme.namespaceId)).length).toBe(before)
  })
})

describe('deleting an application', () => {
  test('takes its keys with it: they stop working', async () => {
    const doomed = await createApplication(gw.deps, acme.namespaceId, { name: 'doomed' })
    const { secret } = await createApiKey(gw.deps, acme.namespaceId, { applicationId: doomed.id })
    expect((await gw.call('GET', '/v1/namespaces/acme/channels', secret)).status).toBe(200)
    await dev.get(`/portal/ns/acme/applications/${doomed.id}`)
    const res = await dev.post(`/portal/ns/acme/applications/${doomed.id}/delete`)
    expect(res.res.status).toBe(303)
    expect(res.res.headers.get('location')).toBe('/portal/ns/acme/applications?notice=app-deleted')
    expect((await appsIn(acme.namespaceId)).some((a) => a.id === doomed.id)).toBe(false)
    expect((await gw.call('GET', '/v1/namespaces/acme/channels', secret)).status).toBe(401)
  })
})
