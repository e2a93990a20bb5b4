/**
 * No credential outlives the application credential that makes it (docs/identity/applications.md):
 * a key or client made by a key that expires, or by a client token, expires with its creator,
 * and asking for later is refused. (Scopes were bounded, lifetime was not: a 15-minute token
 * could mint a key that never expires.)
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

type KeyBody = { id: string; key?: string; expires_at: string | null }

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
beforeAll(async () => {
  gw = await startTestGateway()
  acme = await gw.tenant('acme')
  expect((await gw.call('POST', APPS, acme.key, { name: 'ci' })).status).toBe(201)
})
afterAll(() => gw.close())

const APPS = '/v1/namespaces/acme/apps'

test('a key that expires bounds what it makes: its expiry by default, later refused naming expires_at', async () => {
  const creatorExpiry = new Date(Date.now() + 60 * 60_000).toISOString()
  const creatorRes = await gw.call('POST', `${APPS}/ci/keys`, acme.key, { scopes: ['apps:write', 'messages:send'], expires_at: creatorExpiry })
  expect(creatorRes.status).toBe(201)
  const creator = (await creatorRes.json()) as KeyBody

  const unbounded = await gw.call('POST', `${APPS}/ci/keys`, creator.key!, { scopes: ['messages:send'] })
  expect(unbounded.status).toBe(201)
  expect(((await unbounded.json()) as KeyBody).expires_at).toBe(creatorExpiry)

  const later = await gw.call('POST', `${APPS}/ci/clients`, creator.key!, { scopes: ['messages:send'], expires_at: new Date(Date.now() + 2 * 3_600_000).toISOString() })
  expect(later.status).toBe(422)
  expect(((await later.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['expires_at'])

  const sooner = new Date(Date.now() + 30 * 60_000).toISOString()
  const ok = await gw.call('POST', `${APPS}/ci/keys`, creator.key!, { scopes: ['messages:send'], expires_at: sooner })
  expect([ok.status, ((await ok.json()) as KeyBody).expires_at]).toEqual([201, sooner])
})

test('a client token makes keys that expire with the token', async () => {
  const clientRes = await gw.call('POST', `${APPS}/ci/clients`, acme.key, { scopes: ['apps:write', 'messages:send'] })
  const client = (await clientRes.json()) as { client_id: string; client_secret: string }
  const tokenRes = await gw.app.request('/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret }).toString(),
  })
  const { access_token: token, expires_in: expiresIn } = (await tokenRes.json()) as { access_token: string; expires_in: number }
  const before = Date.now()
  const res = await gw.call('POST', `${APPS}/ci/keys`, token, { scopes: ['messages:send'] })
  expect(res.status).toBe(201)
  const minted = (await res.json()) as KeyBody
  expect(minted.expires_at).not.toBeNull()
  expect(Date.parse(minted.expires_at!)).toBeLessThanOrEqual(before + expiresIn * 1000 + 1000)
})

test('a key without expiry, or a person, makes credentials without one', async () => {
  const res = await gw.call('POST', `${APPS}/ci/keys`, acme.key, { scopes: ['messages:send'] })
  expect([res.status, ((await res.json()) as KeyBody).expires_at]).toEqual([201, null])
})
