/**
 * A refresh refused because its token was rotated moments ago (two tabs refreshing at once;
 * docs/identity/people.md) leaves the cookie alone: the winning tab was just given the new one.
 * (The refusal answered `Set-Cookie: og_session=; Max-Age=0`, signing both tabs out while the
 * session lived on with nobody holding its refresh token.)
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

let gw: TestGateway
beforeAll(async () => {
  gw = await startTestGateway({ limits: { login_attempts_per_minute: 1000 } })
  const passwordHash = await hashPassword('two tabs password')
  await gw.deps.store.tx((tx) => insertUser(tx, { email: 'tabs@example.com', passwordHash, verified: true }, Date.now()))
})
afterAll(() => gw.close())

/** A browser's cookie jar for og_session: each answer's Set-Cookie applied in arrival order. */
function jar() {
  let value: string | null = null
  return {
    get: () => value,
    apply(res: Response) {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';')
        const [name, v] = pair!.split('=') as [string, string]
        if (name !== 'og_session') continue
        value = /max-age=0/i.test(c) || v === '' ? null : v
      }
    },
  }
}

test('two tabs refreshing with the same cookie at once: the browser keeps a working cookie', async () => {
  const browser = jar()
  browser.apply(await gw.call('POST', '/v1/auth/login', null, { email: 'tabs@example.com', password: 'two tabs password' }))
  const sent = browser.get()!
  const refresh = () => gw.app.request('/v1/auth/refresh', { method: 'POST', headers: { cookie: `og_session=${sent}` } })
  // Both tabs sent the same cookie; tab 1's answer arrives first, tab 2's (within the grace) second.
  const tab1 = await refresh()
  const tab2 = await refresh()
  expect(tab1.status).toBe(200)
  expect(tab2.status).toBe(401)
  browser.apply(tab1)
  browser.apply(tab2)
  // "Refused, but the session lives": the browser still holds a cookie of it that works.
  expect(browser.get()).not.toBeNull()
  const me = await gw.app.request('/v1/auth/me', { headers: { cookie: `og_session=${browser.get()}` } })
  expect(me.status).toBe(200)
})
