/**
 * `omnigate restore --force` refuses a database a running gateway has open (an exclusive lock on
 * a WAL database is refused while any other connection has it open). Without the check the
 * gateway went on acknowledging writes into the replaced (unlinked) file: every message it
 * accepted after the restore was lost when it stopped.
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Deps } from '../../src/domain/deps'
import { ensureDemoNamespace } from '../../src/domain/namespaces/demo'
import { openGateway } from '../../src/gateway'
import { createApp } from '../../src/http/app'
import { silentLogger } from '../../src/lib/log'
import { testConfig } from '../helpers/gateway'
import { tempDir } from '../helpers/stores'
import { generateMasterKey } from '../../src/lib/secrets'
import { keyedConfig, runCli } from '../helpers/cli'

let dir: ReturnType<typeof tempDir>
let deps: Deps | null = null
afterAll(async () => {
  await deps?.store.close()
  dir.cleanup()
})

const omnigate = (configPath: string, masterKey: string, ...args: string[]) => runCli(['--config', configPath, ...args], { cwd: dir.path, masterKey })

beforeAll(() => {
  dir = tempDir()
})

test('restore --force refuses a database a running gateway has open, and no acknowledged message is lost', async () => {
  const config = testConfig(dir.path)
  const dbFile = config.database.url.slice('file:'.length)
  deps = await openGateway({ config, demo: false, log: silentLogger, migrate: true })
  const key = (await ensureDemoNamespace(deps))!
  const app = createApp(deps, { bodyLimitBytes: config.server.body_limit_bytes, log: silentLogger })
  const send = async (text: string) => {
    const res = await app.request('/v1/namespaces/demo/messages', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'sandbox', to: 'a@example.com', content: { text } }),
    })
    expect(res.status).toBe(202)
    return ((await res.json()) as { id: string }).id
  }
  const first = await send('before the backup')

  const configPath = join(dir.path, 'omnigate.toml')
  writeFileSync(configPath, keyedConfig(dbFile))
  const masterKey = config.security.master_key!
  const backup = join(dir.path, 'backup.db')
  expect(omnigate(configPath, masterKey, 'backup', backup).code).toBe(0)

  // The operator forgot to stop the gateway.
  const restored = omnigate(configPath, masterKey, 'restore', backup, '--force')
  // keys rotate-master refuses the same way: the gateway would go on sealing with the old key.
  const rotated = runCli(['--config', configPath, 'keys', 'rotate-master'], { cwd: dir.path, masterKey, stdin: `${generateMasterKey()}\n` })
  expect([rotated.code, rotated.stderr]).toEqual([2, `error: keys rotate-master: the database at ${dbFile} is open in another process (a running gateway?); stop it first\n`])

  // The gateway keeps answering 202s.
  const second = await send('after the restore')
  await deps.store.close()
  deps = null

  const db = new Database(dbFile, { readonly: true })
  const ids = (db.query('SELECT id FROM messages').all() as { id: string }[]).map((r) => r.id)
  db.close()
  expect({ code: restored.code, ids: ids.sort() }).toEqual({ code: 2, ids: [first, second].sort() })
  expect(restored.stderr.trim().split('\n')).toHaveLength(1)
  expect(restored.stderr).toContain('open')
  // Stopped, the store lets go of the file at once (drizzle's prepared statements used to keep the
  // connection open until they were collected), and the restore goes ahead.
  expect(omnigate(configPath, masterKey, 'restore', backup, '--force').code).toBe(0)
})
