/**
 * Commit topics (store.onCommit / touch) on both drivers: listeners that throw, write or
 * unsubscribe while announced, and a COMMIT that fails after a touch.
 */
import { describe, expect, test } from 'bun:test'
import { run } from '../../src/store/raw'
import { type Store, touch } from '../../src/store/store'
import { migratedStores, storeDrivers } from '../helpers/stores'

const openStore = migratedStores()

for (const driver of storeDrivers) {
  describe(driver.name, () => {
    const open = () => openStore(driver)

    test('a throwing listener fails neither the write nor the other listeners', async () => {
      const store = await open()
      let heard = 0
      store.onCommit('webhook_deliveries', () => {
        throw new Error('boom')
      })
      store.onCommit('webhook_deliveries', () => void heard++)
      expect(await store.write(async (tx) => (touch(tx, 'webhook_deliveries'), 7))).toBe(7)
      expect(await store.tx(async (tx) => (touch(tx, 'webhook_deliveries'), 8))).toBe(8)
      expect(heard).toBe(2)
    })

    test('a listener that writes (tx and write) does not deadlock', async () => {
      const store = await open()
      const done: Promise<unknown>[] = []
      let calls = 0
      store.onCommit('webhook_deliveries', () => {
        calls++
        if (calls > 3) return
        done.push(store.tx(async (tx) => run(tx, 'SELECT 1')))
        done.push(store.write(async (tx) => touch(tx, 'webhook_deliveries')))
      })
      await store.tx(async (tx) => touch(tx, 'webhook_deliveries'))
      for (let i = 0; i < 10 && done.length < 6; i++) await Promise.all(done).then(() => Bun.sleep(10))
      await Promise.all(done)
      expect(calls).toBe(4)
    })

    test('a listener that unsubscribes itself mid-announce', async () => {
      const store = await open()
      let a = 0
      let b = 0
      const offA = store.onCommit('webhook_deliveries', () => {
        a++
        offA()
      })
      store.onCommit('webhook_deliveries', () => void b++)
      await store.tx(async (tx) => touch(tx, 'webhook_deliveries'))
      await store.tx(async (tx) => touch(tx, 'webhook_deliveries'))
      expect([a, b]).toEqual([1, 2])
    })

    test('a commit that fails after touching is not announced', async () => {
      const store = await open()
      let heard = 0
      store.onCommit('webhook_deliveries', () => void heard++)
      // A deferred foreign-key violation fails at COMMIT.
      await expect(
        store.tx(async (tx) => {
          await run(tx, 'PRAGMA defer_foreign_keys = ON')
          await run(tx, "INSERT INTO webhook_deliveries (id, namespace_id, webhook_id, event_id, event_type, payload, status, attempts, created_at, updated_at) VALUES ('d', 'no-ns', 'no-hook', 'e', 't', '{}', 'pending', 0, 1, 1)")
          touch(tx, 'webhook_deliveries')
        }),
      ).rejects.toThrow()
      expect(heard).toBe(0)
    })
  })
}
