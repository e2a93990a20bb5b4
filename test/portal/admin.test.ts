/**
 * The instance admin's pages over HTTP: only instance admins get in (403 for anyone else, and
 * no "Admin" entry in their navigation); namespaces provisioned with a plan (the API key shown
 * once), deleted and restored; users, plans, jobs and system health listed.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { listAudit } from '../../src/domain/audit'
import { insertMembership } from '../../src/domain/identity/members'
import { createInstanceAdmin, hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { Engine } from '../../src/engine/engine'
import { silentLogger } from '../../src/lib/log'
import { auditLog, memberships, namespaces, users } from '../../src/store/schema'
import { startTestGateway } from '../helpers/gateway'
import { fieldError, formMessage, PORTAL_PASSWORD, portalClient } from './portal-client'

// Cheap argon2 in tests: the cost is not what is under test.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

// No [mail]: an owner without an account cannot be invited.
const gw = await startTestGateway({ plans: [{ name: 'free', messages_per_day: 100 }, { name: 'pro' }, { name: 'huge', requests_per_second: 500 }], signup: { default_plan: 'free' } })
afterAll(() => gw.close())
const acme = await gw.tenant('acme')
const { user: root } = await createInstanceAdmin(gw.deps, { email: 'root@example.com', password: PORTAL_PASSWORD })
const ownerId = await gw.deps.store.tx(async (tx) => {
  const user = await insertUser(tx, { email: 'owner@example.com', passwordHash: await hashPassword(PORTAL_PASSWORD), verified: true }, Date.now())
  await insertMembership(tx, acme.namespaceId, user.id, 'owner', Date.now())
  return user.id
})
const admin = portalClient(gw)
await admin.signIn('root@example.com')
const owner = portalClient(gw)
await owner.signIn('owner@example.com')

const nsRow = async (slug: string) => (await gw.deps.store.read.select().from(namespaces).where(eq(namespaces.slug, slug)))[0]
const ADMIN_PAGES = ['/portal/admin/namespaces', '/portal/admin/users', '/portal/admin/plans', '/portal/admin/jobs', '/portal/admin/system']

describe('who gets in', () => {
  test('an instance admin sees the Admin entry and every admin page', async () => {
    const home = await admin.get('/portal/ns/acme/dashboard')
    expect(home.html).toContain('href="/portal/admin"')
    expect((await admin.get('/portal/admin')).res.headers.get('location')).toBe('/portal/admin/namespaces')
    for (const path of ADMIN_PAGES) {
      const page = await admin.get(path)
      expect(page.res.status, path).toBe(200)
      expect(page.html, path).toContain('aria-current="page">Admin<')
    }
  })

  test('an owner of a namespace has no Admin entry and is refused every admin page and POST', async () => {
    const home = await owner.get('/portal/ns/acme/dashboard')
    expect(home.res.status).toBe(200)
    expect(home.html).not.toContain('href="/portal/admin"')
    for (const path of ADMIN_PAGES) expect((await owner.get(path)).res.status, path).toBe(403)
    for (const [path, fields] of [['/portal/admin/namespaces', { slug: 'sneaky', plan: 'pro' }], ['/portal/admin/namespaces/acme/delete', {}]] as const) {
      const res = await owner.post(path, fields)
      expect(res.res.status, path).toBe(403)
      // Refused for not being an instance admin, not for the form's token.
      expect(res.html, path).toContain('instance admins only')
    }
    expect(await nsRow('sneaky')).toBeUndefined()
    expect((await nsRow('acme'))!.status).toBe('active')
  })

  test('an anonymous visitor is sent to sign in', async () => {
    const res = await gw.app.request('/portal/admin/users')
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/portal/login?next=%2Fportal%2Fadmin%2Fusers')
  })
})

describe('namespaces', () => {
  test('provisioned with a plan and an owner; its API key shown once and working', async () => {
    await admin.get('/portal/admin/namespaces')
    const res = await admin.post('/portal/admin/namespaces', { slug: 'globex', plan: 'huge', owner: 'owner@example.com' })
    expect(res.res.status).toBe(200)
    expect(res.html).toContain('Namespace globex is ready')
    const key = /<code id="new-secret">([^<]+)<\/code>/.exec(res.html)![1]!
    expect(key).toMatch(/^og_live_/)
    expect((await gw.call('GET', '/v1/namespaces/globex/channels', key)).status).toBe(200)
    const row = (await nsRow('globex'))!
    expect(row.plan).toBe('huge')
    expect((row.settings as { quotas?: { requests_per_second?: number } }).quotas?.requests_per_second).toBe(500)
    const [m] = await gw.deps.store.read.select().from(memberships).where(and(eq(memberships.namespaceId, row.id), eq(memberships.userId, ownerId)))
    expect(m!.role).toBe('owner')
    // The list shows it with its plan; the key is not on the page any more.
    const list = await admin.get('/portal/admin/namespaces')
    expect(list.html).toContain('href="/portal/ns/globex/dashboard"')
    expect(list.html).not.toContain(key)
    const entry = (await listAudit(gw.deps, row.id, { limit: 10 })).data.find((e) => e.action === 'POST /portal/admin/namespaces')!
    expect(entry.actor_id).toBe(root.id)
    expect(entry.detail.via).toBe('portal')
  })

  test('bad fields are named next to them, nothing is created', async () => {
    const before = (await gw.deps.store.read.select().from(namespaces)).length
    const slug = await admin.post('/portal/admin/namespaces', { slug: 'Not A Slug', plan: 'free' })
    expect(slug.res.status).toBe(422)
    expect(fieldError(slug.html, 'slug')).toContain('lowercase letters')
    expect(slug.html).toContain('value="Not A Slug"')
    const empty = await admin.post('/portal/admin/namespaces', { slug: '', plan: 'free' })
    expect(fieldError(empty.html, 'slug')).toBe('is required')
    const taken = await admin.post('/portal/admin/namespaces', { slug: 'acme', plan: 'free' })
    expect(taken.res.status).toBe(409)
    expect(fieldError(taken.html, 'slug')).toContain('taken')
    const plan = await admin.post('/portal/admin/namespaces', { slug: 'initech', plan: 'platinum' })
    expect(plan.res.status).toBe(422)
    expect(fieldError(plan.html, 'plan')).toContain('unknown plan')
    const badOwner = await admin.post('/portal/admin/namespaces', { slug: 'initech', plan: 'free', owner: 'nobody' })
    expect(badOwner.res.status).toBe(422)
    expect(fieldError(badOwner.html, 'owner')).toContain('e-mail address')
    const unknownOwner = await admin.post('/portal/admin/namespaces', { slug: 'initech', plan: 'free', owner: 'ghost@example.com' })
    expect(unknownOwner.res.status).toBe(404)
    expect(fieldError(unknownOwner.html, 'owner')).toContain('no user ghost@example.com')
    const extra = await admin.post('/portal/admin/namespaces', { slug: 'initech', plan: 'free', quota: '1' })
    expect(extra.res.status).toBe(422)
    expect(formMessage(extra.html)).toContain('quota')
    expect((await gw.deps.store.read.select().from(namespaces)).length).toBe(before)
  })

  test('deleted: disabled at once (its key refused), then restored', async () => {
    const target = await gw.tenant('doomed')
    expect((await gw.call('GET', '/v1/namespaces/doomed/channels', target.key)).status).toBe(200)
    await gw.deps.store.tx((tx) => insertMembership(tx, target.namespaceId, ownerId, 'viewer', Date.now()))
    expect((await owner.get('/portal/ns/acme/dashboard')).html).toContain('value="doomed"')
    await admin.get('/portal/admin/namespaces')
    const res = await admin.post('/portal/admin/namespaces/doomed/delete')
    expect(res.res.status).toBe(303)
    expect(res.res.headers.get('location')).toBe('/portal/admin/namespaces?notice=deleted')
    const row = (await nsRow('doomed'))!
    expect(row.status).toBe('disabled')
    expect(row.purgeAfter).toBeGreaterThan(Date.now())
    expect((await gw.call('GET', '/v1/namespaces/doomed/channels', target.key)).status).toBe(401)
    // Its members are not offered it in the switcher any more (it would be "Not found").
    expect((await owner.get('/portal/ns/acme/dashboard')).html).not.toContain('value="doomed"')
    const list = await admin.get('/portal/admin/namespaces?notice=deleted')
    expect(list.html).toContain('aria-label="Restore doomed"')
    expect(list.html).toContain('purged after')

    const restored = await admin.post('/portal/admin/namespaces/doomed/restore')
    expect(restored.res.status).toBe(303)
    expect((await nsRow('doomed'))!.status).toBe('active')
    expect((await gw.call('GET', '/v1/namespaces/doomed/channels', target.key)).status).toBe(200)
  })

  test('an unknown namespace is not found', async () => {
    expect((await admin.post('/portal/admin/namespaces/no-such/delete')).res.status).toBe(404)
  })
})

describe('users, plans, jobs, system', () => {
  test('users: every user with verified, admin flag and namespaces; found by e-mail', async () => {
    const page = await admin.get('/portal/admin/users')
    expect(page.html).toContain('root@example.com')
    expect(page.html).toContain('owner@example.com')
    expect(page.html).toContain('href="/portal/ns/acme/members">acme</a> <span class="muted">(owner)')
    const found = await admin.get('/portal/admin/users?email=ROOT')
    expect(found.html).toContain('root@example.com')
    expect(found.html).not.toContain('owner@example.com')
    // LIKE wildcards are taken literally.
    expect((await admin.get('/portal/admin/users?email=%25')).html).toContain('No user matches')
  })

  test('users: an admin disables an account (its sessions end, it cannot sign in) and enables it again; never their own', async () => {
    const passwordHash = await hashPassword(PORTAL_PASSWORD)
    const dev = await gw.deps.store.tx((tx) => insertUser(tx, { email: 'dev@example.com', passwordHash, verified: true }, Date.now()))
    const devPortal = portalClient(gw)
    await devPortal.signIn('dev@example.com')
    expect((await devPortal.get('/portal/account')).res.status).toBe(200)

    const list = await admin.get('/portal/admin/users')
    expect(list.html).toContain('aria-label="Disable dev@example.com"')
    // No button on the admin's own row.
    expect(list.html).not.toContain('aria-label="Disable root@example.com"')
    // Without the page's token: refused, nothing changes.
    const forged = await admin.post(`/portal/admin/users/${dev.id}/disable`, { _csrf: '' })
    expect(forged.res.status).toBe(403)
    expect((await gw.deps.store.read.select().from(users).where(eq(users.id, dev.id)))[0]!.disabled).toBe(false)

    const res = await admin.post(`/portal/admin/users/${dev.id}/disable`)
    expect(res.res.status).toBe(303)
    expect(res.res.headers.get('location')).toBe('/portal/admin/users?notice=disabled')
    expect((await gw.deps.store.read.select().from(users).where(eq(users.id, dev.id)))[0]!.disabled).toBe(true)
    // The signed-in session is over: the portal sends them to sign in.
    expect((await devPortal.get('/portal/account')).res.headers.get('location')).toStartWith('/portal/login')
    const after = await admin.get('/portal/admin/users?notice=disabled')
    expect(after.html).toContain('The account is disabled')
    expect(after.html).toContain('aria-label="Enable dev@example.com"')
    const audit = await gw.deps.store.read.select().from(auditLog).where(eq(auditLog.resourceId, dev.id))
    expect(audit.filter((e) => e.action.startsWith('POST /portal/admin/')).map((e) => [e.action, e.actorId])).toEqual([['POST /portal/admin/users/{id}/disable', root.id]])

    expect((await admin.post(`/portal/admin/users/${dev.id}/enable`)).res.status).toBe(303)
    expect((await gw.deps.store.read.select().from(users).where(eq(users.id, dev.id)))[0]!.disabled).toBe(false)
    // Their own account: refused with the reason, by a hand-made post.
    const self = await admin.post(`/portal/admin/users/${root.id}/disable`)
    expect(self.res.status).toBe(409)
    expect(self.html).toContain('your own account')
  })

  test('plans: the configured plans, unlimited spelled out, the default marked, usage counted', async () => {
    const page = await admin.get('/portal/admin/plans')
    expect(page.html).toMatch(/free<span class="muted"> \(signup default\)/)
    expect(page.html).toMatch(/<td>huge<\/td><td>unlimited<\/td><td>unlimited<\/td><td>500<\/td><td>1<\/td>/)
  })

  test('jobs: each with its schedule, its last run and its next', async () => {
    expect((await admin.get('/portal/admin/jobs')).html).toMatch(/analytics-prune<\/td><td class="mono">29 \* \* \* \*<\/td><td><span class="muted">never run/)
    await new Engine(gw.deps, gw.config, silentLogger).jobs.run('analytics-prune')
    const page = await admin.get('/portal/admin/jobs')
    expect(page.html).toMatch(/analytics-prune<\/td><td class="mono">29 \* \* \* \*<\/td><td><span class="badge status-succeeded">succeeded/)
    for (const name of ['retention', 'channel-health', 'namespace-purge']) expect(page.html).toContain(`>${name}<`)
  })

  test('system: version, driver, store size and uptime', async () => {
    const page = await admin.get('/portal/admin/system')
    expect(page.html).toContain('bun-sqlite')
    expect(page.html).toMatch(/omnigate \d+\.\d+\.\d+/)
    expect(page.html).toMatch(/<dt>Store size<\/dt><dd>\d+(\.\d)? (KiB|MiB)/)
    expect(page.html).toContain('all applied')
    expect(page.html).toContain('WAL checkpoints')
  })
})

test('these pages and the Applications and Members pages have no inline script, style or event handler', async () => {
  const pages = [...ADMIN_PAGES, '/portal/ns/acme/applications', `/portal/ns/acme/applications/${acme.applicationId}`, '/portal/ns/acme/members', '/portal/ns/acme/members/audit']
  for (const path of pages) {
    const { res, html } = await admin.get(path)
    expect(res.status, path).toBe(200)
    expect(html, path).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    expect(html, path).not.toMatch(/\son[a-z]+=/)
    expect(html, path).not.toMatch(/\sstyle=/)
  }
})
