/**
 * The API's sign-in and the portal's count attempts against one limiter: guessing through both
 * gets `login_attempts_per_minute`, not twice that (each kept its own).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { startTestGateway, type TestGateway } from '../helpers/gateway'
import { portalClient } from '../portal/portal-client'

setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const PER_MINUTE = 3
let gw: TestGateway
beforeAll(async () => {
  gw = await startTestGateway({ limits: { login_attempts_per_minute: PER_MINUTE } })
  const passwordHash = await hashPassword('the right password')
  await gw.deps.store.tx((tx) => insertUser(tx, { email: 'victim@example.com', passwordHash, verified: true }, Date.now()))
})
afterAll(() => gw.close())

test('wrong-password guesses for one account are limited across the API and the portal together', async () => {
  const statuses: number[] = []
  for (let i = 0; i < PER_MINUTE; i++) {
    const res = await gw.call('POST', '/v1/auth/login', null, { email: 'victim@example.com', password: `guess ${i} of many` })
    statuses.push(res.status)
  }
  expect(statuses).toEqual([401, 401, 401])
  expect((await gw.call('POST', '/v1/auth/login', null, { email: 'victim@example.com', password: 'one more guess' })).status).toBe(429)

  // The account's budget for this minute is spent; the portal's sign-in form should say so too.
  const portal = portalClient(gw)
  await portal.get('/portal/login')
  const { res } = await portal.post('/portal/login', { email: 'victim@example.com', password: 'a guess via the portal' })
  expect(res.status).toBe(429)
})
