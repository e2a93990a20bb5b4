/**
 * A password change ends every outstanding reset link of the account, as disabling it does: a
 * link mailed before (to an inbox someone else may read) would set a password again.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { simpleParser } from 'mailparser'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { startSmtpSink, type SmtpSink } from '../fakes/smtp-server'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

let sink: SmtpSink
let gw: TestGateway
beforeAll(async () => {
  sink = await startSmtpSink()
  gw = await startTestGateway({
    mail: { smtp_url: `smtp://127.0.0.1:${sink.port}`, from: 'omnigate <noreply@gw.test>' },
    limits: { login_attempts_per_minute: 1000 },
  })
  const passwordHash = await hashPassword('the original password')
  await gw.deps.store.tx((tx) => insertUser(tx, { email: 'kim@example.com', passwordHash, verified: true }, Date.now()))
})
afterAll(async () => {
  await gw.close()
  await sink.stop()
})

test('a reset link mailed before a password change no longer resets the password', async () => {
  const before = sink.received.length
  expect((await gw.call('POST', '/v1/auth/password-reset', null, { email: 'kim@example.com' })).status).toBe(202)
  const wire = await eventually(async () => sink.received.slice(before).find((m) => m.rcptTo.includes('kim@example.com')))
  const token = /\/portal\/reset\?token=([\w-]+)/.exec((await simpleParser(wire.raw)).text ?? '')![1]!

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
