/** The session cookie authenticates a state-changing request only from the gateway's own origin. */
import { afterAll, expect, test } from 'bun:test'
import { createInstanceAdmin, setPasswordHashCost } from '../../src/domain/identity/users'
import { startTestGateway } from '../helpers/gateway'

// Cheap argon2 in tests: the cost is not what is under test.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })
const gw = await startTestGateway()
afterAll(() => gw.close())
const acme = await gw.tenant('acme')
await gw.channel(acme.namespaceId, 'sandbox')
await createInstanceAdmin(gw.deps, { email: 'ops@example.com', password: 'correct horse battery staple' })
const login = await gw.app.request('/v1/auth/login', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ email: 'ops@example.com', password: 'correct horse battery staple' }),
})
const cookie = `og_session=${/og_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]}`
const origin = new URL(gw.deps.publicUrl).origin
const send = (headers: Record<string, string>) =>
  gw.app.request('/v1/namespaces/acme/messages', {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ channel: 'sandbox', to: 'a@example.com', content: { text: 'hi' } }),
  })

test('a cookie-authenticated POST from another site, or with no origin at all, is refused', async () => {
  const cases: Record<string, string>[] = [{}, { origin: 'https://evil.example' }, { 'sec-fetch-site': 'same-site' }, { 'sec-fetch-site': 'cross-site', origin }]
  for (const headers of cases) {
    const res = await send(headers)
    expect(res.status).toBe(403)
    expect(((await res.json()) as { code: string }).code).toBe('cross_origin_request')
  }
})

test('from the gateway\'s own origin it goes through; reads need no origin', async () => {
  expect((await send({ origin })).status).toBe(202)
  expect((await send({ 'sec-fetch-site': 'same-origin' })).status).toBe(202)
  expect((await gw.app.request('/v1/namespaces/acme/messages', { headers: { cookie } })).status).toBe(200)
})

test('a bearer token needs no origin (it is not sent by the browser on its own)', async () => {
  const { access_token } = (await login.clone().json()) as { access_token: string }
  expect((await gw.call('POST', '/v1/namespaces/acme/messages', access_token, { channel: 'sandbox', to: 'a@example.com', content: { text: 'hi' } })).status).toBe(202)
})

test('logins and logouts are in the audit log, with the user and never a secret', async () => {
  const { auditLog } = await import('../../src/store/schema')
  const { access_token } = (await login.clone().json()) as { access_token: string }
  await gw.app.request('/v1/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${access_token}` } })
  const rows = await gw.deps.store.read.select().from(auditLog)
  const actions = rows.map((r) => r.action)
  expect(actions).toContain('POST /v1/auth/login')
  expect(actions).toContain('POST /v1/auth/logout')
  const entry = rows.find((r) => r.action === 'POST /v1/auth/login')!
  expect(entry).toMatchObject({ actorType: 'user', resourceType: 'user' })
  expect(entry.actorId).toStartWith('usr_')
  expect(JSON.stringify(rows)).not.toContain('correct horse battery staple')
})
