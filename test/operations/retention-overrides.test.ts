/**
 * Per-namespace retention: overrides declared in the config (`[[namespaces]] retention`) or set
 * by an instance admin (`PUT /v1/namespaces/{ns}/retention`), and the `retention` job applying
 * each namespace's own days — one namespace's override purges its content and not another's.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq, inArray } from 'drizzle-orm'
import { configSchema } from '../../src/config'
import { insertMembership } from '../../src/domain/identity/members'
import { login } from '../../src/domain/identity/sessions'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { reconcileNamespaces } from '../../src/domain/namespaces/reconcile'
import { PURGED_CONTENT } from '../../src/domain/retention'
import type { Engine } from '../../src/engine/engine'
import { listJobRuns } from '../../src/engine/jobs'
import { messageEvents, messages, namespaces } from '../../src/store/schema'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'
import { expectProblem, fieldsOf } from '../helpers/problems'

// Cheap argon2: two people log in once each.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const DAY = 86_400_000
let gw: TestGateway
let engine: Engine
const tenants: Record<string, Awaited<ReturnType<TestGateway['tenant']>>> = {}
const sent: Record<string, string[]> = {}
const tokens: Record<string, string> = {}
const DEFAULTS = { message_days: 90, event_days: 365 }

async function person(name: string, opts: { instanceAdmin?: boolean; ownerOf?: string } = {}) {
  const passwordHash = await hashPassword('retention test password')
  await gw.deps.store.tx(async (tx) => {
    const user = await insertUser(tx, { email: `${name}@example.com`, passwordHash, instanceAdmin: opts.instanceAdmin }, Date.now())
    if (opts.ownerOf) await insertMembership(tx, opts.ownerOf, user.id, 'owner', Date.now())
  })
  tokens[name] = (await login(gw.deps, { email: `${name}@example.com`, password: 'retention test password' })).accessToken
}

async function send(slug: string, key: string, n: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const res = await gw.call('POST', `/v1/namespaces/${slug}/messages`, key, { channel: 'sandbox', to: `user${i}@example.com`, content: { text: `secret of ${slug}` } })
    expect(res.status).toBe(202)
    ids.push(((await res.json()) as { id: string }).id)
  }
  return ids
}

const contents = async (ids: string[]) => (await gw.deps.store.read.select({ content: messages.content }).from(messages).where(inArray(messages.id, ids))).map((m) => m.content as unknown)
const events = async (ids: string[]) => (await gw.deps.store.read.select({ id: messageEvents.id }).from(messageEvents).where(inArray(messageEvents.messageId, ids))).length

beforeAll(async () => {
  gw = await startTestGateway({
    retention: DEFAULTS,
    limits: { login_attempts_per_minute: 1000 },
    // Declared with its own message_days: reconciled into the store at start-up.
    namespaces: [{ slug: 'declared', channels: [{ name: 'sandbox', type: 'sandbox' }], retention: { message_days: 5 } }],
  })
  for (const slug of ['short', 'normal']) {
    tenants[slug] = await gw.tenant(slug)
    await gw.channel(tenants[slug]!.namespaceId, 'sandbox')
  }
  const [declared] = await gw.deps.store.read.select().from(namespaces).where(eq(namespaces.slug, 'declared'))
  await person('root', { instanceAdmin: true })
  await person('olivia', { ownerOf: tenants.short!.namespaceId })
  engine = await gw.startEngine()
  sent.short = await send('short', tenants.short!.key, 2)
  sent.normal = await send('normal', tenants.normal!.key, 2)
  // The declared namespace has no key of its own: an instance admin sends for it.
  sent.declared = await send(declared!.slug, tokens.root!, 2)
  const all = Object.values(sent).flat()
  await eventually(async () => (await gw.deps.store.read.select().from(messages).where(inArray(messages.id, all))).every((m) => m.status === 'delivered'))
})
afterAll(() => gw.close())

describe('seeing and setting a namespace\'s retention (instance admins)', () => {
  test('a namespace without overrides follows the defaults; a declared one shows its own days', async () => {
    const res = await gw.call('GET', '/v1/namespaces/normal/retention', tokens.root!)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ namespace: 'normal', ...DEFAULTS, overrides: {}, defaults: DEFAULTS })
    const declared = await (await gw.call('GET', '/v1/namespaces/declared/retention', tokens.root!)).json()
    expect(declared).toEqual({ namespace: 'declared', message_days: 5, event_days: 365, overrides: { message_days: 5 }, defaults: DEFAULTS })
  })

  test('PUT replaces the overrides and answers what applies now; {} goes back to the defaults', async () => {
    const set = await gw.call('PUT', '/v1/namespaces/short/retention', tokens.root!, { message_days: 10, event_days: 20 })
    expect(set.status).toBe(200)
    expect(await set.json()).toEqual({ namespace: 'short', message_days: 10, event_days: 20, overrides: { message_days: 10, event_days: 20 }, defaults: DEFAULTS })
    // Replaced whole: a key left out follows the default again.
    const partial = await (await gw.call('PUT', '/v1/namespaces/short/retention', tokens.root!, { message_days: 10 })).json()
    expect(partial).toMatchObject({ message_days: 10, event_days: 365, overrides: { message_days: 10 } })
    const cleared = await (await gw.call('PUT', '/v1/namespaces/short/retention', tokens.root!, {})).json()
    expect(cleared).toMatchObject({ ...DEFAULTS, overrides: {} })
    const [row] = await gw.deps.store.read.select({ settings: namespaces.settings }).from(namespaces).where(eq(namespaces.id, tenants.short!.namespaceId))
    expect(row!.settings.retention).toBeUndefined()
    // The last word for the run below: 10 days of content, 20 of events.
    expect((await gw.call('PUT', `/v1/namespaces/${tenants.short!.namespaceId}/retention`, tokens.root!, { message_days: 10, event_days: 20 })).status).toBe(200)
  })

  test('bad values are 422 naming each field; nothing changes', async () => {
    for (const [body, fields] of [
      [{ message_days: -1 }, ['message_days']],
      [{ message_days: 1.5, event_days: 'soon' }, ['event_days', 'message_days']],
      [{ event_days: 36_501 }, ['event_days']],
      [{ message_day: 3 }, ['message_day']],
    ] as const) {
      const problem = await expectProblem(await gw.call('PUT', '/v1/namespaces/short/retention', tokens.root!, body), 422, 'validation_failed')
      expect(fieldsOf(problem)).toEqual([...fields])
    }
    expect(await (await gw.call('GET', '/v1/namespaces/short/retention', tokens.root!)).json()).toMatchObject({ message_days: 10, event_days: 20 })
  })

  test("an owner of the namespace and its application keys get 403; another namespace's key a 404", async () => {
    for (const token of [tokens.olivia!, tenants.short!.key]) {
      await expectProblem(await gw.call('GET', '/v1/namespaces/short/retention', token), 403, 'instance_admin_required')
      await expectProblem(await gw.call('PUT', '/v1/namespaces/short/retention', token, { message_days: 0 }), 403, 'instance_admin_required')
    }
    await expectProblem(await gw.call('PUT', '/v1/namespaces/short/retention', tenants.normal!.key, { message_days: 0 }), 404, 'namespace_not_found')
    expect(await (await gw.call('GET', '/v1/namespaces/short/retention', tokens.root!)).json()).toMatchObject({ message_days: 10, event_days: 20 })
  })
})

describe('the retention job', () => {
  test("30 days on: each namespace's own days — short and declared lose their content, normal keeps it", async () => {
    const before = { short: await events(sent.short!), normal: await events(sent.normal!), declared: await events(sent.declared!) }
    expect(Math.min(...Object.values(before))).toBeGreaterThan(0)
    gw.deps.now = () => Date.now() + 30 * DAY
    try {
      expect(await engine.jobs.run('retention')).toBe('ok')
    } finally {
      gw.deps.now = undefined
    }
    expect((await listJobRuns(gw.deps.store)).find((r) => r.name === 'retention')).toMatchObject({ lastStatus: 'ok' })
    // short: 10 days of content, 20 of events.
    expect(await contents(sent.short!)).toEqual([PURGED_CONTENT, PURGED_CONTENT])
    expect(await events(sent.short!)).toBe(0)
    // declared (config): 5 days of content, the default year of events.
    expect(await contents(sent.declared!)).toEqual([PURGED_CONTENT, PURGED_CONTENT])
    expect(await events(sent.declared!)).toBe(before.declared)
    // normal: the defaults, 90 days and a year: nothing goes.
    expect(await contents(sent.normal!)).toEqual([{ text: 'secret of normal' }, { text: 'secret of normal' }])
    expect(await events(sent.normal!)).toBe(before.normal)
  })
})

describe('[[namespaces]] retention in the config', () => {
  const declare = (retention?: Record<string, number>) =>
    configSchema.parse({ namespaces: [{ slug: 'declared', channels: [{ name: 'sandbox', type: 'sandbox' }], ...(retention ? { retention } : {}) }] }).namespaces

  test('reconciled like quotas: a changed declaration replaces the stored overrides, the same one changes nothing, none leaves them alone', async () => {
    expect((await reconcileNamespaces(gw.deps, declare({ message_days: 5 }))).updated).not.toContain('retention declared')
    expect((await reconcileNamespaces(gw.deps, declare({ event_days: 30, message_days: 7 }))).updated).toContain('retention declared')
    expect(await (await gw.call('GET', '/v1/namespaces/declared/retention', tokens.root!)).json()).toMatchObject({ message_days: 7, event_days: 30, overrides: { message_days: 7, event_days: 30 } })
    // Keys in another order are the same declaration.
    expect((await reconcileNamespaces(gw.deps, declare({ message_days: 7, event_days: 30 }))).updated).not.toContain('retention declared')
    expect((await reconcileNamespaces(gw.deps, declare())).updated).toEqual([])
    expect(await (await gw.call('GET', '/v1/namespaces/declared/retention', tokens.root!)).json()).toMatchObject({ overrides: { message_days: 7, event_days: 30 } })
  })

  test('config check names a bad key of a declaration', () => {
    const result = configSchema.safeParse({ namespaces: [{ slug: 'x', retention: { message_days: -3, keep: true } }] })
    expect(result.success).toBe(false)
    const paths = result.error!.issues.map((i) => i.path.join('.'))
    expect(paths).toEqual(expect.arrayContaining(['namespaces.0.retention.message_days', 'namespaces.0.retention']))
  })
})
