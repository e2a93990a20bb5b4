/**
 * The audit log (issue #6): every successful change through the API is recorded with its actor,
 * action, resource, namespace and client address — never a body or a secret; each namespace
 * reads only its own log; the CLI shows it too.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { and, eq } from 'drizzle-orm'
import { listAudit, recordAudit } from '../../src/domain/audit'
import { createApiKey } from '../../src/domain/identity/api-keys'
import { insertMembership } from '../../src/domain/identity/members'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { trustProxies } from '../../src/http/client-ip'
import { apiKeys, auditLog } from '../../src/store/schema'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

type Entry = {
  id: string
  actor_type: string
  actor_id: string | null
  action: string
  resource_type: string
  resource_id: string | null
  ip: string | null
  detail: Record<string, unknown>
  created_at: string
}
type Page = { data: Entry[]; next_cursor: string | null }

// Cheap argon2 parameters: these tests only need a login to work.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })
const PASSWORD = 'audit test password'

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
let umbrella: Awaited<ReturnType<TestGateway['tenant']>>
let acmeKeyId: string
beforeAll(async () => {
  gw = await startTestGateway()
  acme = await gw.tenant('acme')
  umbrella = await gw.tenant('umbrella')
  acmeKeyId = (await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.applicationId, acme.applicationId)))[0]!.id
})
afterAll(() => gw.close())

async function auditOf(ns: string, key: string, query = ''): Promise<Page> {
  const res = await gw.call('GET', `/v1/namespaces/${ns}/audit${query}`, key)
  expect(res.status).toBe(200)
  return (await res.json()) as Page
}
const latest = async (action: string) => (await auditOf('acme', acme.key, `?action=${encodeURIComponent(action)}`)).data[0]

describe('what is recorded', () => {
  test('creating a channel: the application and its key, the action, the channel id', async () => {
    const res = await gw.call('POST', '/v1/namespaces/acme/channels', acme.key, { name: 'alerts', type: 'sandbox' })
    expect(res.status).toBe(201)
    const channel = (await res.json()) as { id: string }
    const entry = await latest('POST /v1/namespaces/{ns}/channels')
    expect(entry).toMatchObject({
      actor_type: 'application',
      actor_id: acme.applicationId,
      action: 'POST /v1/namespaces/{ns}/channels',
      resource_type: 'channel',
      resource_id: channel.id,
      // In-process requests have no socket, so no address.
      ip: null,
      detail: { credential: 'api_key', credential_id: acmeKeyId, status: 201 },
    })
    expect(Date.parse(entry!.created_at)).toBeGreaterThan(Date.now() - 60_000)
    // Stored under the namespace it belongs to.
    const row = (await gw.deps.store.read.select().from(auditLog).where(eq(auditLog.id, entry!.id)))[0]!
    expect(row.namespaceId).toBe(acme.namespaceId)
  })

  test('a change addressed by name records the id the answer gives; a delete the id or name it was asked for', async () => {
    expect((await gw.call('POST', '/v1/namespaces/acme/channels', acme.key, { name: 'temp', type: 'sandbox' })).status).toBe(201)
    const patched = await gw.call('PATCH', '/v1/namespaces/acme/channels/temp', acme.key, { status: 'paused' })
    const id = ((await patched.json()) as { id: string }).id
    expect(await latest('PATCH /v1/namespaces/{ns}/channels/{channel}')).toMatchObject({ resource_type: 'channel', resource_id: id })
    expect((await gw.call('DELETE', '/v1/namespaces/acme/channels/temp', acme.key)).status).toBe(204)
    expect(await latest('DELETE /v1/namespaces/{ns}/channels/{channel}')).toMatchObject({ resource_type: 'channel', resource_id: 'temp', detail: { status: 204 } })
  })

  test('creating a webhook: recorded, and its signing secret is nowhere in the log', async () => {
    const res = await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, { url: 'http://127.0.0.1:9/hook' })
    expect(res.status).toBe(201)
    const hook = (await res.json()) as { id: string; secret: string }
    expect(hook.secret).toStartWith('whsec_')
    expect(await latest('POST /v1/namespaces/{ns}/webhooks')).toMatchObject({ resource_type: 'webhook', resource_id: hook.id, actor_id: acme.applicationId })
    const rotated = (await (await gw.call('POST', `/v1/namespaces/acme/webhooks/${hook.id}/rotate-secret`, acme.key)).json()) as { secret: string }
    expect(await latest('POST /v1/namespaces/{ns}/webhooks/{id}/rotate-secret')).toMatchObject({ resource_type: 'webhook', resource_id: hook.id })
    const everything = JSON.stringify(await gw.deps.store.read.select().from(auditLog))
    expect(everything).not.toContain(hook.secret)
    expect(everything).not.toContain(rotated.secret)
  })

  test('creating and revoking an API key: both recorded with the key id, the key itself never', async () => {
    const app = (await (await gw.call('POST', '/v1/namespaces/acme/apps', acme.key, { name: 'billing' })).json()) as { id: string }
    expect(await latest('POST /v1/namespaces/{ns}/apps')).toMatchObject({ resource_type: 'application', resource_id: app.id })
    const created = await gw.call('POST', `/v1/namespaces/acme/apps/${app.id}/keys`, acme.key, { scopes: ['messages:send'] })
    expect(created.status).toBe(201)
    const key = (await created.json()) as { id: string; key: string }
    expect(await latest('POST /v1/namespaces/{ns}/apps/{app}/keys')).toMatchObject({ resource_type: 'api_key', resource_id: key.id })
    expect((await gw.call('DELETE', `/v1/namespaces/acme/apps/${app.id}/keys/${key.id}`, acme.key)).status).toBe(204)
    expect(await latest('DELETE /v1/namespaces/{ns}/apps/{app}/keys/{key_id}')).toMatchObject({
      actor_type: 'application',
      actor_id: acme.applicationId,
      resource_type: 'api_key',
      resource_id: key.id,
    })
    const clientRes = await gw.call('POST', `/v1/namespaces/acme/apps/${app.id}/clients`, acme.key, {})
    const client = (await clientRes.json()) as { client_id: string; client_secret: string }
    expect(await latest('POST /v1/namespaces/{ns}/apps/{app}/clients')).toMatchObject({ resource_type: 'oauth_client', resource_id: client.client_id })
    const everything = JSON.stringify(await gw.deps.store.read.select().from(auditLog))
    expect(everything).not.toContain(key.key)
    expect(everything).not.toContain(client.client_secret)
    expect(everything).not.toContain(acme.key)
  })

  test('reads, refusals and failures are not recorded; message sends are not either (they are their own record)', async () => {
    const before = (await gw.deps.store.read.select().from(auditLog)).length
    expect((await gw.call('GET', '/v1/namespaces/acme/channels', acme.key)).status).toBe(200)
    expect((await gw.call('POST', '/v1/namespaces/acme/channels', acme.key, { name: 'alerts', type: 'sandbox' })).status).toBe(409)
    expect((await gw.call('POST', '/v1/namespaces/acme/channels', acme.key, { name: 'x', type: 'sandbox', bogus: 1 })).status).toBe(422)
    expect((await gw.call('POST', '/v1/namespaces/acme/channels', null, { name: 'y', type: 'sandbox' })).status).toBe(401)
    expect((await gw.call('POST', '/v1/namespaces/acme/channels', umbrella.key, { name: 'z', type: 'sandbox' })).status).toBe(404)
    const sent = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'alerts', to: 'bob', content: { text: 'hi' } })
    expect(sent.status).toBe(202)
    expect((await gw.deps.store.read.select().from(auditLog)).length).toBe(before)
    // Cancelling a message is a change of its own, and is recorded.
    const later = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, {
      channel: 'alerts',
      to: 'bob',
      content: { text: 'later' },
      send_at: new Date(Date.now() + 3_600_000).toISOString(),
    })
    const id = ((await later.json()) as { id: string }).id
    expect((await gw.call('POST', `/v1/namespaces/acme/messages/${id}/cancel`, acme.key)).status).toBe(200)
    expect(await latest('POST /v1/namespaces/{ns}/messages/{id}/cancel')).toMatchObject({ resource_type: 'message', resource_id: id })
  })

  test('the client address: the socket peer, X-Forwarded-For only from a trusted proxy', async () => {
    const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (req, srv) => gw.app.fetch(req, srv) })
    try {
      const post = (name: string) =>
        fetch(`http://127.0.0.1:${server.port}/v1/namespaces/acme/channels`, {
          method: 'POST',
          headers: { authorization: `Bearer ${acme.key}`, 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7' },
          body: JSON.stringify({ name, type: 'sandbox' }),
        })
      expect((await post('from-peer')).status).toBe(201)
      expect((await latest('POST /v1/namespaces/{ns}/channels'))!.ip).toBe('127.0.0.1')
      trustProxies(gw.deps, ['127.0.0.1'])
      expect((await post('via-proxy')).status).toBe(201)
      expect((await latest('POST /v1/namespaces/{ns}/channels'))!.ip).toBe('203.0.113.7')
    } finally {
      trustProxies(gw.deps, [])
      server.stop(true)
    }
  })
})

describe('people', () => {
  async function signIn(email: string, opts: { role?: 'owner'; instanceAdmin?: boolean }) {
    const passwordHash = await hashPassword(PASSWORD)
    const user = await gw.deps.store.tx(async (tx) => {
      const row = await insertUser(tx, { email, passwordHash, instanceAdmin: opts.instanceAdmin }, Date.now())
      if (opts.role) await insertMembership(tx, acme.namespaceId, row.id, opts.role, Date.now())
      return row
    })
    const res = await gw.call('POST', '/v1/auth/login', null, { email, password: PASSWORD })
    expect(res.status).toBe(200)
    return { userId: user.id, token: ((await res.json()) as { access_token: string }).access_token }
  }

  test('a signed-in member is recorded as the user, with the session', async () => {
    const olivia = await signIn('olivia@example.com', { role: 'owner' })
    const res = await gw.call('POST', '/v1/namespaces/acme/channels', olivia.token, { name: 'by-olivia', type: 'sandbox' })
    expect(res.status).toBe(201)
    const entry = await latest('POST /v1/namespaces/{ns}/channels')
    expect(entry).toMatchObject({ actor_type: 'user', actor_id: olivia.userId, resource_id: ((await res.json()) as { id: string }).id })
    expect(entry!.detail.session_id).toStartWith('ses_')
    expect(JSON.stringify(entry)).not.toContain(olivia.token)
  })

  test("an instance admin's new namespace is an instance-level entry: in no namespace's log", async () => {
    const root = await signIn('root@example.com', { instanceAdmin: true })
    const res = await gw.call('POST', '/v1/namespaces', root.token, { slug: 'globex' })
    expect(res.status).toBe(201)
    const id = ((await res.json()) as { id: string }).id
    const [row] = await gw.deps.store.read.select().from(auditLog).where(eq(auditLog.resourceId, id))
    expect(row).toMatchObject({ namespaceId: null, actorType: 'user', actorId: root.userId, action: 'POST /v1/namespaces', resourceType: 'namespace' })
    expect((await auditOf('globex', root.token)).data).toEqual([])
  })
})

describe('reading the log', () => {
  test("a namespace reads only its own log; another namespace's key gets 404", async () => {
    const res = await gw.call('GET', '/v1/namespaces/acme/audit', umbrella.key)
    expect(res.status).toBe(404)
    const text = await res.text()
    expect(text).not.toContain(acme.applicationId)
    expect((await gw.call('POST', '/v1/namespaces/umbrella/channels', umbrella.key, { name: 'mine', type: 'sandbox' })).status).toBe(201)
    const own = await auditOf('umbrella', umbrella.key)
    expect(own.data.length).toBe(1)
    expect(own.data[0]!.actor_id).toBe(umbrella.applicationId)
    expect(JSON.stringify(own)).not.toContain(acme.applicationId)
    for (const entry of (await auditOf('acme', acme.key, '?limit=200')).data) expect(entry.actor_id).not.toBe(umbrella.applicationId)
  })

  test('audit:read is needed', async () => {
    const { secret } = await createApiKey(gw.deps, acme.namespaceId, { applicationId: acme.applicationId, scopes: ['channels:write'] })
    const res = await gw.call('GET', '/v1/namespaces/acme/audit', secret)
    expect(res.status).toBe(403)
    expect(((await res.json()) as { detail: string }).detail).toContain('audit:read')
  })

  test('filters: action, actor, time window; newest first with a cursor', async () => {
    const all = (await auditOf('acme', acme.key, '?limit=200')).data
    expect(all.length).toBeGreaterThan(5)
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort().reverse())

    const byActor = await auditOf('acme', acme.key, `?actor_id=${acme.applicationId}&limit=200`)
    expect(byActor.data.length).toBe(all.filter((e) => e.actor_id === acme.applicationId).length)
    expect(byActor.data.length).toBeLessThan(all.length)
    const creates = await auditOf('acme', acme.key, `?action=${encodeURIComponent('POST /v1/namespaces/{ns}/channels')}&limit=200`)
    expect(creates.data.length).toBeGreaterThan(1)
    expect(creates.data.every((e) => e.action === 'POST /v1/namespaces/{ns}/channels')).toBe(true)
    expect((await auditOf('acme', acme.key, '?actor_id=app_nobody')).data).toEqual([])

    const future = new Date(Date.now() + 3_600_000).toISOString()
    expect((await auditOf('acme', acme.key, `?since=${encodeURIComponent(future)}`)).data).toEqual([])
    expect((await auditOf('acme', acme.key, `?until=${encodeURIComponent(future)}&limit=200`)).data.length).toBe(all.length)
    expect((await auditOf('acme', acme.key, '?until=2000-01-01T00:00:00Z')).data).toEqual([])

    const pages: Entry[] = []
    let cursor: string | null = null
    do {
      const page: Page = await auditOf('acme', acme.key, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      expect(page.data.length).toBeLessThanOrEqual(2)
      pages.push(...page.data)
      cursor = page.next_cursor
    } while (cursor)
    expect(pages.map((e) => e.id)).toEqual(all.map((e) => e.id))

    const bad = await gw.call('GET', '/v1/namespaces/acme/audit?since=yesterday', acme.key)
    expect(bad.status).toBe(422)
    expect(((await bad.json()) as { errors: { field: string }[] }).errors[0]!.field).toBe('since')
  })

  test('recordAudit for changes made outside the API (the CLI), in the same transaction as the change', async () => {
    const at = Date.now()
    await gw.deps.store.tx(async (tx) => {
      await recordAudit(tx, {
        namespaceId: acme.namespaceId,
        actor: { type: 'system', id: 'cli:operator' },
        action: 'cli keys revoke',
        resource: { type: 'api_key', id: 'key_x' },
        detail: { reason: 'rotation', secret: 'whsec_nope', note: 'og_live_not-this-either', nested: { a: 1 } },
        at,
      })
    })
    // A transaction that fails takes its audit entry with it.
    await expect(
      gw.deps.store.tx(async (tx) => {
        await recordAudit(tx, { namespaceId: acme.namespaceId, actor: { type: 'system', id: null }, action: 'cli doomed', resource: { type: 'x', id: null }, at })
        throw new Error('rolled back')
      }),
    ).rejects.toThrow('rolled back')
    const page = await listAudit(gw.deps, acme.namespaceId, { limit: 10, actor_id: 'cli:operator' })
    expect(page.data).toHaveLength(1)
    expect(page.data[0]).toMatchObject({ actor_type: 'system', action: 'cli keys revoke', resource_type: 'api_key', resource_id: 'key_x', detail: { reason: 'rotation' } })
    expect(page.data[0]!.detail).toEqual({ reason: 'rotation' })
    expect((await listAudit(gw.deps, acme.namespaceId, { limit: 10, action: 'cli doomed' })).data).toEqual([])
    const rows = await gw.deps.store.read.select().from(auditLog).where(and(eq(auditLog.namespaceId, umbrella.namespaceId), eq(auditLog.action, 'cli keys revoke')))
    expect(rows).toEqual([])
  })
})

describe('omnigate audit', () => {
  const MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')
  function omnigate(...args: string[]) {
    const configPath = join(gw.dir, 'cli.toml')
    writeFileSync(configPath, `[database]\nurl = "${gw.config.database.url}"\n\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\n`)
    const proc = Bun.spawnSync([process.execPath, MAIN, '--config', configPath, ...args], {
      env: { PATH: process.env.PATH ?? '', TEST_MASTER_KEY: gw.config.security.master_key! },
    })
    return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() }
  }

  test('prints the log of a namespace, newest first, with --since and --limit', () => {
    const out = omnigate('audit', '-n', 'acme', '--since', '24h', '--limit', '3')
    expect(out.stderr).toBe('')
    expect(out.code).toBe(0)
    const lines = out.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^TIME\s+ACTOR\s+ACTION\s+RESOURCE\s+IP$/)
    expect(lines).toHaveLength(4)
    expect(out.stdout).not.toContain('umbrella')
  })

  test('every namespace by default, as JSON with --json; the actor filter', () => {
    const out = omnigate('--json', 'audit', '--actor', umbrella.applicationId)
    expect(out.code).toBe(0)
    const page = JSON.parse(out.stdout) as { data: (Entry & { namespace: string })[] }
    expect(page.data.length).toBe(1)
    expect(page.data[0]).toMatchObject({ namespace: 'umbrella', action: 'POST /v1/namespaces/{ns}/channels', resource_type: 'channel' })
  })

  test('a bad --since is one clear line, exit 2', () => {
    const out = omnigate('audit', '--since', 'last tuesday')
    expect(out.code).toBe(2)
    expect(out.stdout).toBe('')
    expect(out.stderr.trim()).toBe('error: --since: "last tuesday" is neither a duration (30m, 24h, 7d) nor a time (2026-01-31T12:00:00Z)')
  })
})
