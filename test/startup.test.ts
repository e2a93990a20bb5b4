/** Start-up: config reconcile is idempotent, demo mode creates once, a config file needs a master key. */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { count } from 'drizzle-orm'
import { configSchema } from '../src/config'
import { openChannelConfig, getChannel } from '../src/domain/channels'
import { authenticateApiKey } from '../src/domain/identity/api-keys'
import { ensureDemoNamespace } from '../src/domain/namespaces/demo'
import { getNamespace } from '../src/domain/namespaces'
import { ReconcileError } from '../src/domain/namespaces/reconcile'
import { openGateway, StartupError } from '../src/gateway'
import { silentLogger } from '../src/lib/log'
import { apiKeys, applications, channels, namespaces, terminals } from '../src/store/schema'
import { testConfig } from './helpers/gateway'
import { tempDir } from './helpers/stores'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.cleanup())

const ACME_KEY = `og_live_${'a'.repeat(32)}`
const declared = (url: string) => [
  {
    slug: 'acme',
    name: 'Acme',
    channels: [
      { name: 'hook', type: 'http', config: { url }, terminals: [{ address: 'billing' }] },
      { name: 'sandbox', type: 'sandbox', config: {}, terminals: [] },
    ],
    applications: [{ name: 'backend', api_keys: [{ key: ACME_KEY, name: 'prod' }] }],
  },
]

async function counts(deps: Awaited<ReturnType<typeof openGateway>>) {
  const n = async (table: any) => (await deps.store.read.select({ n: count() }).from(table))[0]!.n
  return {
    namespaces: await n(namespaces),
    channels: await n(channels),
    terminals: await n(terminals),
    applications: await n(applications),
    apiKeys: await n(apiKeys),
  }
}

test('declared namespaces are reconciled once: starting twice creates nothing twice', async () => {
  const base = testConfig(dir.path)
  const config = configSchema.parse({ ...base, namespaces: declared('http://127.0.0.1:9/hook') })
  const first = await openGateway({ config, demo: false, log: silentLogger, migrate: true })
  const afterFirst = await counts(first)
  await first.store.close()
  const second = await openGateway({ config, demo: false, log: silentLogger, migrate: true })
  expect(await counts(second)).toEqual(afterFirst)
  expect(afterFirst).toEqual({ namespaces: 1, channels: 2, terminals: 1, applications: 1, apiKeys: 1 })
  const principal = await authenticateApiKey(second, ACME_KEY)
  expect(principal?.namespaceSlug).toBe('acme')
  await second.store.close()
})

test('a changed channel config in the file updates the stored channel', async () => {
  const base = testConfig(dir.path)
  const first = await openGateway({ config: configSchema.parse({ ...base, namespaces: declared('http://127.0.0.1:9/a') }), demo: false, log: silentLogger, migrate: true })
  await first.store.close()
  const second = await openGateway({ config: configSchema.parse({ ...base, namespaces: declared('http://127.0.0.1:9/b') }), demo: false, log: silentLogger, migrate: true })
  const ns = await getNamespace(second, 'acme')
  expect(openChannelConfig(second, await getChannel(second, ns.id, 'hook'))).toMatchObject({ url: 'http://127.0.0.1:9/b' })
  expect((await counts(second)).channels).toBe(2)
  await second.store.close()
})

test('an invalid declared channel is refused with its config path, and nothing is written', async () => {
  const base = testConfig(dir.path)
  const bad = declared('ftp://example.com/x')
  const config = configSchema.parse({ ...base, namespaces: bad })
  const error = await openGateway({ config, demo: false, log: silentLogger, migrate: true }).catch((e) => e)
  expect(error).toBeInstanceOf(ReconcileError)
  expect(error.message).toContain('namespaces[0].channels[0].config.url')
  const again = await openGateway({ config: base, demo: false, log: silentLogger, migrate: true })
  expect((await counts(again)).namespaces).toBe(0)
  await again.store.close()
})

test('demo mode creates the demo namespace, channel and key once, and keeps its master key private', async () => {
  const config = configSchema.parse({ database: { url: `file:${join(dir.path, 'data', 'omnigate.db')}` } })
  const deps = await openGateway({ config, demo: true, log: silentLogger, migrate: true })
  const key = await ensureDemoNamespace(deps)
  expect(key).toMatch(/^og_live_[A-Za-z0-9_-]{32}$/)
  expect(await ensureDemoNamespace(deps)).toBeNull()
  expect((await authenticateApiKey(deps, key!))?.namespaceSlug).toBe('demo')
  const ns = await getNamespace(deps, 'demo')
  expect((await getChannel(deps, ns.id, 'sandbox')).type).toBe('sandbox')
  await deps.store.close()
  const keyFile = join(dir.path, 'data', 'master.key')
  expect(existsSync(keyFile)).toBe(true)
  expect(statSync(keyFile).mode & 0o777).toBe(0o600)
  // A restart reads the same master key, so sealed channel config still opens.
  const again = await openGateway({ config, demo: true, log: silentLogger, migrate: true })
  expect(openChannelConfig(again, await getChannel(again, ns.id, 'sandbox'))).toEqual({})
  await again.store.close()
})

test('with a config file, a missing master key is a start-up error naming the key', async () => {
  const config = configSchema.parse({ database: { url: `file:${join(dir.path, 'x.db')}` } })
  const error = await openGateway({ config, demo: false, log: silentLogger, migrate: true }).catch((e) => e)
  expect(error).toBeInstanceOf(StartupError)
  expect(error.message).toContain('security.master_key')
})

test('declared keys follow the file: narrowed scopes apply, a shared prefix is fine, a key cannot change hands', async () => {
  const base = testConfig(dir.path)
  const twin = `og_live_${'a'.repeat(12)}${'b'.repeat(20)}`
  const withKeys = (keys: { key: string; scopes?: string[] }[], slug = 'acme') => [
    { slug, channels: [], applications: [{ name: 'backend', api_keys: keys }] },
  ]
  const first = await openGateway({ config: configSchema.parse({ ...base, namespaces: withKeys([{ key: ACME_KEY }, { key: twin }]) }), demo: false, log: silentLogger, migrate: true })
  expect((await authenticateApiKey(first, twin))?.scopes.has('channels:write')).toBe(true)
  await first.store.close()

  const narrowed = configSchema.parse({ ...base, namespaces: withKeys([{ key: ACME_KEY }, { key: twin, scopes: ['messages:send'] }]) })
  const second = await openGateway({ config: narrowed, demo: false, log: silentLogger, migrate: true })
  expect([...(await authenticateApiKey(second, twin))!.scopes]).toEqual(['messages:send'])
  expect((await counts(second)).apiKeys).toBe(2)
  await second.store.close()

  const moved = configSchema.parse({ ...base, namespaces: [...withKeys([{ key: ACME_KEY }]), ...withKeys([{ key: twin }], 'other')] })
  const error = await openGateway({ config: moved, demo: false, log: silentLogger, migrate: true }).catch((e) => e)
  expect(error).toBeInstanceOf(ReconcileError)
  expect(error.message).toStartWith('namespaces[1].applications[0].api_keys[0].key: ')
})

test('declared webhooks are created once, keep their declared secret, and follow changes', async () => {
  const base = testConfig(dir.path)
  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`
  const declare = (eventTypes: string[]) =>
    configSchema.parse({
      ...base,
      namespaces: [{ slug: 'acme', channels: [{ name: 'sandbox', type: 'sandbox' }], webhooks: [{ url: 'http://127.0.0.1:9/hook', event_types: eventTypes, channels: ['sandbox'], secret }] }],
    })
  const { webhooks } = await import('../src/store/schema')
  const { openSecrets } = await import('../src/domain/webhooks/endpoints')
  const first = await openGateway({ config: declare(['message.delivered']), demo: false, log: silentLogger, migrate: true })
  await first.store.close()
  const second = await openGateway({ config: declare(['message.delivered', 'message.failed']), demo: false, log: silentLogger, migrate: true })
  const rows = await second.store.read.select().from(webhooks)
  expect(rows).toHaveLength(1)
  expect(rows[0]!.eventTypes).toEqual(['message.delivered', 'message.failed'])
  expect(openSecrets(second, rows[0]!).secrets.map((s) => s.secret)).toEqual([secret])
  await second.store.close()
  const bad = await openGateway({ config: declare(['message.nope']), demo: false, log: silentLogger, migrate: true }).catch((e) => e)
  expect(bad).toBeInstanceOf(ReconcileError)
  expect(bad.message).toBe('namespaces[0].webhooks[0].event_types[0]: unknown event type "message.nope"')
})
