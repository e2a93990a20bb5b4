/**
 * The Members pages over HTTP, with mail through a real SMTP server: roles changed and members
 * removed under the API's owner rules, invitations mailed, listed and withdrawn, the audit log
 * paginated and filtered; a viewer sees no controls and a hand-made POST changes nothing;
 * another namespace's ids are not found.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { simpleParser } from 'mailparser'
import { recordAudit } from '../../src/domain/audit'
import { createInvitation } from '../../src/domain/identity/invitations'
import { insertMembership } from '../../src/domain/identity/members'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { invitations, memberships } from '../../src/store/schema'
import { startSmtpSink } from '../fakes/smtp-server'
import { eventually, startTestGateway } from '../helpers/gateway'
import { fieldError, formMessage, PORTAL_PASSWORD, portalClient } from './portal-client'

// Cheap argon2 in tests: the cost is not what is under test.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const sink = await startSmtpSink()
const gw = await startTestGateway({ mail: { smtp_url: `smtp://127.0.0.1:${sink.port}`, from: 'omnigate <noreply@gw.test>' } })
afterAll(async () => {
  await gw.close()
  await sink.stop()
})
const acme = await gw.tenant('acme')
const beta = await gw.tenant('beta')

type Role = 'viewer' | 'developer' | 'admin' | 'owner'
async function person(email: string, memberOf: [string, Role][]) {
  const passwordHash = await hashPassword(PORTAL_PASSWORD)
  return gw.deps.store.tx(async (tx) => {
    const user = await insertUser(tx, { email, passwordHash, verified: true }, Date.now())
    for (const [ns, role] of memberOf) await insertMembership(tx, ns, user.id, role, Date.now())
    return user.id
  })
}
const signedIn = async (email: string) => {
  const client = portalClient(gw)
  await client.signIn(email)
  return client
}

const ownerId = await person('owner@example.com', [[acme.namespaceId, 'owner']])
const adminId = await person('admin@example.com', [[acme.namespaceId, 'admin']])
const devId = await person('dev@example.com', [[acme.namespaceId, 'developer']])
const viewerId = await person('viewer@example.com', [[acme.namespaceId, 'viewer']])
const betaUserId = await person('beta@example.com', [[beta.namespaceId, 'owner']])
const owner = await signedIn('owner@example.com')
const admin = await signedIn('admin@example.com')
const viewer = await signedIn('viewer@example.com')

const roleOf = async (namespaceId: string, userId: string) =>
  (await gw.deps.store.read.select({ role: memberships.role }).from(memberships).where(and(eq(memberships.namespaceId, namespaceId), eq(memberships.userId, userId))))[0]?.role
const rowError = (html: string, userId: string) => new RegExp(`id="row-error-${userId}"[^>]*>([^<]*)<`).exec(html)?.[1]
const invitationsOf = (namespaceId: string) => gw.deps.store.read.select().from(invitations).where(eq(invitations.namespaceId, namespaceId))

describe('members', () => {
  test('the list shows every member with a role control and the audit log link', async () => {
    const page = await owner.get('/portal/ns/acme/members')
    expect(page.res.status).toBe(200)
    for (const email of ['owner@example.com', 'admin@example.com', 'dev@example.com', 'viewer@example.com']) expect(page.html).toContain(email)
    expect(page.html).not.toContain('beta@example.com')
    expect(page.html).toContain('aria-label="Role of dev@example.com"')
    expect(page.html).toContain('href="/portal/ns/acme/members/audit"')
    // An owner may hand out owner.
    expect(page.html).toContain('<option value="owner"')
  })

  test('an admin changes a role, and it is stored', async () => {
    await admin.get('/portal/ns/acme/members')
    const res = await admin.post(`/portal/ns/acme/members/${devId}/role`, { role: 'viewer' })
    expect(res.res.status).toBe(303)
    expect(res.res.headers.get('location')).toBe('/portal/ns/acme/members?notice=role-changed')
    expect(await roleOf(acme.namespaceId, devId)).toBe('viewer')
    await admin.post(`/portal/ns/acme/members/${devId}/role`, { role: 'developer' })
    expect(await roleOf(acme.namespaceId, devId)).toBe('developer')
  })

  test("an admin gets no control over an owner, and a hand-made change is refused in the owner's row", async () => {
    const page = await admin.get('/portal/ns/acme/members')
    expect(page.html).not.toContain('aria-label="Role of owner@example.com"')
    expect(page.html).not.toContain('<option value="owner"')
    const res = await admin.post(`/portal/ns/acme/members/${ownerId}/role`, { role: 'viewer' })
    expect(res.res.status).toBe(403)
    expect(rowError(res.html, ownerId)).toContain('only an owner')
    const make = await admin.post(`/portal/ns/acme/members/${devId}/role`, { role: 'owner' })
    expect(make.res.status).toBe(403)
    expect(await roleOf(acme.namespaceId, ownerId)).toBe('owner')
    expect(await roleOf(acme.namespaceId, devId)).toBe('developer')
  })

  test('the last owner stays: the refusal is shown in their row', async () => {
    await owner.get('/portal/ns/acme/members')
    const res = await owner.post(`/portal/ns/acme/members/${ownerId}/role`, { role: 'admin' })
    expect(res.res.status).toBe(409)
    expect(rowError(res.html, ownerId)).toContain('last owner')
    expect(await roleOf(acme.namespaceId, ownerId)).toBe('owner')
    const bad = await owner.post(`/portal/ns/acme/members/${devId}/role`, { role: 'god' })
    expect(bad.res.status).toBe(422)
    expect(rowError(bad.html, devId)).toContain('must be one of')
  })

  test('an owner removes a member', async () => {
    const leaverId = await person('leaver@example.com', [[acme.namespaceId, 'developer']])
    await owner.get('/portal/ns/acme/members')
    const res = await owner.post(`/portal/ns/acme/members/${leaverId}/remove`)
    expect(res.res.status).toBe(303)
    expect(await roleOf(acme.namespaceId, leaverId)).toBeUndefined()
    expect((await owner.get(res.res.headers.get('location')!)).html).toContain('The member is removed.')
  })

  test("another namespace's member is not found, and keeps their role", async () => {
    expect((await owner.post(`/portal/ns/acme/members/${betaUserId}/role`, { role: 'viewer' })).res.status).toBe(404)
    expect((await owner.post(`/portal/ns/acme/members/${betaUserId}/remove`)).res.status).toBe(404)
    expect(await roleOf(beta.namespaceId, betaUserId)).toBe('owner')
    expect((await owner.get('/portal/ns/beta/members')).res.status).toBe(404)
  })
})

describe('invitations', () => {
  test('invited by mail, listed as pending, withdrawn', async () => {
    const before = sink.received.length
    await admin.get('/portal/ns/acme/members')
    const res = await admin.post('/portal/ns/acme/members/invitations', { email: 'New@Example.com', role: 'developer' })
    expect(res.res.status).toBe(303)
    const wire = await eventually(async () => sink.received.slice(before).find((m) => m.rcptTo.includes('new@example.com')))
    expect((await simpleParser(wire.raw)).text).toMatch(/\/portal\/invite\?token=[\w-]+/)
    const page = await admin.get('/portal/ns/acme/members?notice=invited')
    expect(page.html).toContain('The invitation is mailed.')
    expect(page.html).toContain('new@example.com')
    expect(page.html).toContain('status-pending')
    // Invited by: shown by e-mail.
    expect(page.html).toMatch(/new@example\.com<\/td><td>developer<\/td>.*admin@example\.com/s)
    const [inv] = (await invitationsOf(acme.namespaceId)).filter((i) => i.email === 'new@example.com')
    expect(inv!.invitedBy).toBe(adminId)
    const withdrawn = await admin.post(`/portal/ns/acme/members/invitations/${inv!.id}/revoke`)
    expect(withdrawn.res.status).toBe(303)
    expect((await invitationsOf(acme.namespaceId)).some((i) => i.id === inv!.id)).toBe(false)
  })

  test('bad fields are named; a member cannot be invited again; owner is for owners', async () => {
    await admin.get('/portal/ns/acme/members')
    const bad = await admin.post('/portal/ns/acme/members/invitations', { email: 'not an address', role: 'viewer' })
    expect(bad.res.status).toBe(422)
    expect(fieldError(bad.html, 'email')).toContain('e-mail address')
    expect(bad.html).toContain('value="not an address"')
    const noRole = await admin.post('/portal/ns/acme/members/invitations', { email: 'x@example.com', role: 'emperor' })
    expect(noRole.res.status).toBe(422)
    expect(fieldError(noRole.html, 'role')).toContain('must be one of')
    const member = await admin.post('/portal/ns/acme/members/invitations', { email: 'dev@example.com', role: 'viewer' })
    expect(member.res.status).toBe(409)
    expect(formMessage(member.html)).toContain('already a member')
    const asOwner = await admin.post('/portal/ns/acme/members/invitations', { email: 'boss@example.com', role: 'owner' })
    expect(asOwner.res.status).toBe(403)
    expect(formMessage(asOwner.html)).toContain('only an owner')
    expect((await invitationsOf(acme.namespaceId)).map((i) => i.email)).not.toContain('boss@example.com')
  })

  test("another namespace's invitation cannot be withdrawn from here", async () => {
    const inv = await createInvitation(gw.deps, beta.namespaceId, { email: 'b2@example.com', role: 'viewer' }, { role: 'owner', instanceAdmin: false })
    expect((await owner.post(`/portal/ns/acme/members/invitations/${inv.id}/revoke`)).res.status).toBe(404)
    expect((await invitationsOf(beta.namespaceId)).some((i) => i.id === inv.id)).toBe(true)
  })
})

describe('a viewer', () => {
  test('sees members and invitations without any control, and no audit log', async () => {
    await createInvitation(gw.deps, acme.namespaceId, { email: 'pending@example.com', role: 'viewer' }, { role: 'owner', instanceAdmin: false })
    const page = await viewer.get('/portal/ns/acme/members')
    expect(page.res.status).toBe(200)
    expect(page.html).toContain('dev@example.com')
    expect(page.html).toContain('pending@example.com')
    expect(page.html).not.toContain('Change role')
    expect(page.html).not.toContain('>Remove<')
    expect(page.html).not.toContain('>Withdraw<')
    expect(page.html).not.toContain('Invite someone')
    expect(page.html).not.toContain('/members/audit')
    expect((await viewer.get('/portal/ns/acme/members/audit')).res.status).toBe(403)
  })

  test('is refused every hand-made change (403) and nothing changes', async () => {
    const [pending] = (await invitationsOf(acme.namespaceId)).filter((i) => i.email === 'pending@example.com')
    for (const [path, fields] of [
      [`/portal/ns/acme/members/${devId}/role`, { role: 'admin' }],
      [`/portal/ns/acme/members/${devId}/remove`, {}],
      ['/portal/ns/acme/members/invitations', { email: 'friend@example.com', role: 'admin' }],
      [`/portal/ns/acme/members/invitations/${pending!.id}/revoke`, {}],
    ] as const) {
      const res = await viewer.post(path, fields)
      expect(res.res.status, path).toBe(403)
      expect(res.html).toContain('members:write')
    }
    expect(await roleOf(acme.namespaceId, devId)).toBe('developer')
    expect(await roleOf(acme.namespaceId, viewerId)).toBe('viewer')
    const emails = (await invitationsOf(acme.namespaceId)).map((i) => i.email)
    expect(emails).toContain('pending@example.com')
    expect(emails).not.toContain('friend@example.com')
  })
})

describe('the audit log', () => {
  test("lists the namespace's changes with actor, action, resource and IP, and never another namespace's", async () => {
    await recordAudit(gw.deps.store, { namespaceId: beta.namespaceId, actor: { type: 'user', id: betaUserId }, action: 'DELETE /v1/namespaces/{ns}/channels/{channel}', resource: { type: 'channel', id: 'ch_beta_secret' }, at: Date.now() })
    const page = await admin.get('/portal/ns/acme/members/audit')
    expect(page.res.status).toBe(200)
    // The role changes above, made in the portal, by the admin (shown by e-mail).
    expect(page.html).toContain('POST /portal/ns/{ns}/members/{user}/role')
    expect(page.html).toContain('admin@example.com')
    expect(page.html).toContain(devId)
    expect(page.html).not.toContain('ch_beta_secret')
  })

  test('filters by action and actor, names a bad time next to its field, and pages', async () => {
    const at = Date.now()
    for (let i = 0; i < 60; i++) {
      await recordAudit(gw.deps.store, { namespaceId: acme.namespaceId, actor: { type: 'application', id: acme.applicationId }, action: 'PATCH /v1/namespaces/{ns}/channels/{channel}', resource: { type: 'channel', id: `ch_${i}` }, ip: '203.0.113.9', at: at + i })
    }
    const action = 'PATCH /v1/namespaces/{ns}/channels/{channel}'
    const first = await admin.get(`/portal/ns/acme/members/audit?action=${encodeURIComponent(action)}`)
    expect(first.res.status).toBe(200)
    expect(first.html).toContain('203.0.113.9')
    expect(first.html).toContain('test-app')
    expect(first.html).not.toContain('/members/{user}/role')
    expect((first.html.match(/<tr>/g) ?? []).length).toBe(51)
    const older = /href="([^"]+)">Older</.exec(first.html)![1]!.replaceAll('&amp;', '&')
    const second = await admin.get(older)
    expect((second.html.match(/<tr>/g) ?? []).length).toBe(11)
    expect(second.html).toContain('>ch_0<')
    expect(second.html).toContain('>Newest<')

    const byActor = await admin.get(`/portal/ns/acme/members/audit?actor_id=${adminId}`)
    expect(byActor.html).toContain('/members/{user}/role')
    expect(byActor.html).not.toContain(action)

    // A picked time (datetime-local) with the browser's offset, here UTC+2 (-120); without it, the same wall clock is UTC.
    const anHourBefore = new Date(at - 3_600_000 + 7_200_000).toISOString().slice(0, 16)
    const picked = await admin.get(`/portal/ns/acme/members/audit?action=${encodeURIComponent(action)}&since=${anHourBefore}&since_tz_offset=-120`)
    expect(picked.html).toContain('>ch_59<')
    // The next page keeps the time with its offset.
    expect(/href="([^"]+)">Older</.exec(picked.html)![1]).toContain(`since=${encodeURIComponent(anHourBefore)}&amp;since_tz_offset=-120`)
    expect((await admin.get(`/portal/ns/acme/members/audit?action=${encodeURIComponent(action)}&since=${anHourBefore}`)).html).toContain('No entries match these filters')

    const bad = await admin.get('/portal/ns/acme/members/audit?since=yesterday')
    expect(bad.res.status).toBe(422)
    expect(fieldError(bad.html, 'since')).toContain('RFC 3339')
    expect(bad.html).toContain('value="yesterday"')
    const none = await admin.get('/portal/ns/acme/members/audit?actor_id=usr_nobody')
    expect(none.html).toContain('No entries match these filters')
  })
})
