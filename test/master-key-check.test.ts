/**
 * A gateway started with a master key that does not open the stored secrets (a changed
 * OMNIGATE_MASTER_KEY, or in demo mode a lost data/master.key, silently regenerated) refuses to
 * start, naming the key. (It started, answered /readyz 200, accepted messages with 202 and failed
 * every one: "channel config cannot be decrypted".)
 */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { configSchema } from '../src/config'
import { ensureDemoNamespace } from '../src/domain/namespaces/demo'
import { openGateway } from '../src/gateway'
import { silentLogger } from '../src/lib/log'
import { generateMasterKey } from '../src/lib/secrets'
import { type RunningServer, startServer } from '../src/server'
import { testConfig } from './helpers/gateway'
import { tempDir } from './helpers/stores'

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
  const outcome = await startServer({ config: second, demo: false, log: silentLogger, print: () => {} }).then(
    (server) => {
      running = server
      return 'started'
    },
    (error: Error) => error.message,
  )
  if (running) {
    // What a health check sees: ready.
    expect((await fetch(`${(running as RunningServer).url}/readyz`)).status).toBe(200)
  }
  expect(outcome).not.toBe('started')
  expect(outcome).toContain('security.master_key')
})
