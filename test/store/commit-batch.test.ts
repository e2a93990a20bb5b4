/**
 * Commit batches (src/store/store.ts): counters gathered by the writes of one group commit are
 * written once, before COMMIT, and a write that fails takes its own additions with it. Commit
 * topics: a listener hears of a touched topic once per commit, after it, never for a rollback.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { all, run } from '../../src/store/raw'
import { type CommitBatch, commitBatch, type Db, type Store, touch, WriteBatcher } from '../../src/store/store'
import { migratedStore, storeDrivers, tempDir } from '../helpers/stores'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

class Tally implements CommitBatch {
  n = 0
  static flushes = 0
  absorb(other: Tally): void {
    this.n += other.n
  }
  async flush(tx: Db): Promise<void> {
    Tally.flushes++
    await run(tx, 'UPDATE namespaces SET name = CAST(CAST(name AS INTEGER) + ? AS TEXT) WHERE id = ?', [this.n, 'ns_1'])
  }
}

const add = (tx: Db, n: number) => {
  const tally = commitBatch(tx, 'tally', () => new Tally())
  if (!tally) throw new Error('not in a store transaction')
  tally.n += n
}

const total = async (store: Store) => Number((await all<{ name: string }>(store.read, 'SELECT name FROM namespaces WHERE id = ?', ['ns_1']))[0]!.name)

for (const driver of storeDrivers) {
  describe(driver.name, () => {
    async function open() {
      const dir = tempDir()
      const store = await migratedStore(driver, dir.path)
      cleanups.push(async () => {
        await store.close()
        dir.cleanup()
      })
      await store.tx((tx) => run(tx, "INSERT INTO namespaces (id, slug, name, status, settings, created_at, updated_at) VALUES ('ns_1', 'a', '0', 'active', '{}', 1, 1)"))
      return store
    }

    test('queued writes share one flush; the failed write\'s additions are dropped with its savepoint', async () => {
      const store = await open()
      Tally.flushes = 0
      const results = await Promise.allSettled([
        store.write(async (tx) => add(tx, 1)),
        store.write(async (tx) => {
          add(tx, 100)
          throw new Error('this write fails')
        }),
        store.write(async (tx) => add(tx, 10)),
      ])
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect(Tally.flushes).toBe(1)
      expect(await total(store)).toBe(11)
    })

    test('a plain transaction flushes its batch before it commits, and a failed one writes nothing', async () => {
      const store = await open()
      await store.tx(async (tx) => add(tx, 5))
      expect(await total(store)).toBe(5)
      await expect(
        store.tx(async (tx) => {
          add(tx, 7)
          throw new Error('rolled back')
        }),
      ).rejects.toThrow('rolled back')
      expect(await total(store)).toBe(5)
    })

    test('outside a store transaction there is no batch to defer to', async () => {
      const store = await open()
      expect(commitBatch(store.read, 'tally', () => new Tally())).toBeNull()
    })

    test('a touched topic is announced once per commit, after the commit; a rollback announces nothing', async () => {
      const store = await open()
      const heard: number[] = []
      // What the listener sees is committed: another connection reads it.
      const off = store.onCommit('webhook_deliveries', () => void total(store).then((n) => heard.push(n)))
      await Promise.all([
        store.write(async (tx) => {
          add(tx, 1)
          touch(tx, 'webhook_deliveries')
        }),
        store.write(async (tx) => {
          add(tx, 2)
          touch(tx, 'webhook_deliveries')
        }),
      ])
      await store.tx(async (tx) => add(tx, 4)) // touches nothing
      await expect(
        store.tx(async (tx) => {
          touch(tx, 'webhook_deliveries')
          throw new Error('rolled back')
        }),
      ).rejects.toThrow('rolled back')
      await Bun.sleep(20)
      expect(heard).toEqual([3])
      off()
      await store.tx(async (tx) => touch(tx, 'webhook_deliveries'))
      await Bun.sleep(20)
      expect(heard).toEqual([3])
    })

    test('a WriteBatcher writes what is added in one turn together, and each alone when that write fails', async () => {
      const store = await open()
      const calls: number[][] = []
      const batcher = new WriteBatcher<number, string>(
        store,
        async (tx, items) => {
          calls.push([...items])
          if (items.includes(13)) throw new Error('13 spoils the batch')
          for (const n of items) add(tx, n)
          return items.map((n) => `all:${n}`)
        },
        async (n) => {
          if (n === 13) throw new Error('13 is refused')
          await store.write(async (tx) => add(tx, n))
          return `one:${n}`
        },
      )
      expect(await Promise.all([batcher.add(1), batcher.add(2)])).toEqual(['all:1', 'all:2'])
      const results = await Promise.allSettled([batcher.add(4), batcher.add(13), batcher.add(8)])
      expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['one:4', '13 is refused', 'one:8'])
      expect(calls).toEqual([
        [1, 2],
        [4, 13, 8],
      ])
      // 1 + 2 together, then 4 and 8 alone; the failed batch wrote nothing.
      expect(await total(store)).toBe(15)
    })
  })
}
