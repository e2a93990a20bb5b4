/**
 * A database another process holds past busy_timeout (a backup, a long CLI command, a second
 * gateway on the same file): a write refused for that is 503 `database_busy` with Retry-After
 * on the send lane, the router and the portal, logged as a warning without a stack, and leaves
 * nothing behind: the same request, with the same Idempotency-Key, succeeds once the lock is
 * free.
 */
import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { setPasswordHashCost } from '../../src/domain/identity/users'
import type { Logger } from '../../src/lib/log'
import { channels, messages } from '../../src/store/schema'
import { isDatabaseBusy } from '../../src/store/store'
import { startTestGateway } from '../helpers/gateway'
import { makeMember, portalClient } from '../portal/portal-client'

setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const logged: { level: string; message: string; fields?: Record<string, unknown> }[] = []
const log: Logger = {
  debug() {},
  info() {},
  warn: (message, fields) => void logged.push({ level: 'warn', message, fields }),
  error: (message, fields) => void logged.push({ level: 'error', message, fields }),
}
const gw = await startTestGateway({ database: { busy_timeout_ms: 20 } }, { log })
afterAll(() => gw.close())
const acme = await gw.tenant('acme')
await gw.channel(acme.namespaceId, 'sandbox')
await makeMember(gw.deps, acme.namespaceId, 'dev@example.com', 'developer')
const portal = portalClient(gw)
await portal.signIn('dev@example.com')
await portal.get('/portal/ns/acme/applications')

const hello = { channel: 'sandbox', to: 'alice@example.com', content: { text: 'hello' } }

/** A send whose body is streamed without a length: the router serves it, not the send lane. */
function routedSend(key: string, idempotencyKey: string): Request {
  const body = new TextEncoder().encode(JSON.stringify(hello))
  return new Request('http://127.0.0.1/v1/namespaces/acme/messages', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(body)
        controller.close()
      },
    }),
    duplex: 'half',
  })
}

async function expectBusy(res: Response) {
  expect(res.status).toBe(503)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  expect(res.headers.get('retry-after')).toBe('1')
  const body = (await res.json()) as Record<string, unknown>
  expect(body).toMatchObject({ code: 'database_busy', status: 503 })
  expect(body.detail).toContain('busy_timeout')
  expect(typeof body.request_id).toBe('string')
}

test('while another process holds the write lock: 503 database_busy with Retry-After everywhere, a warning logged, nothing written; afterwards the same requests succeed', async () => {
  const other = new Database(join(gw.dir, 'omnigate.db'))
  other.run('BEGIN IMMEDIATE')
  try {
    // The send lane, a batch, the router, another route's write, and the portal.
    await expectBusy(await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, hello, { 'idempotency-key': 'lane-1' }))
    await expectBusy(await gw.call('POST', '/v1/namespaces/acme/messages/batch', acme.key, { messages: [hello, hello] }))
    await expectBusy(await gw.app.fetch(routedSend(acme.key, 'router-1')))
    await expectBusy(await gw.call('POST', '/v1/namespaces/acme/channels', acme.key, { name: 'second', type: 'sandbox' }))
    const page = await portal.post('/portal/ns/acme/applications', { name: 'billing' })
    expect(page.res.status).toBe(503)
    expect(page.res.headers.get('retry-after')).toBe('1')
    expect(page.html).toContain('The database is busy')
    // Reads go on: WAL readers do not wait for the writer.
    expect((await gw.call('GET', '/v1/namespaces/acme/messages', acme.key)).status).toBe(200)
  } finally {
    other.run('ROLLBACK')
    other.close()
  }

  // Warnings naming each refused request; no error, no stack.
  const busy = logged.filter((l) => l.message.startsWith('database busy'))
  expect(busy.map((l) => [l.level, l.fields?.method, l.fields?.path])).toEqual([
    ['warn', 'POST', '/v1/namespaces/acme/messages'],
    ['warn', 'POST', '/v1/namespaces/acme/messages/batch'],
    ['warn', 'POST', '/v1/namespaces/acme/messages'],
    ['warn', 'POST', '/v1/namespaces/acme/channels'],
    ['warn', 'POST', '/portal/ns/acme/applications'],
  ])
  expect(logged.filter((l) => l.level === 'error')).toEqual([])
  expect(JSON.stringify(logged)).not.toContain('    at ')

  // Nothing was written.
  expect(await gw.deps.store.read.select().from(messages).where(eq(messages.namespaceId, acme.namespaceId))).toEqual([])
  expect((await gw.deps.store.read.select().from(channels).where(eq(channels.namespaceId, acme.namespaceId))).map((c) => c.name)).toEqual(['sandbox'])

  // The same requests again, same keys: accepted as new, not replays of the refusal.
  const lane = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, hello, { 'idempotency-key': 'lane-1' })
  expect(lane.status).toBe(202)
  expect(lane.headers.get('idempotent-replayed')).toBeNull()
  const routed = await gw.app.fetch(routedSend(acme.key, 'router-1'))
  expect(routed.status).toBe(202)
  expect(routed.headers.get('idempotent-replayed')).toBeNull()
  expect((await gw.call('POST', '/v1/namespaces/acme/channels', acme.key, { name: 'second', type: 'sandbox' })).status).toBe(201)
  expect((await portal.post('/portal/ns/acme/applications', { name: 'billing' })).res.status).toBe(303)
  expect(await gw.deps.store.read.select().from(messages).where(eq(messages.namespaceId, acme.namespaceId))).toHaveLength(2)
})

test('isDatabaseBusy: SQLITE_BUSY and SQLITE_LOCKED, extended codes, raw or as a cause; nothing else', () => {
  expect(isDatabaseBusy(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }))).toBe(true)
  expect(isDatabaseBusy(Object.assign(new Error('x'), { code: 'SQLITE_BUSY_SNAPSHOT' }))).toBe(true)
  expect(isDatabaseBusy(Object.assign(new Error('x'), { code: 'SQLITE_LOCKED' }))).toBe(true)
  expect(isDatabaseBusy(new Error('Failed query', { cause: Object.assign(new Error('locked'), { code: 'SQLITE_BUSY' }) }))).toBe(true)
  expect(isDatabaseBusy(Object.assign(new Error('x'), { code: 'SQLITE_BUSYNESS' }))).toBe(false)
  expect(isDatabaseBusy(Object.assign(new Error('x'), { code: 'SQLITE_CONSTRAINT_UNIQUE' }))).toBe(false)
  expect(isDatabaseBusy(new Error('database is locked'))).toBe(false)
  expect(isDatabaseBusy(null)).toBe(false)
  expect(isDatabaseBusy('SQLITE_BUSY')).toBe(false)
})
