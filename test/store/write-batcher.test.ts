/**
 * WriteBatcher (src/store/store.ts) after a write that fails before its body runs (bun:sqlite:
 * BEGIN IMMEDIATE busy because another process held the write lock past busy_timeout; libSQL: a
 * network error). What is added afterwards is written together again, and nothing stays behind
 * in the failed batch (it used to, for good: batching off and memory growing until a restart).
 */
import { Database } from 'bun:sqlite'
import { afterEach, expect, test } from 'bun:test'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { sendMessage } from '../../src/domain/messages/send'
import { openBunSqliteStore } from '../../src/store/bun-sqlite'
import { migrate } from '../../src/store/migrate'
import { messages } from '../../src/store/schema'
import { type Db, type Store, WriteBatcher } from '../../src/store/store'
import { eventually, startTestGateway } from '../helpers/gateway'
import { tempDir } from '../helpers/stores'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

test('after one write that could not begin, a WriteBatcher writes what is added later together again', async () => {
  const dir = tempDir()
  const path = join(dir.path, 'bun.db')
  const store: Store = openBunSqliteStore(path, { synchronous: 'NORMAL', busyTimeoutMs: 20 })
  cleanups.push(() => dir.cleanup())
  cleanups.push(() => store.close())
  await migrate(store)

  const together: number[][] = []
  const alone: number[] = []
  const batcher = new WriteBatcher<number, string>(
    store,
    async (_tx: Db, items) => {
      together.push([...items])
      return items.map((n) => `all:${n}`)
    },
    async (n) => {
      alone.push(n)
      return store.write(async () => `one:${n}`)
    },
  )

  // Another connection (another process, in real life) holds the write lock for a moment.
  const other = new Database(path)
  other.run('BEGIN IMMEDIATE')
  const first = await batcher.add(1).then(
    (v) => v,
    (e) => `rejected: ${(e as Error).message}`,
  )
  expect(first).toContain('rejected')
  other.run('COMMIT')
  other.close()

  // The lock is free again: what is added in one turn should be written in one write.
  expect(await Promise.all([batcher.add(2), batcher.add(3)])).toEqual(['all:2', 'all:3'])
  expect(together).toEqual([[2, 3]])
  expect(alone).toEqual([1])
})

test("the dispatcher's successes are batched again, and none is kept, after the database was busy once", async () => {
  const gw = await startTestGateway({ database: { busy_timeout_ms: 20 } })
  cleanups.push(() => gw.close())
  const ns = await gw.tenant('acme')
  await gw.channel(ns.namespaceId, 'sandbox')
  const engine = await gw.startEngine()
  const send = async (options: Record<string, unknown> = {}) =>
    ((await sendMessage(gw.deps, ns.namespaceId, { channel: 'sandbox', to: 'bob@example.com', content: { text: 'hello' }, options })).body as { id: string }).id
  const row = async (id: string) => (await gw.deps.store.read.select().from(messages).where(eq(messages.id, id)))[0]!

  // A slow send; while it is out, another process takes the write lock for 300 ms.
  const slow = await send({ sandbox: { delay_ms: 300 } })
  await eventually(async () => (await row(slow)).status === 'sending')
  const other = new Database(join(gw.dir, 'omnigate.db'))
  other.run('BEGIN IMMEDIATE')
  await Bun.sleep(600)
  other.run('COMMIT')
  other.close()
  // The message is sent again once its lease runs out, and recorded.
  await eventually(async () => (await row(slow)).status === 'delivered')

  // Everything is back to normal: ten more messages, all delivered.
  const ids: string[] = []
  for (let i = 0; i < 10; i++) ids.push(await send())
  await eventually(async () => (await Promise.all(ids.map(row))).every((m) => m.status === 'delivered'))
  await Bun.sleep(50)

  // Nothing is waiting to be written, so the batcher should hold nothing.
  const pending = (engine.dispatcher as any).sent.pending as { items: unknown[] } | null
  expect(pending?.items.length ?? 0).toBe(0)
})
