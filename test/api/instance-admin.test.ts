/**
 * The instance admin's API (what the portal's admin pages show): `GET /v1/users`, `/v1/plans`,
 * `/v1/jobs`, `/v1/system`, `POST /v1/provisioning` and `POST /v1/namespaces/{ns}/restore`.
 * Only an instance admin gets an answer: no credential is 401, an application key or a
 * namespace owner 403 `instance_admin_required`.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { insertMembership } from '../../src/domain/identity/members'
import { login } from '../../src/domain/identity/sessions'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { Engine } from '../../src/engine/engine'
import { silentLogger } from '../../src/lib/log'
import { namespaces } from '../../src/store/schema'
import { eventually, startTestGateway } from '../helpers/gateway'
import { expectProblem, fieldsOf } from '../helpers/problems'

// Cheap argon2 in tests: the cost is not what is under test.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })
const PASSWORD = 'instance admin test'

const gw = await startTestGateway({ plans: [{ name: 'free', messages_per_day: 100 }, { name: 'pro', requests_per_second: 300 }] })
afterAll(() => gw.close())
const acme = await gw.tenant('acme')

async function userToken(email: string, opts: { instanceAdmin?: boolean; ownerOf?: string } = {}) {
  const passwordHash = await hashPassword(PASSWORD)
  await gw.deps.store.tx(async (tx) => {
    const user = await insertUser(tx, { email, passwordHash, verified: true, instanceAdmin: opts.instanceAdmin ?? false }, Date.now())
    if (opts.ownerOf) await insertMembership(tx, opts.ownerOf, user.id, 'owner', Date.now())
  })
  return (await login(gw.deps, { email, password: PASSWORD })).accessToken
}
const root = await userToken('root@example.com', { instanceAdmin: true })
const owner = await userToken('owner@example.com', { ownerOf: acme.namespaceId })

const READS = ['/v1/users', '/v1/plans', '/v1/jobs', '/v1/system']

describe('only instance admins', () => {
  test.each(READS)('GET %s: no credential 401; an application key or an owner 403', async (path) => {
    await expectProblem(await gw.call('GET', path, null), 401, 'unauthorized')
    await expectProblem(await gw.call('GET', path, acme.key), 403, 'instance_admin_required')
    await expectProblem(await gw.call('GET', path, owner), 403, 'instance_admin_required')
    expect((await gw.call('GET', path, root)).status).toBe(200)
  })

  test('POST /v1/provisioning: the same refusals, and nothing is created', async () => {
    await expectProblem(await gw.call('POST', '/v1/provisioning', null, { slug: 'x1' }), 401, 'unauthorized')
    await expectProblem(await gw.call('POST', '/v1/provisioning', acme.key, { slug: 'x1' }), 403, 'instance_admin_required')
    await expectProblem(await gw.call('POST', '/v1/provisioning', owner, { slug: 'x1' }), 403, 'instance_admin_required')
    expect((await gw.deps.store.read.select().from(namespaces).where(eq(namespaces.slug, 'x1'))).length).toBe(0)
  })

  test('the routes are in the OpenAPI document', async () => {
    const doc = (await (await gw.app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> }
    for (const path of [...READS, '/v1/provisioning', '/v1/namespaces/{ns}/restore']) expect(Object.keys(doc.paths)).toContain(path)
  })
})

describe('GET /v1/users', () => {
  test('every user, newest first, with namespaces and roles; never a password hash', async () => {
    const res = await gw.call('GET', '/v1/users', root)
    const body = (await res.json()) as { data: { email: string; instance_admin: boolean; verified: boolean; namespaces: { namespace: string; role: string }[] }[]; next_cursor: string | null }
    expect(body.data.map((u) => u.email)).toEqual(['owner@example.com', 'root@example.com'])
    expect(body.data[0]).toMatchObject({ instance_admin: false, verified: true, namespaces: [{ namespace: 'acme', role: 'owner' }] })
    expect(body.data[1]).toMatchObject({ instance_admin: true, namespaces: [] })
    expect(JSON.stringify(body)).not.toContain('argon2')
    expect(body.next_cursor).toBeNull()
  })

  test('pages with limit and cursor; filters by e-mail; refuses unknown parameters', async () => {
    const first = (await (await gw.call('GET', '/v1/users?limit=1', root)).json()) as { data: { email: string }[]; next_cursor: string }
    expect(first.data.map((u) => u.email)).toEqual(['owner@example.com'])
    const second = (await (await gw.call('GET', `/v1/users?limit=1&cursor=${first.next_cursor}`, root)).json()) as { data: { email: string }[]; next_cursor: string | null }
    expect(second.data.map((u) => u.email)).toEqual(['root@example.com'])
    expect(second.next_cursor).toBeNull()
    const found = (await (await gw.call('GET', '/v1/users?email=OWNER', root)).json()) as { data: { email: string }[] }
    expect(found.data.map((u) => u.email)).toEqual(['owner@example.com'])
    const problem = await expectProblem(await gw.call('GET', '/v1/users?limit=0&sort=email', root), 422, 'validation_failed')
    expect(fieldsOf(problem)).toEqual(['limit', 'sort'])
  })
})

describe('GET /v1/plans, /v1/jobs, /v1/system', () => {
  test('plans: the configured ones with the signup default and how many namespaces use each', async () => {
    const body = (await (await gw.call('GET', '/v1/plans', root)).json()) as { data: unknown[] }
    expect(body.data).toEqual([
      { name: 'free', messages_per_day: 100, messages_per_month: 0, requests_per_second: 0, default: true, namespaces: 0 },
      { name: 'pro', messages_per_day: 0, messages_per_month: 0, requests_per_second: 300, default: false, namespaces: 0 },
    ])
  })

  test('jobs: each declared job with its schedule; a run shows up with its outcome', async () => {
    const before = (await (await gw.call('GET', '/v1/jobs', root)).json()) as { data: { name: string; schedule: string; status: string; next_run: string | null }[] }
    expect(before.data.map((j) => j.name)).toEqual(['idempotency-keys-cleanup', 'pending-statuses-cleanup', 'retention', 'channel-health', 'analytics-prune', 'namespace-purge'])
    const retention = before.data.find((j) => j.name === 'retention')!
    expect(retention).toMatchObject({ schedule: '41 * * * *', status: 'never run' })
    expect(Date.parse(retention.next_run!)).toBeGreaterThan(Date.now())
    expect(await new Engine(gw.deps, gw.config, silentLogger).jobs.run('retention')).toBe('ok')
    const after = (await (await gw.call('GET', '/v1/jobs', root)).json()) as { data: { name: string; status: string; last_started_at: string | null; last_finished_at: string | null; last_error: string | null }[] }
    expect(after.data.find((j) => j.name === 'retention')).toMatchObject({ status: 'ok', last_error: null, last_started_at: expect.any(String), last_finished_at: expect.any(String) })
  })

  test('system: version, uptime, driver, store size, namespaces and users', async () => {
    const body = (await (await gw.call('GET', '/v1/system', root)).json()) as Record<string, any>
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/)
    expect(body.uptime_seconds).toBeGreaterThanOrEqual(0)
    expect(Date.parse(body.started_at)).toBeLessThanOrEqual(Date.now())
    expect(body.store).toMatchObject({ driver: 'bun-sqlite', migrated: true })
    expect(body.store.bytes).toBeGreaterThan(4096)
    expect(body.store.checkpoints).toEqual({ thread: 'not started', runs: 0, error: null })
    // Written to in earnest (more than 100 commits), the store checkpoints on its thread.
    for (let i = 0; i < 110; i++) await gw.deps.store.tx(async () => {})
    await eventually(async () => ((await (await gw.call('GET', '/v1/system', root)).json()) as any).store.checkpoints.runs > 0)
    const later = (await (await gw.call('GET', '/v1/system', root)).json()) as Record<string, any>
    expect(later.store.checkpoints).toMatchObject({ thread: 'running', error: null })
    expect(body.namespaces.active).toBeGreaterThanOrEqual(1)
    expect(body.users).toBe(2)
  })
})

describe('POST /v1/provisioning and POST /v1/namespaces/{ns}/restore', () => {
  test('provisions with a plan: ready, its API key once, the plan stored', async () => {
    const res = await gw.call('POST', '/v1/provisioning', root, { slug: 'globex', plan: 'pro', owner: 'owner@example.com' })
    expect(res.status).toBe(201)
    const body = (await res.json()) as { status: string; plan: string; api_key: string; invited_owner: string | null }
    expect(body).toMatchObject({ status: 'ready', plan: 'pro', invited_owner: null })
    expect((await gw.call('GET', '/v1/namespaces/globex/channels', body.api_key)).status).toBe(200)
    expect((await gw.deps.store.read.select().from(namespaces).where(eq(namespaces.slug, 'globex')))[0]!.plan).toBe('pro')
    const plans = (await (await gw.call('GET', '/v1/plans', root)).json()) as { data: { name: string; namespaces: number }[] }
    expect(plans.data.find((p) => p.name === 'pro')!.namespaces).toBe(1)
  })

  test('names the bad fields: slug, plan, owner; a taken slug is 409', async () => {
    expect(fieldsOf(await expectProblem(await gw.call('POST', '/v1/provisioning', root, { slug: 'Bad Slug' }), 422, 'validation_failed'))).toEqual(['slug'])
    expect(fieldsOf(await expectProblem(await gw.call('POST', '/v1/provisioning', root, { slug: 'initech', plan: 'gold' }), 422, 'validation_failed'))).toEqual(['plan'])
    expect(fieldsOf(await expectProblem(await gw.call('POST', '/v1/provisioning', root, { slug: 'initech', owner: 'nope' }), 422, 'validation_failed'))).toEqual(['owner'])
    expect(fieldsOf(await expectProblem(await gw.call('POST', '/v1/provisioning', root, { slug: 'initech', extra: 1 }), 422, 'validation_failed'))).toEqual(['extra'])
    await expectProblem(await gw.call('POST', '/v1/provisioning', root, { slug: 'initech', owner: 'ghost@example.com' }), 404, 'user_not_found')
    await expectProblem(await gw.call('POST', '/v1/provisioning', root, { slug: 'acme' }), 409, 'namespace_taken')
    expect((await gw.deps.store.read.select().from(namespaces).where(eq(namespaces.slug, 'initech'))).length).toBe(0)
  })

  test('a deleted namespace is restored by an instance admin, not by its owner', async () => {
    const doomed = await gw.tenant('doomed')
    const ownerOfDoomed = await userToken('doomed-owner@example.com', { ownerOf: doomed.namespaceId })
    expect((await gw.call('DELETE', '/v1/namespaces/doomed', ownerOfDoomed)).status).toBe(202)
    expect((await gw.call('GET', '/v1/namespaces/doomed/channels', doomed.key)).status).toBe(401)
    // A disabled namespace is out of its owner's reach.
    await expectProblem(await gw.call('POST', '/v1/namespaces/doomed/restore', ownerOfDoomed), 404, 'namespace_not_found')
    const res = await gw.call('POST', '/v1/namespaces/doomed/restore', root)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ slug: 'doomed', status: 'active', disabled_at: null, purge_after: null })
    expect((await gw.call('GET', '/v1/namespaces/doomed/channels', doomed.key)).status).toBe(200)
    await expectProblem(await gw.call('POST', '/v1/namespaces/doomed/restore', ownerOfDoomed), 403, 'instance_admin_required')
  })
})
