/**
 * Start-up refuses a database it must not serve, naming why:
 * - `database.auto_migrate = false` with an outdated schema (naming the pending migrations and
 *   `omnigate migrate`) or a newer one, as config.example.toml and the README say. (Neither check
 *   ran: a pending migration gave a process never ready, a newer schema one that answered ready,
 *   and a CLI command on a missing database "no such table" and an empty file left behind.)
 * - a master key that does not open the stored secrets (a changed OMNIGATE_MASTER_KEY, or in
 *   demo mode a lost data/master.key, silently regenerated). It started, answered /readyz 200,
 *   accepted messages with 202 and failed every one: "channel config cannot be decrypted".
 */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { migrations } from '../migrations/index'
import { configSchema } from '../src/config'
import { generateMasterKey } from '../src/lib/secrets'
import type { RunningServer } from '../src/server'
import { ensureDemoNamespace } from '../src/domain/namespaces/demo'
import { openGateway } from '../src/gateway'
import { silentLogger } from '../src/lib/log'
import { migrate } from '../src/store/migrate'
import { openStore } from '../src/store/open'
import { testConfig } from './helpers/gateway'
import { startOutcome } from './helpers/start'
import { tempDir } from './helpers/stores'
import { runCli } from './helpers/cli'

let dir: ReturnType<typeof tempDir>
let running: RunningServer | null = null
beforeEach(() => {
  dir = tempDir()
})
afterEach(async () => {
  await running?.stop()
  running = null
  dir.cleanup()
})

async function prepare(list: typeof migrations, extraSql?: string): Promise<string> {
  const url = `file:${join(dir.path, 'og.db')}`
  const store = await openStore({ url, synchronous: 'NORMAL', busyTimeoutMs: 5000 })
  await migrate(store, list)
  if (extraSql) await store.exec(extraSql)
  await store.close()
  return url
}

function config(url: string) {
  return configSchema.parse({
    server: { listen: '127.0.0.1:0' },
    database: { url, auto_migrate: false },
    security: { master_key: generateMasterKey() },
    engine: { enabled: false },
  })
}

test('serve with auto_migrate = false refuses a database with a pending migration instead of running not-ready forever', async () => {
  const url = await prepare(migrations.slice(0, -1))
  const { outcome, server } = await startOutcome(config(url))
  running = server
  if (server) {
    // What an orchestrator then sees: a live process that is never ready.
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503)
  }
  expect(outcome).not.toBe('started')
  expect(outcome).toContain(migrations.at(-1)!.tag)
})

test('serve with auto_migrate = false refuses a database migrated by a newer omnigate', async () => {
  const url = await prepare(migrations, "INSERT INTO omnigate_migrations (idx, tag, applied_at) VALUES (999, '0999_from_the_future', 0)")
  const { outcome, server } = await startOutcome(config(url))
  running = server
  expect(outcome).not.toBe('started')
  expect(outcome).toContain('0999_from_the_future')
})

test('a CLI command with auto_migrate = false and no database names the problem and creates no empty database file', () => {
  const db = join(dir.path, 'og.db')
  const path = join(dir.path, 'omnigate.toml')
  writeFileSync(path, `[database]\nurl = "file:${db}"\nauto_migrate = false\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\n`)
  const { code, stderr } = runCli(['--config', path, 'namespace', 'list'], { cwd: dir.path, masterKey: generateMasterKey() })
  expect(code).not.toBe(0)
  expect(stderr.trim().split('\n')).toHaveLength(1)
  expect(stderr).not.toContain('no such table')
  expect(stderr).toContain('migrate')
  expect(existsSync(db)).toBe(false)
})

test('start-up refuses a master key that does not open the stored secrets', async () => {
  const first = testConfig(dir.path)
  const deps = await openGateway({ config: first, demo: false, log: silentLogger, migrate: true })
  await ensureDemoNamespace(deps) // a sandbox channel, its config sealed with the first key
  await deps.store.close()

  const second = configSchema.parse({
    ...first,
    server: { ...first.server, listen: '127.0.0.1:0' },
    security: { ...first.security, master_key: generateMasterKey() },
  })
  const { outcome, server } = await startOutcome(second)
  running = server
  if (server) {
    // What a health check sees: ready.
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200)
  }
  expect(outcome).not.toBe('started')
  expect(outcome).toContain('security.master_key')
})
