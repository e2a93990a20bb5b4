/**
 * An address that signed up but never followed its link has a user row that is unverified and
 * has no password (docs/operations/provisioning.md). Accepting an invitation for it sets the
 * password the invitee chooses (it was ignored as "an existing account keeps its password": the
 * answer said all was well and the new member could never sign in), and the signup's link dies.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { createInvitation } from '../../src/domain/identity/invitations'
import { emailVerifications, users } from '../../src/store/schema'
import { type MailingGateway, startMailingGateway } from '../helpers/mailing-gateway'

let mg: MailingGateway
beforeAll(async () => {
  mg = await startMailingGateway({ signup: { enabled: true } })
})
afterAll(() => mg.close())

test('an invitee whose earlier signup was never confirmed can sign in with the password chosen on accepting', async () => {
  const { gw, sink } = mg
  const mailText = async (to: string, after: number) => (await mg.mailTo(to, after)).text
  const acme = await gw.tenant('acme')
  const email = 'sam@example.com'
  // Sam signed up once (or someone did with Sam's address) and never followed the link.
  let before = sink.received.length
  expect((await gw.call('POST', '/v1/auth/signup', null, { email, password: 'the abandoned signup password', namespace: 'sams-own' })).status).toBe(202)
  await mailText(email, before)
  const [pending] = await gw.deps.store.read.select().from(users).where(eq(users.email, email))
  expect(pending).toMatchObject({ verified: false, passwordHash: null })

  // Later an owner invites Sam to acme; Sam accepts and chooses a password.
  before = sink.received.length
  await createInvitation(gw.deps, acme.namespaceId, { email, role: 'developer' }, { role: 'owner', instanceAdmin: false })
  const token = /\/portal\/invite\?token=([\w-]+)/.exec(await mailText(email, before))![1]!
  const accepted = await gw.call('POST', '/v1/auth/invitations/accept', null, { token, password: 'sams chosen password' })
  expect(accepted.status).toBe(200)

  const login = await gw.call('POST', '/v1/auth/login', null, { email, password: 'sams chosen password' })
  expect(login.status).toBe(200)
  const [after] = await gw.deps.store.read.select().from(users).where(eq(users.email, email))
  expect(after!.verified).toBe(true)
  // The abandoned signup's link no longer works.
  const verifications = (await gw.deps.store.read.select().from(emailVerifications).where(eq(emailVerifications.userId, after!.id))).map((v) => v.usedAt !== null)
  expect(verifications).toEqual([true])
})
