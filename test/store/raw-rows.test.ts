/**
 * The hot-path writes in hand-written SQL (src/domain/messages/rows.ts, src/store/raw.ts) must
 * produce exactly the rows drizzle would: every column read back through drizzle's schema, on
 * both drivers, with nulls, JSON and a chunked multi-row insert.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { insertDeliveries, insertEvents, insertMessages } from '../../src/domain/messages/rows'
import type { Message } from '../../src/domain/messages/views'
import { all, insertText, ROWS_PER_INSERT, run, runCounted } from '../../src/store/raw'
import { channels, messageEvents, messages, namespaces, webhookDeliveries, webhooks } from '../../src/store/schema'
import type { Store } from '../../src/store/store'
import { migratedStore, storeDrivers, tempDir } from '../helpers/stores'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

function message(i: number, over: Partial<Message> = {}): Message {
  return {
    id: `msg_${String(i).padStart(4, '0')}`,
    namespaceId: 'ns_1',
    channelId: 'ch_1',
    terminalId: null,
    applicationId: i % 2 ? 'app_1' : null,
    direction: 'outbound',
    status: 'queued',
    sender: i % 3 ? null : '+15550000',
    recipient: i % 4 ? `+1555000${i}` : JSON.stringify({ endpoint: 'https://push.test/x', keys: { p256dh: 'a', auth: 'b' } }),
    content: { text: `hello ${i} "quoted" ?`, subject: i % 2 ? 'é ✓' : undefined } as Message['content'],
    metadata: { order: String(i) },
    options: i % 2 ? { sms: { flash: true } } : {},
    sendAt: i % 5 ? null : 1_800_000_000_000 + i,
    nextAttemptAt: 1_700_000_000_000 + i,
    attempts: i % 3,
    leaseOwner: null,
    leaseUntil: null,
    providerMessageId: null,
    errorCode: i % 7 ? null : 'E1',
    errorMessage: i % 7 ? null : 'it broke',
    createdAt: 1_700_000_000_000 + i,
    updatedAt: 1_700_000_000_001 + i,
    ...over,
  }
}

async function seed(store: Store) {
  await store.tx(async (tx) => {
    await tx.insert(namespaces).values({ id: 'ns_1', slug: 'acme', name: 'Acme', createdAt: 1, updatedAt: 1 } as never)
    await tx.insert(channels).values({ id: 'ch_1', namespaceId: 'ns_1', name: 'sms', type: 'sandbox', configEnc: 'x', createdAt: 1, updatedAt: 1 } as never)
  })
}

for (const driver of storeDrivers) {
  describe(driver.name, () => {
    async function open() {
      const dir = tempDir()
      const store = await migratedStore(driver, dir.path)
      cleanups.push(async () => {
        await store.close()
        dir.cleanup()
      })
      await seed(store)
      return store
    }

    test('messages written by hand read back through drizzle unchanged, across chunk boundaries', async () => {
      const store = await open()
      const rows = Array.from({ length: ROWS_PER_INSERT * 2 + 3 }, (_, i) => message(i))
      await store.tx((tx) => insertMessages(tx, rows))
      const back = await store.read.select().from(messages).orderBy(messages.id)
      expect(back).toHaveLength(rows.length)
      // JSON columns come back without undefined members, as drizzle would store them.
      expect(back).toEqual(rows.map((r) => JSON.parse(JSON.stringify(r))))
    })

    test('events and webhook deliveries written by hand read back through drizzle unchanged', async () => {
      const store = await open()
      await store.tx(async (tx) => {
        await insertMessages(tx, [message(1)])
        await tx.insert(webhooks).values({ id: 'wh_1', namespaceId: 'ns_1', url: 'https://r.test/', secretsEnc: 'x', eventTypes: ['*'], createdAt: 1, updatedAt: 1 } as never)
      })
      const events = [
        { id: 'evt_1', namespaceId: 'ns_1', messageId: 'msg_0001', status: 'sending', attempt: 1, createdAt: 5 },
        { id: 'evt_2', namespaceId: 'ns_1', messageId: 'msg_0001', status: 'failed', attempt: 1, providerMessageId: 'p1', errorCode: 'E', errorMessage: 'm', errorClass: 'permanent', createdAt: 6 },
      ]
      const deliveries = [
        { id: 'whd_1', namespaceId: 'ns_1', webhookId: 'wh_1', eventId: 'evt_2', eventType: 'message.failed', payload: '{"a":1}', status: 'pending', nextAttemptAt: 7, createdAt: 7, updatedAt: 7 },
      ]
      await store.tx(async (tx) => {
        await insertEvents(tx, events)
        await insertDeliveries(tx, deliveries)
      })
      expect(await store.read.select().from(messageEvents).where(eq(messageEvents.messageId, 'msg_0001')).orderBy(messageEvents.id)).toEqual([
        { providerMessageId: null, errorCode: null, errorMessage: null, errorClass: null, ...events[0]! },
        events[1]! as never,
      ])
      expect(await store.read.select().from(webhookDeliveries)).toEqual([
        { ...deliveries[0]!, attempts: 0, leaseOwner: null, leaseUntil: null, lastStatusCode: null, lastError: null },
      ])
    })

    test('run and all bind parameters, and a wrong count of values is refused before running', async () => {
      const store = await open()
      await store.tx((tx) => run(tx, 'UPDATE namespaces SET name = ? WHERE id = ?', ['It?s', 'ns_1']))
      expect(await all(store.read, 'SELECT name FROM namespaces WHERE id = ?', ['ns_1'])).toEqual([{ name: 'It?s' }])
      expect(insertText('INSERT INTO t (a, b)', 2, 2, ' ON CONFLICT DO NOTHING')).toBe('INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ON CONFLICT DO NOTHING')
      // Cached texts are told apart by head, tail, row count and column count.
      expect(insertText('INSERT INTO t (a, b)', 2, 2)).toBe('INSERT INTO t (a, b) VALUES (?, ?), (?, ?)')
      expect(insertText('INSERT INTO t (a, b)', 2, 1, ' ON CONFLICT DO NOTHING')).toBe('INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT DO NOTHING')
      expect(insertText('INSERT INTO t (a, b)', 1, 2, ' ON CONFLICT DO NOTHING')).toBe('INSERT INTO t (a, b) VALUES (?), (?) ON CONFLICT DO NOTHING')
      expect(insertText('INSERT INTO u (a, b)', 2, 2, ' ON CONFLICT DO NOTHING')).toBe('INSERT INTO u (a, b) VALUES (?, ?), (?, ?) ON CONFLICT DO NOTHING')
      if (driver.name === 'libsql') {
        await expect(store.tx((tx) => run(tx, 'UPDATE namespaces SET name = ? WHERE id = ?', ['x']))).rejects.toThrow(/placeholders/)
      } else {
        await expect(store.tx((tx) => run(tx, 'UPDATE namespaces SET name = ? WHERE id = ?', ['x']))).rejects.toThrow()
      }
      expect(await all(store.read, 'SELECT name FROM namespaces WHERE id = ?', ['ns_1'])).toEqual([{ name: 'It?s' }])
    })

    test('runCounted reports the rows changed: an upsert that takes, one that finds the row kept, one that takes it over', async () => {
      const store = await open()
      const upsert =
        'INSERT INTO idempotency_keys (namespace_id, key, request_hash, response_status, response_body, created_at) VALUES (?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (namespace_id, key) DO UPDATE SET request_hash = excluded.request_hash, created_at = excluded.created_at WHERE idempotency_keys.created_at <= ?'
      const take = (hash: string, at: number, expiredBefore: number) => store.tx((tx) => runCounted(tx, upsert, ['ns_1', 'k1', hash, 202, '{}', at, expiredBefore]))
      expect(await take('first', 100, 0)).toBe(1)
      expect(await take('second', 200, 50)).toBe(0)
      expect(await take('third', 300, 100)).toBe(1)
      expect(await all(store.read, 'SELECT request_hash FROM idempotency_keys WHERE key = ?', ['k1'])).toEqual([{ request_hash: 'third' }])
      expect(await store.tx((tx) => runCounted(tx, 'DELETE FROM idempotency_keys WHERE namespace_id = ?', ['ns_none']))).toBe(0)
    })
  })
}
