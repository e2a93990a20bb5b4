/**
 * An API key's "last used": noted in memory when a request authenticates with it, written at
 * most once a minute and at shutdown (never once per request), shown by the API and the CLI.
 */
import { afterEach, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { configSchema } from '../../src/config'
import { createNamespace } from '../../src/domain/namespaces'
import { createApplication } from '../../src/domain/identity/applications'
import { createApiKey, flushKeyUsage } from '../../src/domain/identity/api-keys'
import { silentLogger } from '../../src/lib/log'
import { generateMasterKey } from '../../src/lib/secrets'
import { openBunSqliteStore } from '../../src/store/bun-sqlite'
import { all } from '../../src/store/raw'
import { apiKeys } from '../../src/store/schema'
import { startServer } from '../../src/server'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

async function gateway(): Promise<TestGateway> {
  const gw = await startTestGateway()
  cleanups.push(() => gw.close())
  return gw
}

const lastUsed = async (gw: TestGateway, id: string) => (await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.id, id)))[0]!.lastUsedAt

test('requests note the use; nothing is written per request; the flush writes it and the API shows it', async () => {
  const gw = await gateway()
  const acme = await gw.tenant('acme')
  const [keyRow] = await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.applicationId, acme.applicationId))
  const spare = await createApiKey(gw.deps, acme.namespaceId, { applicationId: acme.applicationId, name: 'spare' })
  const list = async () => ((await (await gw.call('GET', `/v1/namespaces/acme/apps/${acme.applicationId}/keys`, acme.key)).json()) as { data: { id: string; last_used_at: string | null }[] }).data
  expect((await list()).every((k) => k.last_used_at === null)).toBe(true)

  const before = Date.now()
  for (let i = 0; i < 20; i++) expect((await gw.call('GET', '/v1/namespaces/acme/channels', acme.key)).status).toBe(200)
  // Twenty requests, not one write: the column is untouched until the flush.
  expect(await lastUsed(gw, keyRow!.id)).toBeNull()
  await flushKeyUsage(gw.deps)
  const used = await lastUsed(gw, keyRow!.id)
  expect(used).toBeGreaterThanOrEqual(before)
  expect(used).toBeLessThanOrEqual(Date.now())
  const shown = (await list()).find((k) => k.id === keyRow!.id)!
  expect(Date.parse(shown.last_used_at!)).toBeGreaterThanOrEqual(before - 1000)
  // The key nobody used, and a wrong key, leave nothing.
  expect(await lastUsed(gw, spare.key.id)).toBeNull()
  expect((await gw.call('GET', '/v1/namespaces/acme/channels', `${acme.key}x`)).status).toBe(401)
  await flushKeyUsage(gw.deps)
  expect(await lastUsed(gw, spare.key.id)).toBeNull()
})

test('a graceful stop writes what was noted since the last flush', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'key-usage-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const dbPath = join(dir, 'og.db')
  const config = configSchema.parse({ server: { listen: '127.0.0.1:0' }, database: { url: `file:${dbPath}` }, security: { master_key: generateMasterKey() }, engine: { enabled: false } })
  const server = await startServer({ config, demo: false, log: silentLogger, print: () => {} })
  const ns = await createNamespace(server.deps, { slug: 'acme' })
  const app = await createApplication(server.deps, ns.id, { name: 'a' })
  const { key, secret } = await createApiKey(server.deps, ns.id, { applicationId: app.id })
  const res = await fetch(`${server.url}/v1/namespaces/acme/channels`, { headers: { authorization: `Bearer ${secret}` } })
  expect(res.status).toBe(200)
  await server.stop()
  const store = openBunSqliteStore(dbPath, { synchronous: 'NORMAL', busyTimeoutMs: 1000 })
  const [row] = await all<{ last_used_at: number | null }>(store.read, 'SELECT last_used_at FROM api_keys WHERE id = ?', [key.id])
  await store.close()
  expect(row!.last_used_at).toBeGreaterThan(0)
})
