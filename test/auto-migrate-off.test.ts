/**
 * `database.auto_migrate = false` refuses an outdated schema (naming the pending migrations and
 * `omnigate migrate`) and a newer one, as config.example.toml and the README say. (Neither check
 * ran: a pending migration gave a process never ready, a newer schema one that answered ready,
 * and a CLI command on a missing database "no such table" and an empty file left behind.)
 */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { migrations } from '../migrations/index'
import { configSchema } from '../src/config'
import { silentLogger } from '../src/lib/log'
import { generateMasterKey } from '../src/lib/secrets'
import { type RunningServer, startServer } from '../src/server'
import { migrate } from '../src/store/migrate'
import { openStore } from '../src/store/open'
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
  let started: RunningServer | null = null
  const outcome = await startServer({ config: config(url), demo: false, log: silentLogger, print: () => {} }).then(
    (server) => {
      started = server
      return 'started'
    },
    (error: Error) => error.message,
  )
  running = started
  if (started) {
    // What an orchestrator then sees: a live process that is never ready.
    expect((await fetch(`${(started as RunningServer).url}/readyz`)).status).toBe(503)
  }
  expect(outcome).not.toBe('started')
  expect(outcome).toContain(migrations.at(-1)!.tag)
})

test('serve with auto_migrate = false refuses a database migrated by a newer omnigate', async () => {
  const url = await prepare(migrations, "INSERT INTO omnigate_migrations (idx, tag, applied_at) VALUES (999, '0999_from_the_future', 0)")
  let started: RunningServer | null = null
  const outcome = await startServer({ config: config(url), demo: false, log: silentLogger, print: () => {} }).then(
    (server) => {
      started = server
      return 'started'
    },
    (error: Error) => error.message,
  )
  running = started
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
