/**
 * Deleting a tenant: disabled at once (keys, client tokens and members refused, the dispatcher
 * skips its messages), exported whole as NDJSON with its secrets sealed or left out, and after
 * the grace period purged table by table until not one row of it is left anywhere — while a
 * neighbouring tenant keeps every row.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { and, count, eq, inArray, sql } from 'drizzle-orm'
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core'
import { insertMembership } from '../../src/domain/identity/members'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { claimDueMessages } from '../../src/domain/messages/dispatch'
import { exportNamespace } from '../../src/domain/provisioning/export'
import { provisionByOperator } from '../../src/domain/provisioning/provision'
import { purgeDueNamespaces } from '../../src/domain/provisioning/purge'
import { namespacedTables } from '../../src/domain/provisioning/tables'
import { newId } from '../../src/lib/ids'
import {
  channels,
  failureRollups,
  invitations,
  latencyRollups,
  memberships,
  messageRollups,
  messages,
  namespaces,
  pendingStatuses,
  users,
  webhookAttempts,
  webhookDeliveries,
} from '../../src/store/schema'
import { startWebhookReceiver } from '../fakes/webhook-receiver'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const PASSWORD = 'deprovision test password'
const DAY_MS = 24 * 60 * 60 * 1000
type Problem = { code: string }

let gw: TestGateway
let receiver: ReturnType<typeof startWebhookReceiver>
const tenants: Record<string, { id: string; key: string; client: { client_id: string; client_secret: string } }> = {}
const tokens: Record<string, string> = {}

async function person(email: string, opts: { instanceAdmin?: boolean } = {}) {
  const passwordHash = await hashPassword(PASSWORD)
  return gw.deps.store.tx((tx) => insertUser(tx, { email, passwordHash, verified: true, instanceAdmin: opts.instanceAdmin }, Date.now()))
}

async function loginAs(email: string): Promise<string> {
  const res = await gw.call('POST', '/v1/auth/login', null, { email, password: PASSWORD })
  expect(res.status).toBe(200)
  return ((await res.json()) as { access_token: string }).access_token
}

const ok = async (res: Response | Promise<Response>, status = 201) => {
  const r = await res
  if (r.status !== status) throw new Error(`${r.status}: ${await r.text()}`)
  return r.json() as Promise<any>
}

/** A tenant with something in every table: provisioned, then used through the API. */
async function populatedTenant(slug: string) {
  const { job, apiKey } = await provisionByOperator(gw.deps, { slug, plan: 'free', ownerEmail: 'owner@example.com' })
  const key = apiKey!
  const nsId = job.namespaceId!
  const base = `/v1/namespaces/${slug}`
  await ok(gw.call('POST', `${base}/channels/sandbox/terminals`, key, { address: 'bot-1' }))
  await ok(gw.call('POST', `${base}/webhooks`, key, { url: receiver.url, event_types: ['*'], headers: { 'x-hook-token': `hook-secret-${slug}` } }))
  expect((await gw.call('POST', `${base}/suppressions`, key, { channel_type: 'sandbox', recipient: 'blocked@example.com' })).status).toBe(204)
  await ok(gw.call('POST', `${base}/channels`, key, { name: 'hook', type: 'http', config: { url: 'http://127.0.0.1:9/x', headers: { authorization: `Bearer channel-secret-${slug}` } } }))
  const client = await ok(gw.call('POST', `${base}/apps/default/clients`, key, { scopes: ['channels:read'] }))
  for (const [i, outcome] of ['delivered', 'failed'].entries()) {
    const options = outcome === 'failed' ? { sandbox: { outcome: 'failed' } } : {}
    await ok(gw.call('POST', `${base}/messages`, key, { channel: 'sandbox', to: `r${i}@example.com`, content: { text: 'hi' }, options }, { 'idempotency-key': `${slug}-${i}` }), 202)
  }
  const at = Date.now()
  const [channel] = await gw.deps.store.read.select().from(channels).where(eq(channels.namespaceId, nsId))
  await gw.deps.store.tx(async (tx) => {
    await tx.insert(invitations).values({ id: newId('inv'), namespaceId: nsId, email: `invitee@${slug}.test`, role: 'viewer', tokenHash: `hash-${slug}`, expiresAt: at + DAY_MS, createdAt: at })
    await tx.insert(pendingStatuses).values({ id: newId('pst'), channelId: channel!.id, providerMessageId: `early-${slug}`, status: 'delivered', occurredAt: at, createdAt: at })
  })
  tenants[slug] = { id: nsId, key, client }
}

/** Rows per namespaced table (and pending statuses, by channel) of one namespace. */
async function rowCounts(namespaceId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const t of namespacedTables()) {
    const [row] = await gw.deps.store.read.select({ n: count() }).from(t.table as never).where(eq(t.namespaceColumn, namespaceId))
    out[t.name] = (row as { n: number }).n
  }
  const channelIds = gw.deps.store.read.select({ id: channels.id }).from(channels).where(eq(channels.namespaceId, namespaceId))
  out.pending_statuses = (await gw.deps.store.read.select({ n: count() }).from(pendingStatuses).where(inArray(pendingStatuses.channelId, channelIds)))[0]!.n
  return out
}

/** Rollups come from the analytics module's counting; any table it left empty gets a row here. */
async function ensureRollups(namespaceId: string) {
  const [channel] = await gw.deps.store.read.select().from(channels).where(eq(channels.namespaceId, namespaceId))
  const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000
  const counts = await rowCounts(namespaceId)
  await gw.deps.store.tx(async (tx) => {
    if (counts.message_rollups === 0) {
      await tx.insert(messageRollups).values({ namespaceId, granularity: 'hour', bucketStart: hour, channelId: channel!.id, applicationId: '', direction: 'outbound', status: 'sent', count: 1 })
    }
    if (counts.latency_rollups === 0) await tx.insert(latencyRollups).values({ namespaceId, bucketStart: hour, channelId: channel!.id, kind: 'accept_to_sent', le: 100, count: 1 })
    if (counts.failure_rollups === 0) await tx.insert(failureRollups).values({ namespaceId, bucketStart: hour, channelId: channel!.id, errorCode: 'x', count: 1 })
  })
}

beforeAll(async () => {
  receiver = startWebhookReceiver()
  gw = await startTestGateway({ retention: { purge_grace_days: 7 }, limits: { login_attempts_per_minute: 1000 } })
  await person('owner@example.com')
  const developer = await person('dev@example.com')
  const admin = await person('admin@example.com')
  await person('root@example.com', { instanceAdmin: true })
  await populatedTenant('victim')
  await populatedTenant('bystander')
  await gw.deps.store.tx(async (tx) => {
    await insertMembership(tx, tenants.victim!.id, developer.id, 'developer', Date.now())
    await insertMembership(tx, tenants.victim!.id, admin.id, 'admin', Date.now())
  })
  for (const email of ['owner@example.com', 'dev@example.com', 'admin@example.com', 'root@example.com']) tokens[email.split('@')[0]!] = await loginAs(email)

  // Dispatch, deliver webhooks, then stop: the history exists, and the next sends wait.
  const engine = await gw.startEngine()
  await eventually(async () => {
    const [pending] = await gw.deps.store.read.select({ n: count() }).from(messages).where(sql`${messages.nextAttemptAt} IS NOT NULL`)
    const [attempts] = await gw.deps.store.read.select({ n: count() }).from(webhookAttempts)
    const [open] = await gw.deps.store.read.select({ n: count() }).from(webhookDeliveries).where(eq(webhookDeliveries.status, 'pending'))
    return pending!.n === 0 && attempts!.n > 0 && open!.n === 0
  })
  await engine.stop()
  for (const slug of ['victim', 'bystander']) {
    await ensureRollups(tenants[slug]!.id)
    await ok(gw.call('POST', `/v1/namespaces/${slug}/messages`, tenants[slug]!.key, { channel: 'sandbox', to: 'later@example.com', content: { text: 'queued' } }), 202)
  }
}, 30_000)
afterAll(async () => {
  await gw.close()
  receiver.stop()
})

describe('deleting a namespace', () => {
  test('the fixture has rows in every table that holds tenant rows (so "none left" means something)', async () => {
    const counts = await rowCounts(tenants.victim!.id)
    const empty = Object.entries(counts).filter(([, n]) => n === 0).map(([t]) => t)
    expect(empty).toEqual([])
  })

  test('only an owner or an instance admin may: an admin member and an application get 403 owner_required', async () => {
    for (const credential of [tokens.admin!, tenants.victim!.key]) {
      const res = await gw.call('DELETE', '/v1/namespaces/victim', credential)
      expect(res.status).toBe(403)
      expect(((await res.json()) as Problem).code).toBe('owner_required')
    }
    // A developer lacks even the scope.
    const dev = await gw.call('DELETE', '/v1/namespaces/victim', tokens.dev!)
    expect(((await dev.json()) as Problem).code).toBe('insufficient_scope')
    expect((await gw.call('GET', '/v1/namespaces/victim/channels', tenants.victim!.key)).status).toBe(200)
  })

  test('the owner deletes: disabled now, purge after the grace period; keys, client tokens and members refused at once', async () => {
    const clientToken = await gw.app.request('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${tenants.victim!.client.client_id}:${tenants.victim!.client.client_secret}`)}` },
      body: 'grant_type=client_credentials',
    })
    const { access_token: clientAccess } = (await clientToken.json()) as { access_token: string }
    expect((await gw.call('GET', '/v1/namespaces/victim/channels', clientAccess)).status).toBe(200)

    const before = Date.now()
    const res = await gw.call('DELETE', '/v1/namespaces/victim', tokens.owner!)
    expect(res.status).toBe(202)
    const body = (await res.json()) as { status: string; disabled_at: string; purge_after: string }
    expect(body.status).toBe('disabled')
    expect(Date.parse(body.purge_after) - Date.parse(body.disabled_at)).toBe(7 * DAY_MS)
    expect(Date.parse(body.disabled_at)).toBeGreaterThanOrEqual(before - 1000)

    // At once: no waiting for any cache.
    expect((await gw.call('GET', '/v1/namespaces/victim/channels', tenants.victim!.key)).status).toBe(401)
    expect((await gw.call('GET', '/v1/namespaces/victim/channels', clientAccess)).status).toBe(401)
    expect((await gw.call('GET', '/v1/namespaces/victim/messages', tokens.owner!)).status).toBe(404)
    expect((await gw.call('GET', '/v1/namespaces/victim/messages', tokens.dev!)).status).toBe(404)
    // The neighbour is untouched.
    expect((await gw.call('GET', '/v1/namespaces/bystander/channels', tenants.bystander!.key)).status).toBe(200)

    // Deleting again (an instance admin still sees it) keeps the first purge date.
    const again = await gw.call('DELETE', '/v1/namespaces/victim', tokens.root!)
    expect(again.status).toBe(202)
    expect(((await again.json()) as { purge_after: string }).purge_after).toBe(body.purge_after)
  })

  test('the dispatcher skips its queued messages and still sends the neighbour\'s', async () => {
    const claimed = await claimDueMessages(gw.deps.store, 'probe', 100, 60_000, Date.now())
    expect(claimed.map((m) => m.namespaceId)).toEqual([tenants.bystander!.id])
    const [queued] = await gw.deps.store.read.select().from(messages).where(and(eq(messages.recipient, 'later@example.com'), eq(messages.namespaceId, tenants.victim!.id)))
    expect(queued!.status).toBe('queued')
  })

  test('export: every row as NDJSON with its table, secrets sealed or left out', async () => {
    const lines: string[] = []
    const summary = await exportNamespace(gw.deps, tenants.victim!.id, (line) => {
      lines.push(line)
    })
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { table: string })
    const counts = await rowCounts(tenants.victim!.id)
    for (const [table, n] of Object.entries(counts)) expect([table, rows.filter((r) => r.table === table).length]).toEqual([table, n])
    expect(summary.tables.namespaces).toBe(1)
    expect(rows[0]).toMatchObject({ table: 'namespaces', id: tenants.victim!.id, slug: 'victim', status: 'disabled', plan: 'free' })
    expect(rows.find((r) => r.table === 'users')).toEqual({ table: 'users', id: expect.any(String), email: 'owner@example.com', display_name: '', verified: true, created_at: expect.any(Number) })
    // Nothing of the bystander; no hash column; no secret in clear.
    const text = lines.join('\n')
    expect(text).not.toContain(tenants.bystander!.id)
    for (const row of rows) for (const column of Object.keys(row)) expect(column === 'hash' || column.endsWith('_hash')).toBe(false)
    for (const secret of [tenants.victim!.key, tenants.victim!.client.client_secret, 'channel-secret-victim', 'hook-secret-victim', 'whsec_']) expect(text).not.toContain(secret)
    const channel = rows.find((r) => r.table === 'channels' && r.name === 'hook')!
    expect(String(channel.config_enc)).toStartWith('v1.')
  })

  test('the purge waits for the grace period, then leaves not one row of it in any table', async () => {
    const bystanderBefore = await rowCounts(tenants.bystander!.id)
    const victimIds = await victimRowIds()
    expect((await purgeDueNamespaces(gw.deps)).purged).toEqual([])
    expect((await rowCounts(tenants.victim!.id)).messages).toBeGreaterThan(0)

    gw.deps.now = () => Date.now() + 8 * DAY_MS
    try {
      // Two rows a batch: every table takes several batches.
      const report = await purgeDueNamespaces(gw.deps, { batchRows: 2 })
      expect(report.purged).toEqual(['victim'])
    } finally {
      gw.deps.now = undefined
    }
    const after = await rowCounts(tenants.victim!.id)
    expect(Object.entries(after).filter(([, n]) => n > 0)).toEqual([])
    expect(await gw.deps.store.read.select().from(namespaces).where(eq(namespaces.id, tenants.victim!.id))).toEqual([])
    // People are global: the owner stays, with the membership of the other namespace only.
    const [owner] = await gw.deps.store.read.select().from(users).where(eq(users.email, 'owner@example.com'))
    expect((await gw.deps.store.read.select().from(memberships).where(eq(memberships.userId, owner!.id))).map((m) => m.namespaceId)).toEqual([tenants.bystander!.id])
    expect(await rowCounts(tenants.bystander!.id)).toEqual(bystanderBefore)

    // Not one id of it anywhere in the database, but the instance's record that it was purged.
    const traces = await scanDatabase(victimIds)
    expect(traces).toEqual([{ table: 'audit_log', row: expect.objectContaining({ namespace_id: null, action: 'job namespace-purge', resource_id: tenants.victim!.id }) }])

    // The name is free again.
    const again = await provisionByOperator(gw.deps, { slug: 'victim' })
    expect(again.job.status).toBe('done')
  })
})

/** Every id the victim's rows carry: the namespace, and the ids of its channels, messages, apps, keys… */
async function victimRowIds(): Promise<string[]> {
  const ids = new Set([tenants.victim!.id])
  for (const t of namespacedTables()) {
    const idColumn = (t.table as unknown as Record<string, SQLiteColumn>).id
    if (!idColumn) continue
    const rows = (await gw.deps.store.read.select({ id: idColumn }).from(t.table as SQLiteTable).where(eq(t.namespaceColumn, tenants.victim!.id))) as { id: string }[]
    for (const row of rows) ids.add(row.id)
  }
  return [...ids]
}

/** Rows of any table (the whole database, not just the known tables) that mention one of `ids`. */
async function scanDatabase(ids: string[]) {
  const tables = (await gw.deps.store.read.all(sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)) as { name: string }[]
  const hits: { table: string; row: Record<string, unknown> }[] = []
  for (const { name } of tables) {
    const rows = (await gw.deps.store.read.all(sql.raw(`SELECT * FROM "${name}"`))) as Record<string, unknown>[]
    for (const row of rows) {
      const text = JSON.stringify(row)
      if (ids.some((id) => text.includes(id))) hits.push({ table: name, row })
    }
  }
  return hits
}

