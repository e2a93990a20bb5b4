/**
 * Disabling and enabling accounts (`PATCH /v1/users/{id}`, instance admins): a disabled user's
 * access token, portal cookie and refresh all stop working at once and they cannot sign in;
 * enabled again, they sign in anew. Nobody disables themselves or the last enabled instance admin.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { setUserDisabled } from '../../src/domain/instance/users'
import { insertMembership } from '../../src/domain/identity/members'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { auditLog, sessions, users } from '../../src/store/schema'
import { startTestGateway } from '../helpers/gateway'
import { expectProblem } from '../helpers/problems'

setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })
const PASSWORD = 'disable me not'

const gw = await startTestGateway({ limits: { login_attempts_per_minute: 1000 } })
afterAll(() => gw.close())
const acme = await gw.tenant('acme')

async function makeUser(email: string, opts: { instanceAdmin?: boolean; memberOf?: string } = {}) {
  const passwordHash = await hashPassword(PASSWORD)
  return gw.deps.store.tx(async (tx) => {
    const user = await insertUser(tx, { email, passwordHash, verified: true, instanceAdmin: opts.instanceAdmin ?? false }, Date.now())
    if (opts.memberOf) await insertMembership(tx, opts.memberOf, user.id, 'developer', Date.now())
    return user
  })
}

/** Signs in over the API: the access token and the portal cookie. */
async function signIn(email: string) {
  const res = await gw.call('POST', '/v1/auth/login', null, { email, password: PASSWORD })
  expect(res.status).toBe(200)
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('og_session='))!.split(';')[0]!
  return { token: ((await res.json()) as { access_token: string }).access_token, cookie }
}

const patch = (ref: string, credential: string | null, body: unknown) => gw.call('PATCH', `/v1/users/${encodeURIComponent(ref)}`, credential, body)

await makeUser('root@example.com', { instanceAdmin: true })
let root = (await signIn('root@example.com')).token

describe('PATCH /v1/users/{id}', () => {
  test('disabling ends every session at once and refuses sign-in; enabling lets them sign in anew', async () => {
    const dev = await makeUser('dev@example.com', { memberOf: acme.namespaceId })
    const first = await signIn('dev@example.com')
    const second = await signIn('dev@example.com')
    expect((await gw.call('GET', '/v1/namespaces/acme/channels', first.token)).status).toBe(200)

    const res = await patch(dev.id, root, { disabled: true })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ id: dev.id, email: 'dev@example.com', disabled: true })
    const [stored] = await gw.deps.store.read.select().from(users).where(eq(users.id, dev.id))
    expect(stored!.disabled).toBe(true)
    const live = await gw.deps.store.read.select().from(sessions).where(eq(sessions.userId, dev.id))
    expect(live.map((s) => s.revokedAt !== null)).toEqual([true, true])

    // Access tokens (both sessions), the portal cookie and a refresh: all refused now.
    for (const token of [first.token, second.token]) await expectProblem(await gw.call('GET', '/v1/namespaces/acme/channels', token), 401, 'unauthorized')
    await expectProblem(await gw.call('GET', '/v1/auth/me', null, undefined, { cookie: first.cookie }), 401, 'unauthorized')
    expect((await gw.app.request('/v1/auth/refresh', { method: 'POST', headers: { cookie: first.cookie } })).status).toBe(401)
    // Sign-in says what a wrong password says.
    await expectProblem(await gw.call('POST', '/v1/auth/login', null, { email: 'dev@example.com', password: PASSWORD }), 401, 'invalid_credentials')

    // By e-mail this time; the same answer twice changes nothing.
    const enabled = await patch('DEV@example.com', root, { disabled: false })
    expect(await enabled.json()).toMatchObject({ id: dev.id, disabled: false })
    expect(((await (await patch(dev.id, root, { disabled: false })).json()) as { disabled: boolean }).disabled).toBe(false)
    const again = await signIn('dev@example.com')
    expect((await gw.call('GET', '/v1/namespaces/acme/channels', again.token)).status).toBe(200)
    // The sessions ended by the disabling stay ended.
    await expectProblem(await gw.call('GET', '/v1/namespaces/acme/channels', first.token), 401, 'unauthorized')
  })

  test('nobody disables their own account, and the last enabled instance admin stays enabled', async () => {
    const [me] = await gw.deps.store.read.select().from(users).where(eq(users.email, 'root@example.com'))
    const self = await expectProblem(await patch(me!.id, root, { disabled: true }), 409, 'conflict')
    expect(self.detail).toContain('your own account')
    // The CLI acts as no one: it may disable an admin, but not the last enabled one.
    await expect(setUserDisabled(gw.deps, null, 'root@example.com', true)).rejects.toThrow(/last enabled instance admin/)
    const other = await makeUser('ops@example.com', { instanceAdmin: true })
    const ops = (await signIn('ops@example.com')).token
    // With a second admin, one may disable the other; then the one left is the last.
    expect((await patch(me!.id, ops, { disabled: true })).status).toBe(200)
    await expect(setUserDisabled(gw.deps, null, other.id, true)).rejects.toThrow(/last enabled instance admin/)
    expect((await setUserDisabled(gw.deps, null, me!.id, false)).disabled).toBe(false)
    expect((await gw.deps.store.read.select().from(users).where(eq(users.id, other.id)))[0]!.disabled).toBe(false)
    // Root's sessions ended with the disabling: it signs in anew.
    await expectProblem(await gw.call('GET', '/v1/users', root), 401, 'unauthorized')
    root = (await signIn('root@example.com')).token
  })

  test('only an instance admin may; an unknown user is 404; a bad body names its field; nothing changes', async () => {
    const target = await makeUser('target@example.com', { memberOf: acme.namespaceId })
    const member = (await signIn('target@example.com')).token
    await expectProblem(await patch(target.id, null, { disabled: true }), 401, 'unauthorized')
    await expectProblem(await patch(target.id, acme.key, { disabled: true }), 403, 'instance_admin_required')
    await expectProblem(await patch(target.id, member, { disabled: true }), 403, 'instance_admin_required')
    await expectProblem(await patch('nobody@example.com', root, { disabled: true }), 404, 'not_found')
    const bad = await expectProblem(await patch(target.id, root, { disabled: 'yes' }), 422, 'validation_failed')
    expect(bad.errors!.map((e) => e.field)).toEqual(['disabled'])
    const extra = await expectProblem(await patch(target.id, root, { disabled: true, admin: true }), 422, 'validation_failed')
    expect(extra.errors!.map((e) => e.field)).toEqual(['admin'])
    expect((await gw.deps.store.read.select().from(users).where(eq(users.id, target.id)))[0]!.disabled).toBe(false)
  })

  test('the change is in the audit log with the admin who made it', async () => {
    const target = await makeUser('audited@example.com')
    expect((await patch(target.id, root, { disabled: true })).status).toBe(200)
    const [rootUser] = await gw.deps.store.read.select().from(users).where(eq(users.email, 'root@example.com'))
    const entries = await gw.deps.store.read.select().from(auditLog).where(eq(auditLog.action, 'PATCH /v1/users/{id}'))
    const entry = entries.find((e) => e.resourceId === target.id)
    expect(entry).toMatchObject({ actorType: 'user', actorId: rootUser!.id, resourceType: 'user', namespaceId: null })
  })
})
