/**
 * A password change ends every outstanding reset link of the account, as disabling it does: a
 * link mailed before (to an inbox someone else may read) would set a password again.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { hashPassword, insertUser } from '../../src/domain/identity/users'
import { type MailingGateway, startMailingGateway } from '../helpers/mailing-gateway'

let mg: MailingGateway
beforeAll(async () => {
  mg = await startMailingGateway()
  const passwordHash = await hashPassword('the original password')
  await mg.gw.deps.store.tx((tx) => insertUser(tx, { email: 'kim@example.com', passwordHash, verified: true }, Date.now()))
})
afterAll(() => mg.close())

test('a reset link mailed before a password change no longer resets the password', async () => {
  const { gw, sink } = mg
  const before = sink.received.length
  expect((await gw.call('POST', '/v1/auth/password-reset', null, { email: 'kim@example.com' })).status).toBe(202)
  const token = /\/portal\/reset\?token=([\w-]+)/.exec((await mg.mailTo('kim@example.com', before)).text)![1]!

  // Kim, worried, signs in and changes the password.
  const login = await gw.call('POST', '/v1/auth/login', null, { email: 'kim@example.com', password: 'the original password' })
  const { access_token: access } = (await login.json()) as { access_token: string }
  const changed = await gw.call('POST', '/v1/auth/password', access, { current_password: 'the original password', new_password: 'kims brand new password' })
  expect(changed.status).toBe(204)

  // The old link, in other hands.
  const reset = await gw.call('POST', '/v1/auth/password-reset/confirm', null, { token, password: 'chosen by whoever has the link' })
  expect(reset.status).toBe(400)
  expect((await gw.call('POST', '/v1/auth/login', null, { email: 'kim@example.com', password: 'kims brand new password' })).status).toBe(200)
})
