/**
 * Authentication, scopes and tenancy for every route (issue #3). The routes come from the
 * OpenAPI document, so a new route gets "no token", "bad token", "wrong scope" and "other
 * namespace" without anyone writing them; it only has to declare its scope in ROUTE_SCOPES.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { createApiKey, revokeApiKey } from '../../src/domain/identity/api-keys'
import { createApplication } from '../../src/domain/identity/applications'
import { createClient } from '../../src/domain/identity/clients'
import { login } from '../../src/domain/identity/sessions'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { ALL_SCOPES, type Scope } from '../../src/domain/identity/scopes'
import { apiKeys, namespaces } from '../../src/store/schema'
import { startTestGateway } from '../helpers/gateway'
import { expectProblem, type Problem } from '../helpers/problems'


/** The scope each documented operation needs. A route missing here fails the coverage test. */
const ROUTE_SCOPES: Record<string, Scope> = {
  'POST /v1/namespaces/{ns}/messages': 'messages:send',
  'GET /v1/namespaces/{ns}/messages': 'messages:read',
  'POST /v1/namespaces/{ns}/messages/batch': 'messages:send',
  'GET /v1/namespaces/{ns}/messages/{id}': 'messages:read',
  'POST /v1/namespaces/{ns}/messages/{id}/cancel': 'messages:send',
  'GET /v1/namespaces/{ns}/channels': 'channels:read',
  'POST /v1/namespaces/{ns}/channels': 'channels:write',
  'GET /v1/namespaces/{ns}/channels/{channel}': 'channels:read',
  'PATCH /v1/namespaces/{ns}/channels/{channel}': 'channels:write',
  'DELETE /v1/namespaces/{ns}/channels/{channel}': 'channels:write',
  'POST /v1/namespaces/{ns}/channels/{channel}/test': 'channels:write',
  'GET /v1/namespaces/{ns}/channels/{channel}/terminals': 'channels:read',
  'POST /v1/namespaces/{ns}/channels/{channel}/terminals': 'channels:write',
  'PATCH /v1/namespaces/{ns}/channels/{channel}/terminals/{terminal}': 'channels:write',
  'DELETE /v1/namespaces/{ns}/channels/{channel}/terminals/{terminal}': 'channels:write',
  'GET /v1/namespaces/{ns}/suppressions': 'messages:read',
  'POST /v1/namespaces/{ns}/suppressions': 'messages:send',
  'DELETE /v1/namespaces/{ns}/suppressions/{channel_type}/{recipient}': 'messages:send',
  'GET /v1/namespaces/{ns}/webhooks': 'webhooks:read',
  'POST /v1/namespaces/{ns}/webhooks': 'webhooks:write',
  'GET /v1/namespaces/{ns}/webhooks/{id}': 'webhooks:read',
  'PATCH /v1/namespaces/{ns}/webhooks/{id}': 'webhooks:write',
  'DELETE /v1/namespaces/{ns}/webhooks/{id}': 'webhooks:write',
  'POST /v1/namespaces/{ns}/webhooks/{id}/rotate-secret': 'webhooks:write',
  'GET /v1/namespaces/{ns}/webhooks/{id}/deliveries': 'webhooks:read',
  'POST /v1/namespaces/{ns}/webhooks/{id}/deliveries/{delivery_id}/retry': 'webhooks:write',
  'POST /v1/namespaces/{ns}/webhooks/{id}/recover': 'webhooks:write',
  'GET /v1/namespaces/{ns}/apps': 'apps:read',
  'POST /v1/namespaces/{ns}/apps': 'apps:write',
  'GET /v1/namespaces/{ns}/apps/{app}': 'apps:read',
  'PATCH /v1/namespaces/{ns}/apps/{app}': 'apps:write',
  'DELETE /v1/namespaces/{ns}/apps/{app}': 'apps:write',
  'GET /v1/namespaces/{ns}/apps/{app}/keys': 'apps:read',
  'POST /v1/namespaces/{ns}/apps/{app}/keys': 'apps:write',
  'DELETE /v1/namespaces/{ns}/apps/{app}/keys/{key_id}': 'apps:write',
  'GET /v1/namespaces/{ns}/apps/{app}/clients': 'apps:read',
  'POST /v1/namespaces/{ns}/apps/{app}/clients': 'apps:write',
  'DELETE /v1/namespaces/{ns}/apps/{app}/clients/{client_id}': 'apps:write',
  'GET /v1/namespaces/{ns}/audit': 'audit:read',
  'GET /v1/namespaces/{ns}/analytics/messages': 'analytics:read',
  'GET /v1/namespaces/{ns}/analytics/messages.csv': 'analytics:read',
  'GET /v1/namespaces/{ns}/members': 'members:read',
  'PATCH /v1/namespaces/{ns}/members/{user_id}': 'members:write',
  'DELETE /v1/namespaces/{ns}/members/{user_id}': 'members:write',
  'POST /v1/namespaces/{ns}/invitations': 'members:write',
  'GET /v1/namespaces/{ns}/invitations': 'members:read',
  'DELETE /v1/namespaces/{ns}/invitations/{invitation_id}': 'members:write',
  'GET /v1/namespaces/{ns}/provisioning': 'apps:read',
  'DELETE /v1/namespaces/{ns}': 'members:write',
  'GET /v1/namespaces/{ns}/retention': 'members:read',
  'PUT /v1/namespaces/{ns}/retention': 'members:write',
  'POST /v1/namespaces/{ns}/restore': 'members:write',
}

/**
 * Routes that need, besides their scope, the owner role (or an instance admin): an application
 * holding the scope gets 403 owner_required, and cannot delete the fixture's namespace.
 */
const OWNER_ONLY = new Set(['GET /v1/namespaces/{ns}/provisioning', 'DELETE /v1/namespaces/{ns}'])
/** Routes for instance admins alone, besides their scope: an application holding it gets 403 instance_admin_required. */
const ADMIN_ONLY = new Set(['GET /v1/namespaces/{ns}/retention', 'PUT /v1/namespaces/{ns}/retention', 'POST /v1/namespaces/{ns}/restore'])

// One gateway for the whole file: the refusal scenarios never reach a handler, so they can share
// the fixture (namespace A with a channel, a terminal and a scheduled message; namespace B).
const gw = await startTestGateway()
afterAll(() => gw.close())

const acme = await gw.tenant('acme')
const umbrella = await gw.tenant('umbrella')
const channelId = await gw.channel(acme.namespaceId, 'alerts')
expect((await gw.call('POST', '/v1/namespaces/acme/channels/alerts/terminals', acme.key, { address: 'bot-1' })).status).toBe(201)
const scheduled = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, {
  channel: 'alerts',
  to: 'alice',
  content: { text: 'later' },
  send_at: new Date(Date.now() + 3_600_000).toISOString(),
})
const messageId = ((await scheduled.json()) as { id: string }).id
// An application of A for the apps routes: not the one whose key the tests use, since it may be deleted.
const fixtureApp = await createApplication(gw.deps, acme.namespaceId, { name: 'fixture-app' })
const fixtureKeyId = (await createApiKey(gw.deps, acme.namespaceId, { applicationId: fixtureApp.id })).key.id
const fixtureClientId = (await createClient(gw.deps, acme.namespaceId, { applicationId: fixtureApp.id })).client.id
// An instance admin, for the routes only admins get past (cheap argon2: one login).
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })
await gw.deps.store.tx(async (tx) => insertUser(tx, { email: 'root@example.com', passwordHash: await hashPassword('auth test password'), instanceAdmin: true }, Date.now()))
const rootToken = (await login(gw.deps, { email: 'root@example.com', password: 'auth test password' })).accessToken

/** What each path parameter is replaced with: namespace A's real resources. */
const PARAMS: Record<string, string> = {
  ns: 'acme',
  channel: 'alerts',
  terminal: 'bot-1',
  id: messageId,
  channel_type: 'sandbox',
  recipient: 'alice',
  delivery_id: 'whd_none',
  app: 'fixture-app',
  key_id: fixtureKeyId,
  client_id: fixtureClientId,
  user_id: 'usr_none',
  invitation_id: 'inv_none',
}
/** Ids of A's data that must never show up in an answer to someone else. */
const A_SECRETS = [acme.namespaceId, channelId, messageId, fixtureApp.id, fixtureKeyId, fixtureClientId]

const keys = new Map<string, string>()
/** An API key of a namespace with exactly these scopes (made once, then reused). */
async function keyWith(tenant: typeof acme, scopes: string[]): Promise<string> {
  const id = `${tenant.namespaceId} ${[...scopes].sort().join(',')}`
  if (!keys.has(id)) keys.set(id, (await createApiKey(gw.deps, tenant.namespaceId, { applicationId: tenant.applicationId, scopes })).secret)
  return keys.get(id)!
}

/** A scope of another resource: nothing a route of `scope`'s resource should accept. */
const unrelatedTo = (scope: Scope) => ALL_SCOPES.find((s) => s.split(':')[0] !== scope.split(':')[0])!

type Operation = { method: string; template: string; path: string; hasBody: boolean; scope: Scope | undefined }

const doc = (await (await gw.app.request('/openapi.json')).json()) as {
  paths: Record<string, Record<string, { requestBody?: unknown; security?: Record<string, string[]>[] }>>
}
// Namespaced routes: /v1/event-types is the same for every caller and is tested with webhooks.
const operations: Operation[] = Object.entries(doc.paths).filter(([template]) => template.startsWith('/v1/namespaces/')).flatMap(([template, ops]) =>
  Object.entries(ops).map(([method, op]) => ({
    method: method.toUpperCase(),
    template,
    path: template.replace(/\{(\w+)\}/g, (_, name: string) => {
      if (!(name in PARAMS)) throw new Error(`auth.test.ts has no fixture for the path parameter {${name}} of ${template}`)
      return encodeURIComponent(PARAMS[name]!)
    }),
    hasBody: op.requestBody !== undefined,
    scope: ROUTE_SCOPES[`${method.toUpperCase()} ${template}`],
  })),
)

const request = (op: Operation, key: string | null, headers: Record<string, string> = {}) =>
  gw.call(op.method, op.path, key, op.hasBody ? {} : undefined, headers)

test('the OpenAPI document lists the API, and every operation declares its scope here', () => {
  expect(operations.length).toBeGreaterThanOrEqual(Object.keys(ROUTE_SCOPES).length)
  const undeclared = operations.filter((op) => op.scope === undefined).map((op) => `${op.method} ${op.template}`)
  expect(undeclared).toEqual([])
  // The document tells clients the same scope the route enforces.
  for (const op of operations) {
    expect([`${op.method} ${op.template}`, doc.paths[op.template]![op.method.toLowerCase()]!.security]).toEqual([
      `${op.method} ${op.template}`,
      [{ apiKey: [op.scope!] }],
    ])
  }
})

describe.each(operations.map((op) => [`${op.method} ${op.template}`, op] as const))('%s', (_, op) => {
  test('no token → 401', async () => {
    await expectProblem(await request(op, null), 401, 'unauthorized')
  })

  test('bad token → 401', async () => {
    await expectProblem(await request(op, `og_live_${'x'.repeat(32)}`), 401, 'unauthorized')
  })

  test('wrong scope (only an unrelated one) → 403 insufficient_scope', async () => {
    const problem = await expectProblem(await request(op, await keyWith(acme, [unrelatedTo(op.scope!)])), 403, 'insufficient_scope')
    expect(problem.detail).toContain(op.scope!)
  })

  test('every scope but its own → 403 insufficient_scope', async () => {
    await expectProblem(await request(op, await keyWith(acme, ALL_SCOPES.filter((s) => s !== op.scope))), 403, 'insufficient_scope')
  })

  test('other namespace → 404 namespace_not_found, nothing of the namespace revealed', async () => {
    const res = await request(op, umbrella.key)
    const text = await res.clone().text()
    await expectProblem(res, 404, 'namespace_not_found')
    for (const secret of A_SECRETS) expect(text).not.toContain(secret)
  })

  test('other namespace, even without the scope → 404, never 403', async () => {
    await expectProblem(await request(op, await keyWith(umbrella, [unrelatedTo(op.scope!)])), 404, 'namespace_not_found')
  })

  test('a namespace that does not exist answers exactly like another one', async () => {
    const missing = await request({ ...op, path: op.path.replace('/namespaces/acme', '/namespaces/no-such-ns') }, acme.key)
    await expectProblem(missing, 404, 'namespace_not_found')
  })
})

// Last: these reach the handlers and may change the fixture (a terminal deleted, a message
// cancelled), which can only turn a later answer into a 404 or 409, never into 401 or 403.
describe.each(operations.map((op) => [`${op.method} ${op.template}`, op] as const))('%s', (_, op) => {
  test('its own scope alone is enough, by namespace slug or id', async () => {
    const key = await keyWith(acme, [op.scope!])
    for (const path of [op.path, op.path.replace('/namespaces/acme', `/namespaces/${acme.namespaceId}`)]) {
      const res = await gw.call(op.method, path, key, op.hasBody ? {} : undefined)
      if (OWNER_ONLY.has(`${op.method} ${op.template}`)) {
        await expectProblem(res, 403, 'owner_required')
        continue
      }
      if (ADMIN_ONLY.has(`${op.method} ${op.template}`)) {
        await expectProblem(res, 403, 'instance_admin_required')
        continue
      }
      expect([401, 403]).not.toContain(res.status)
      expect(res.status).toBeLessThan(500)
      if (res.status === 404) expect(((await res.json()) as Problem).code).not.toBe('namespace_not_found')
    }
  })
})

describe('credentials', () => {
  const route = '/v1/namespaces/acme/channels'

  test('malformed, tampered or foreign credentials are 401', async () => {
    const valid = acme.key
    const tampered = valid.slice(0, -1) + (valid.endsWith('A') ? 'B' : 'A')
    const headers: Record<string, string>[] = [
      {},
      { authorization: '' },
      { authorization: 'Bearer' },
      { authorization: `Basic ${btoa('acme:secret')}` },
      { authorization: `Token ${valid}` },
      { authorization: 'Bearer not-an-og-key' },
      { authorization: 'Bearer og_live_short' },
      { authorization: `Bearer ${tampered}` },
      { authorization: `Bearer ${valid}x` },
      { authorization: `Bearer ${valid} ${valid}` },
      { 'x-api-key': valid },
    ]
    for (const h of headers) await expectProblem(await gw.app.request(route, { headers: h }), 401, 'unauthorized')
  })

  test('the Bearer scheme is case-insensitive', async () => {
    expect((await gw.app.request(route, { headers: { authorization: `bearer ${acme.key}` } })).status).toBe(200)
  })

  test('keys look like og_live_…', () => {
    expect(acme.key).toMatch(/^og_live_[A-Za-z0-9_-]{32}$/)
  })

  test('a key revoked in this process is refused at once', async () => {
    const { key, secret } = await createApiKey(gw.deps, acme.namespaceId, { applicationId: acme.applicationId })
    expect((await gw.call('GET', route, secret)).status).toBe(200)
    await revokeApiKey(gw.deps, acme.namespaceId, key.id)
    await expectProblem(await gw.call('GET', route, secret), 401, 'unauthorized')
  })

  test('a key revoked by another process (straight in the store) is refused once the 1 s auth cache has passed', async () => {
    const { key, secret } = await createApiKey(gw.deps, acme.namespaceId, { applicationId: acme.applicationId })
    // Fills the auth cache with this key's principal.
    expect((await gw.call('GET', route, secret)).status).toBe(200)
    await gw.deps.store.tx((tx) => tx.update(apiKeys).set({ revokedAt: Date.now() }).where(eq(apiKeys.id, key.id)))
    await Bun.sleep(1100)
    await expectProblem(await gw.call('GET', route, secret), 401, 'unauthorized')
  })

  test('an expired key is refused; one that expires later works until then', async () => {
    const expired = await createApiKey(gw.deps, acme.namespaceId, { applicationId: acme.applicationId, expiresAt: Date.now() - 1000 })
    await expectProblem(await gw.call('GET', route, expired.secret), 401, 'unauthorized')

    const inAMinute = () => createApiKey(gw.deps, acme.namespaceId, { applicationId: acme.applicationId, expiresAt: Date.now() + 60_000 })
    const [stillValid, expiresSoon] = [await inAMinute(), await inAMinute()]
    expect((await gw.call('GET', route, stillValid.secret)).status).toBe(200)
    // The clock moves past the expiry; this key has not been seen yet, so no cache can hide it.
    const realNow = gw.deps.now
    gw.deps.now = () => Date.now() + 120_000
    try {
      await expectProblem(await gw.call('GET', route, expiresSoon.secret), 401, 'unauthorized')
    } finally {
      gw.deps.now = realNow
    }
  })

  test('a key of a disabled namespace is refused', async () => {
    const initech = await gw.tenant('initech')
    await gw.deps.store.tx((tx) => tx.update(namespaces).set({ status: 'disabled' }).where(eq(namespaces.id, initech.namespaceId)))
    await expectProblem(await gw.call('GET', '/v1/namespaces/initech/channels', initech.key), 401, 'unauthorized')
  })

  test('an unknown route under /v1 still asks for a credential first', async () => {
    await expectProblem(await gw.call('GET', '/v1/namespaces/acme/nothing-here', null), 401, 'unauthorized')
    await expectProblem(await gw.call('GET', '/v1/namespaces/acme/nothing-here', acme.key), 404, 'not_found')
  })
})

describe('every problem is problem+json, never a 500 for a user mistake', () => {
  const withBody = operations.filter((op) => op.hasBody)

  test.each(withBody.map((op) => [`${op.method} ${op.template}`, op] as const))('%s: malformed JSON → 400, an array → 422', async (_, op) => {
    const key = ADMIN_ONLY.has(`${op.method} ${op.template}`) ? rootToken : acme.key
    await expectProblem(await gw.call(op.method, op.path, key, '{"oops": '), 400, 'malformed_json')
    const problem = await expectProblem(await gw.call(op.method, op.path, key, '[1, 2]'), 422, 'validation_failed')
    expect(problem.errors?.length).toBeGreaterThan(0)
  })

  // Bodies that pass validation, so the lookup of the unknown id is what answers.
  const VALID_BODIES: Record<string, unknown> = {
    'POST /v1/namespaces/{ns}/channels/{channel}/terminals': { address: 'bot-2' },
    'PATCH /v1/namespaces/{ns}/channels/{channel}/terminals/{terminal}': { name: 'renamed' },
    'PATCH /v1/namespaces/{ns}/channels/{channel}': { status: 'paused' },
    'POST /v1/namespaces/{ns}/webhooks/{id}/recover': { since: '2026-01-01T00:00:00Z' },
  }
  const withIds = operations.filter((op) => /\{(id|channel|terminal)\}/.test(op.template))
  test.each(withIds.map((op) => [`${op.method} ${op.template}`, op] as const))('%s: unknown ids → 404', async (_, op) => {
    const path = op.template
      .replace('{ns}', 'acme')
      .replace('{channel}', 'no-such-channel')
      .replace('{terminal}', 'no-such-terminal')
      .replace('{id}', 'msg_00000000000000000000000000000000')
    const res = await gw.call(op.method, path, acme.key, op.hasBody ? (VALID_BODIES[`${op.method} ${op.template}`] ?? {}) : undefined)
    const problem = await expectProblem(res, 404, ((await res.clone().json()) as Problem).code)
    expect(problem.code).toMatch(/^(channel|terminal|message|webhook|delivery)_not_found$/)
  })
})
