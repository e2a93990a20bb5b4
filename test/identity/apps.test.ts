/**
 * /v1/namespaces/{ns}/apps (issue #6): applications, their API keys and OAuth clients —
 * secrets shown once and stored hashed, scopes no wider than the creator's, revocation that
 * bites at once, and nothing of one namespace reachable from another.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { eq } from 'drizzle-orm'
import fc from 'fast-check'
import { ALL_SCOPES } from '../../src/domain/identity/scopes'
import { apiKeys, applications, oauthClients } from '../../src/store/schema'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

type FieldError = { field: string; message: string }
type Problem = { type: string; code: string; title: string; status: number; detail: string; errors?: FieldError[] }
type AppBody = { id: string; name: string; description: string; rate_limit: number | null; created_at: string; updated_at: string }
type KeyBody = { id: string; application_id: string; name: string; prefix: string; scopes: string[]; expires_at: string | null; revoked_at: string | null; key?: string }
type ClientBody = { client_id: string; application_id: string; name: string; scopes: string[]; expires_at: string | null; revoked_at: string | null; created_at: string; client_secret?: string }

async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toStartWith('application/problem+json')
  const body = (await res.json()) as Problem
  expect(body).toMatchObject({ type: `/problems/${code}`, code, status })
  return body
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
const APPS = '/v1/namespaces/acme/apps'

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
let umbrella: Awaited<ReturnType<TestGateway['tenant']>>
beforeAll(async () => {
  // The property test below sends a burst from one namespace; request rate limits are not what it checks.
  gw = await startTestGateway({ limits: { namespace_requests_per_second: 0 } })
  acme = await gw.tenant('acme')
  umbrella = await gw.tenant('umbrella')
})
afterAll(() => gw.close())

const call = (method: string, path: string, body?: unknown, key = acme.key) => gw.call(method, path, key, body)
async function createApp(name: string, extra: Record<string, unknown> = {}): Promise<AppBody> {
  const res = await call('POST', APPS, { name, ...extra })
  expect(res.status).toBe(201)
  return (await res.json()) as AppBody
}
async function createKey(app: string, body: Record<string, unknown> = {}, key = acme.key): Promise<KeyBody> {
  const res = await call('POST', `${APPS}/${app}/keys`, body, key)
  expect(res.status).toBe(201)
  return (await res.json()) as KeyBody
}
async function createClient(app: string, body: Record<string, unknown> = {}, key = acme.key): Promise<ClientBody> {
  const res = await call('POST', `${APPS}/${app}/clients`, body, key)
  expect(res.status).toBe(201)
  return (await res.json()) as ClientBody
}

describe('applications', () => {
  test('create, read by id and by name, list, update and delete', async () => {
    const app = await createApp('billing', { description: 'invoices', rate_limit: 50 })
    expect(app).toEqual({
      id: expect.stringMatching(/^app_[0-9a-f]{32}$/),
      name: 'billing',
      description: 'invoices',
      rate_limit: 50,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    })
    for (const ref of [app.id, 'billing']) expect(await (await call('GET', `${APPS}/${ref}`)).json()).toEqual(app)
    const listed = (await (await call('GET', APPS)).json()) as { data: AppBody[]; next_cursor: null }
    expect(listed.data.map((a) => a.name)).toContain('billing')
    expect(listed.next_cursor).toBeNull()

    const patched = await call('PATCH', `${APPS}/billing`, { name: 'invoicing', rate_limit: null })
    expect(patched.status).toBe(200)
    expect(await patched.json()).toMatchObject({ id: app.id, name: 'invoicing', description: 'invoices', rate_limit: null })
    const [row] = await gw.deps.store.read.select().from(applications).where(eq(applications.id, app.id))
    expect(row).toMatchObject({ name: 'invoicing', rateLimit: null })

    expect((await call('DELETE', `${APPS}/invoicing`)).status).toBe(204)
    await expectProblem(await call('GET', `${APPS}/${app.id}`), 404, 'application_not_found')
    await expectProblem(await call('DELETE', `${APPS}/${app.id}`), 404, 'application_not_found')
  })

  test('bad input names the field; a taken name is 409', async () => {
    const unknown = await expectProblem(await call('POST', APPS, { name: 'x', owner: 'me' }), 422, 'validation_failed')
    expect(unknown.errors).toEqual([{ field: 'owner', message: 'unknown field' }])
    const limit = await expectProblem(await call('POST', APPS, { name: 'x', rate_limit: 0 }), 422, 'validation_failed')
    expect(limit.errors!.map((e) => e.field)).toEqual(['rate_limit'])
    const blank = await expectProblem(await call('POST', APPS, { name: '   ' }), 422, 'validation_failed')
    expect(blank.errors!.map((e) => e.field)).toEqual(['name'])
    await createApp('taken')
    await expectProblem(await call('POST', APPS, { name: 'taken' }), 409, 'conflict')
    await createApp('other')
    await expectProblem(await call('PATCH', `${APPS}/other`, { name: 'taken' }), 409, 'conflict')
  })

  test('deleting an application stops its keys and client tokens at once', async () => {
    await createApp('doomed')
    const key = await createKey('doomed')
    const client = await createClient('doomed')
    const token = await exchange(client)
    for (const credential of [key.key!, token]) expect((await call('GET', `${APPS}`, undefined, credential)).status).toBe(200)
    expect((await call('DELETE', `${APPS}/doomed`)).status).toBe(204)
    for (const credential of [key.key!, token]) await expectProblem(await call('GET', APPS, undefined, credential), 401, 'unauthorized')
    expect(await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.id, key.id))).toEqual([])
  })
})

/** Client credentials → access token through the token endpoint. */
async function exchange(client: ClientBody, scope?: string): Promise<string> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret! })
  if (scope) form.set('scope', scope)
  const res = await gw.app.request('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() })
  expect(res.status).toBe(200)
  return ((await res.json()) as { access_token: string }).access_token
}

describe('API keys', () => {
  test('the key is shown once, stored as its SHA-256, and works with exactly its scopes', async () => {
    await createApp('keys-app')
    const created = await createKey('keys-app', { name: 'ci', scopes: ['channels:read'] })
    expect(created.key).toMatch(/^og_live_[A-Za-z0-9_-]{32}$/)
    expect(created).toMatchObject({ name: 'ci', scopes: ['channels:read'], prefix: `og_live_${created.key!.slice(8, 20)}…`, revoked_at: null, expires_at: null })

    const [row] = await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.id, created.id))
    expect(row!.hash).toBe(sha256(created.key!))
    expect(JSON.stringify(row)).not.toContain(created.key!)

    const listed = await (await call('GET', `${APPS}/keys-app/keys`)).text()
    expect(listed).toContain(created.id)
    expect(listed).not.toContain(created.key!)
    expect((await call('GET', `${APPS}/keys-app`)).status).toBe(200)
    expect((await call('GET', '/v1/namespaces/acme/channels', undefined, created.key!)).status).toBe(200)
    const refused = await expectProblem(await call('GET', APPS, undefined, created.key!), 403, 'insufficient_scope')
    expect(refused.detail).toContain('apps:read')
  })

  test('only the application\'s own keys are listed', async () => {
    await createApp('lister-a')
    await createApp('lister-b')
    const a = await createKey('lister-a')
    const b = await createKey('lister-b')
    const listed = (await (await call('GET', `${APPS}/lister-a/keys`)).json()) as { data: KeyBody[] }
    expect(listed.data.map((k) => k.id)).toEqual([a.id])
    expect(listed.data.map((k) => k.id)).not.toContain(b.id)
  })

  test('revoke: 204, refused at once, revoking again keeps the first time', async () => {
    await createApp('revoker')
    const created = await createKey('revoker')
    expect((await call('GET', APPS, undefined, created.key!)).status).toBe(200)
    expect((await call('DELETE', `${APPS}/revoker/keys/${created.id}`)).status).toBe(204)
    await expectProblem(await call('GET', APPS, undefined, created.key!), 401, 'unauthorized')
    const [first] = await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.id, created.id))
    expect(first!.revokedAt).toBeNumber()
    await Bun.sleep(5)
    expect((await call('DELETE', `${APPS}/revoker/keys/${created.id}`)).status).toBe(204)
    const [again] = await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.id, created.id))
    expect(again!.revokedAt).toBe(first!.revokedAt)
    const listed = (await (await call('GET', `${APPS}/revoker/keys`)).json()) as { data: KeyBody[] }
    expect(listed.data[0]!.revoked_at).toBe(new Date(first!.revokedAt!).toISOString())
  })

  test('a key cannot be revoked through another application of the namespace', async () => {
    await createApp('owner-app')
    await createApp('bystander')
    const created = await createKey('owner-app')
    await expectProblem(await call('DELETE', `${APPS}/bystander/keys/${created.id}`), 404, 'api_key_not_found')
    expect((await call('GET', APPS, undefined, created.key!)).status).toBe(200)
  })

  test('expires_at: in the past is refused, in the future is kept and honoured', async () => {
    await createApp('expiring')
    const past = await expectProblem(await call('POST', `${APPS}/expiring/keys`, { expires_at: '2020-01-01T00:00:00Z' }), 422, 'validation_failed')
    expect(past.errors).toEqual([{ field: 'expires_at', message: 'must be in the future' }])
    const bad = await expectProblem(await call('POST', `${APPS}/expiring/keys`, { expires_at: 'tomorrow' }), 422, 'validation_failed')
    expect(bad.errors!.map((e) => e.field)).toEqual(['expires_at'])
    const at = new Date(Date.now() + 60_000).toISOString()
    const created = await createKey('expiring', { expires_at: at })
    expect(created.expires_at).toBe(at)
    expect((await call('GET', APPS, undefined, created.key!)).status).toBe(200)
  })

  test('unknown scopes are 422 naming the index', async () => {
    await createApp('scoped')
    const problem = await expectProblem(await call('POST', `${APPS}/scoped/keys`, { scopes: ['messages:send', 'root'] }), 422, 'validation_failed')
    expect(problem.errors).toEqual([{ field: 'scopes.1', message: expect.stringContaining('unknown scope "root"') }])
  })
})

describe('OAuth clients', () => {
  test('the secret is shown once and stored as its SHA-256; list and revoke', async () => {
    await createApp('svc')
    const created = await createClient('svc', { name: 'worker', scopes: ['messages:send', 'channels:read'] })
    expect(created).toEqual({
      client_id: expect.stringMatching(/^cli_[0-9a-f]{32}$/),
      client_secret: expect.stringMatching(/^og_secret_[A-Za-z0-9_-]{32}$/),
      application_id: expect.stringMatching(/^app_/),
      name: 'worker',
      scopes: ['messages:send', 'channels:read'],
      expires_at: null,
      revoked_at: null,
      created_at: expect.any(String),
    })
    const [row] = await gw.deps.store.read.select().from(oauthClients).where(eq(oauthClients.id, created.client_id))
    expect(row!.secretHash).toBe(sha256(created.client_secret!))
    expect(JSON.stringify(row)).not.toContain(created.client_secret!)

    const listed = await (await call('GET', `${APPS}/svc/clients`)).text()
    expect(listed).toContain(created.client_id)
    expect(listed).not.toContain(created.client_secret!)

    const token = await exchange(created)
    expect((await call('GET', '/v1/namespaces/acme/channels', undefined, token)).status).toBe(200)
    expect((await call('DELETE', `${APPS}/svc/clients/${created.client_id}`)).status).toBe(204)
    await expectProblem(await call('GET', '/v1/namespaces/acme/channels', undefined, token), 401, 'unauthorized')
    const [revoked] = await gw.deps.store.read.select().from(oauthClients).where(eq(oauthClients.id, created.client_id))
    expect(revoked!.revokedAt).toBeNumber()
    await expectProblem(await call('DELETE', `${APPS}/svc/clients/cli_nope`), 404, 'client_not_found')
  })
})

describe('no credential is stronger than its creator', () => {
  test('a key with apps:write alone cannot mint a key or client with messages:send: 403 naming it', async () => {
    await createApp('limited')
    const minter = await createKey('limited', { scopes: ['apps:write'] })
    for (const kind of ['keys', 'clients']) {
      const res = await call('POST', `${APPS}/limited/${kind}`, { scopes: ['apps:write', 'messages:send'] }, minter.key!)
      const problem = await expectProblem(res, 403, 'scope_not_held')
      expect(problem.detail).toContain('messages:send')
      expect(problem.errors).toEqual([{ field: 'scopes.1', message: expect.stringContaining('messages:send') }])
    }
    expect(await gw.deps.store.read.select().from(oauthClients).where(eq(oauthClients.applicationId, minter.application_id))).toEqual([])
    expect((await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.applicationId, minter.application_id))).length).toBe(1)
  })

  test('without scopes, a new credential gets exactly the creator\'s', async () => {
    await createApp('inherit')
    const minter = await createKey('inherit', { scopes: ['apps:write', 'channels:read'] })
    expect((await createKey('inherit', {}, minter.key!)).scopes.sort()).toEqual(['apps:write', 'channels:read'])
    expect((await createClient('inherit', { scopes: ['channels:read'] }, minter.key!)).scopes).toEqual(['channels:read'])
    expect((await createClient('inherit', {}, minter.key!)).scopes.sort()).toEqual(['apps:write', 'channels:read'])
  })

  test('a client token narrowed to apps:write cannot mint anything wider either', async () => {
    await createApp('narrow')
    const client = await createClient('narrow')
    const token = await exchange(client, 'apps:write')
    await expectProblem(await call('POST', `${APPS}/narrow/keys`, { scopes: ['channels:read'] }, token), 403, 'scope_not_held')
    expect((await createKey('narrow', {}, token)).scopes).toEqual(['apps:write'])
  })
})

describe('isolation', () => {
  test("another namespace's credential reaches none of acme's applications, keys or clients, and changes nothing", async () => {
    const app = await createApp('private')
    const key = await createKey('private')
    const client = await createClient('private')
    const attempts: [string, string, unknown?][] = [
      ['GET', `${APPS}`],
      ['GET', `${APPS}/${app.id}`],
      ['PATCH', `${APPS}/${app.id}`, { name: 'stolen' }],
      ['DELETE', `${APPS}/${app.id}`],
      ['POST', `${APPS}/${app.id}/keys`, {}],
      ['DELETE', `${APPS}/${app.id}/keys/${key.id}`],
      ['POST', `${APPS}/${app.id}/clients`, {}],
      ['DELETE', `${APPS}/${app.id}/clients/${client.client_id}`],
    ]
    for (const [method, path, body] of attempts) {
      const res = await call(method, path, body, umbrella.key)
      const text = await res.clone().text()
      await expectProblem(res, 404, 'namespace_not_found')
      expect(text).not.toContain(app.id)
      // The same ids through the caller's own namespace: acme's rows are not there.
      const own = await call(method, path.replace('/namespaces/acme/', '/namespaces/umbrella/'), body, umbrella.key)
      if (method === 'GET' && path === APPS) expect(await own.text()).not.toContain(app.id)
      else expect([404]).toContain(own.status)
    }
    expect(await (await call('GET', `${APPS}/${app.id}`)).json()).toMatchObject({ name: 'private' })
    expect((await call('GET', APPS, undefined, key.key!)).status).toBe(200)
    expect((await call('GET', APPS, undefined, await exchange(client))).status).toBe(200)
  })

  test('property: random application names and ids from another namespace are 404 and never leak acme data', async () => {
    const app = await createApp('target')
    const refs = fc.oneof(fc.constant(app.id), fc.constant('target'), fc.string({ minLength: 1, maxLength: 30 }))
    await fc.assert(
      fc.asyncProperty(refs, fc.constantFrom('GET', 'PATCH', 'DELETE'), async (ref, method) => {
        // "." and ".." are path segments URL parsing resolves away (…/apps/. is the list).
        fc.pre(ref !== '.' && ref !== '..')
        const res = await call(method, `/v1/namespaces/umbrella/apps/${encodeURIComponent(ref)}`, method === 'PATCH' ? { description: 'x' } : undefined, umbrella.key)
        if (ref === 'test-app') return // umbrella's own application
        const text = await res.text()
        // Exactly the answer for a name that never existed anywhere.
        expect(res.status).toBe(404)
        expect(JSON.parse(text)).toMatchObject({ code: 'application_not_found', detail: `application "${ref}" does not exist` })
        expect(text).not.toContain(acme.namespaceId)
      }),
      { numRuns: 100 },
    )
    expect(await (await call('GET', `${APPS}/target`)).json()).toEqual(app)
  })

  test('every scope a key can be given is a known scope', async () => {
    await createApp('all-scopes')
    expect((await createKey('all-scopes')).scopes.sort()).toEqual([...ALL_SCOPES].sort())
  })
})
