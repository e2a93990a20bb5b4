/**
 * A graceful stop while another process holds the database's write lock past busy_timeout and a
 * send is still out: the dispatcher cannot hand the message back, says so, and the stop goes on
 * to the end (store closed). It used to reject at that release, skip the rest, and leave
 * `serve` waiting for ever. The message is not lost: its lease runs out and a new start sends it.
 */
import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { configSchema } from '../../src/config'
import { createChannel } from '../../src/domain/channels'
import { createApiKey } from '../../src/domain/identity/api-keys'
import { createApplication } from '../../src/domain/identity/applications'
import { createNamespace } from '../../src/domain/namespaces'
import type { Logger } from '../../src/lib/log'
import { generateMasterKey } from '../../src/lib/secrets'
import { startServer } from '../../src/server'
import { messages } from '../../src/store/schema'
import { eventually } from '../helpers/gateway'
import { tempDir } from '../helpers/stores'

const dir = tempDir()
afterAll(() => dir.cleanup())
const dbPath = join(dir.path, 'og.db')
const config = configSchema.parse({
  server: { listen: '127.0.0.1:0' },
  database: { url: `file:${dbPath}`, busy_timeout_ms: 20 },
  security: { master_key: generateMasterKey(), allow_private_network: true },
  engine: { poll_interval_ms: 20, shutdown_timeout_ms: 200, send_timeout_ms: 1500, lease_ms: 2000 },
})
const logged: string[] = []
const log: Logger = { debug() {}, info: (m) => void logged.push(`info ${m}`), warn: (m) => void logged.push(`warn ${m}`), error: (m) => void logged.push(`error ${m}`) }

test('stopping with the database held by another process: the stop finishes, and the message in flight is sent after a restart', async () => {
  const first = await startServer({ config, demo: false, log, print: () => {} })
  const ns = await createNamespace(first.deps, { slug: 'acme' })
  const app = await createApplication(first.deps, ns.id, { name: 'a' })
  const { secret } = await createApiKey(first.deps, ns.id, { applicationId: app.id })
  await createChannel(first.deps, ns.id, { name: 'sandbox', type: 'sandbox', config: {} })
  const res = await fetch(`${first.url}/v1/namespaces/acme/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'sandbox', to: 'x@example.com', content: { text: 'hi' }, options: { sandbox: { delay_ms: 800 } } }),
  })
  expect(res.status).toBe(202)
  const { id } = (await res.json()) as { id: string }
  const row = async () => (await first.deps.store.read.select().from(messages).where(eq(messages.id, id)))[0]!
  await eventually(async () => (await row()).status === 'sending')

  const other = new Database(dbPath)
  other.run('BEGIN IMMEDIATE')
  let outcome: string
  try {
    outcome = await Promise.race([
      first.stop().then(
        () => 'stopped',
        (error) => `rejected: ${error}`,
      ),
      Bun.sleep(5000).then(() => 'still stopping after 5 s'),
    ])
  } finally {
    other.run('ROLLBACK')
    other.close()
  }
  expect(outcome).toBe('stopped')
  expect(logged).toContain('error dispatcher could not release work at shutdown; its lease runs out')
  expect(logged.at(-1)).toBe('info stopped')

  // Still leased to the stopped instance; a new start sends it once the lease has run out.
  const second = await startServer({ config, demo: false, log, print: () => {} })
  try {
    const again = async () => (await second.deps.store.read.select().from(messages).where(eq(messages.id, id)))[0]!
    expect((await again()).status).toBe('sending')
    await eventually(async () => (await again()).status === 'delivered', 15_000)
  } finally {
    await second.stop()
  }
}, 30_000)
