/**
 * A signup with the address of an account that exists gets the "You already have an omnigate
 * account" notice, also when the account was made by `omnigate member add` without [mail] (a
 * password, but not verified). It used to get a confirmation link, and a member who followed it
 * (their own gateway's mail) got the stranger's password: the stranger signed in as them.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { insertMembership } from '../../src/domain/identity/members'
import { hashPassword, insertUser } from '../../src/domain/identity/users'
import { type MailingGateway, startMailingGateway } from '../helpers/mailing-gateway'

const EMAIL = 'olga@example.com'
let mg: MailingGateway
let gw: MailingGateway['gw']
beforeAll(async () => {
  mg = await startMailingGateway({ signup: { enabled: true } })
  gw = mg.gw
  const acme = await gw.tenant('acme')
  // What `omnigate member add olga@example.com -n acme --role owner` (no [mail]) stores.
  const passwordHash = await hashPassword('olgas own password')
  await gw.deps.store.tx(async (tx) => {
    const user = await insertUser(tx, { email: EMAIL, passwordHash }, Date.now())
    await insertMembership(tx, acme.namespaceId, user.id, 'owner', Date.now())
  })
})
afterAll(() => mg.close())

const mail = (after: number) => mg.mailTo(EMAIL, after)

test('a signup with the address of an existing member (made by the CLI) gets the "already have an account" notice, not a link', async () => {
  const before = mg.sink.received.length
  expect((await gw.call('POST', '/v1/auth/signup', null, { email: EMAIL, password: 'the strangers password', namespace: 'stranger-ns' })).status).toBe(202)
  const got = await mail(before)
  expect(got.subject).toBe('You already have an omnigate account')
  expect(got.text).not.toContain('/portal/verify')
})

test("following such a link must not hand the stranger the member's account", async () => {
  const before = mg.sink.received.length
  // A minute later (the one-mail-a-minute limit), as a stranger would.
  gw.deps.now = () => Date.now() + 61_000
  expect((await gw.call('POST', '/v1/auth/signup', null, { email: EMAIL, password: 'the strangers password', namespace: 'stranger-ns2' })).status).toBe(202)
  const { text } = await mail(before)
  const token = /\/portal\/verify\?token=([\w-]+)/.exec(text)?.[1]
  if (token) await gw.call('POST', '/v1/auth/verify', null, { token }) // Olga clicks "Confirm"
  gw.deps.now = undefined
  const stranger = await gw.call('POST', '/v1/auth/login', null, { email: EMAIL, password: 'the strangers password' })
  expect(stranger.status).toBe(401)
  expect((await gw.call('POST', '/v1/auth/login', null, { email: EMAIL, password: 'olgas own password' })).status).toBe(200)
})
