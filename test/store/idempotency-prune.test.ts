/**
 * The idempotency-keys cleanup deletes expired records in batches, in insertion order, on both
 * drivers: every expired record goes, every live one stays (one taken over after expiry keeps
 * its early place and must survive and not stop the cleanup).
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { IDEMPOTENCY_TTL_MS, pruneIdempotencyKeys } from '../../src/domain/messages/send'
import { all, run } from '../../src/store/raw'
import { namespaces } from '../../src/store/schema'
import { migratedStore, storeDrivers, tempDir } from '../helpers/stores'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

const NOW = 1_800_000_000_000
const INSERT = 'INSERT INTO idempotency_keys (namespace_id, key, request_hash, response_status, response_body, created_at) VALUES (?, ?, ?, 202, ?, ?)'

/** A migrated store of `driver` in a temp dir, with the namespace `ns_1`. */
async function storeWithNamespace(driver: (typeof storeDrivers)[number]) {
  const dir = tempDir()
  const store = await migratedStore(driver, dir.path)
  cleanups.push(async () => {
    await store.close()
    dir.cleanup()
  })
  await store.write((tx) => tx.insert(namespaces).values({ id: 'ns_1', slug: 'acme', name: 'Acme', createdAt: NOW, updatedAt: NOW }))
  return store
}

for (const driver of storeDrivers) {
  describe(`idempotency cleanup (${driver.name})`, () => {
    test('deletes every expired record in batches and keeps the live ones, a taken-over record included', async () => {
      const store = await storeWithNamespace(driver)
      await store.write(async (tx) => {
        // Insertion order is time order, except the first: live, ahead of expired ones (a record
        // taken over before takeovers moved to the end).
        await run(tx, INSERT, ['ns_1', 'k-000', 'h', '{}', NOW - 1000])
        for (let i = 1; i <= 25; i++) await run(tx, INSERT, ['ns_1', `k-${String(i).padStart(3, '0')}`, 'h', '{}', NOW - IDEMPOTENCY_TTL_MS - (30 - i) * 1000])
        for (let i = 26; i <= 30; i++) await run(tx, INSERT, ['ns_1', `k-${String(i).padStart(3, '0')}`, 'h', '{}', NOW - IDEMPOTENCY_TTL_MS + i * 1000])
      })
      const deleted = await pruneIdempotencyKeys(store, NOW, { batchSize: 4 })
      expect(deleted).toBe(25)
      const left = await all<{ key: string }>(store.read, 'SELECT key FROM idempotency_keys ORDER BY key')
      expect(left.map((r) => r.key)).toEqual(['k-000', 'k-026', 'k-027', 'k-028', 'k-029', 'k-030'])
      // Nothing left to do: one write that deletes nothing.
      expect(await pruneIdempotencyKeys(store, NOW, { batchSize: 4 })).toBe(0)
    })

    test('stops between batches when aborted', async () => {
      const store = await storeWithNamespace(driver)
      await store.write(async (tx) => {
        for (let i = 0; i < 10; i++) await run(tx, INSERT, ['ns_1', `k-${i}`, 'h', '{}', NOW - IDEMPOTENCY_TTL_MS - 1000])
      })
      const abort = new AbortController()
      abort.abort()
      expect(await pruneIdempotencyKeys(store, NOW, { batchSize: 4, signal: abort.signal })).toBe(0)
      expect((await all<{ n: number }>(store.read, 'SELECT count(*) AS n FROM idempotency_keys'))[0]!.n).toBe(10)
    })
  })
}

describe('idempotency cleanup after keys are re-used', () => {
  test('a key taken over after it expired moves to the end, so expired one-off keys behind it are still deleted', async () => {
    // A client that re-uses its keys day after day (digest-<user>) beside one-off keys.
    const { startTestGateway } = await import('../helpers/gateway')
    const gw = await startTestGateway()
    cleanups.push(() => gw.close())
    const acme = await gw.tenant('acme')
    await gw.channel(acme.namespaceId, 'sb')
    let clock = NOW - 2 * IDEMPOTENCY_TTL_MS
    gw.deps.now = () => clock
    const send = async (key: string) => {
      const res = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'sb', to: 'bob', content: { text: key } }, { 'idempotency-key': key })
      expect(res.status).toBe(202)
      expect(res.headers.get('idempotent-replayed')).toBeNull()
    }
    for (let i = 0; i < 4; i++) await send(`digest-${i}`)
    for (let i = 0; i < 20; i++) await send(`once-${i}`)
    // An hour before the cleanup, the digest keys are used again: taken over, live once more.
    clock = NOW - 3_600_000
    for (let i = 0; i < 4; i++) await send(`digest-${i}`)
    const deleted = await pruneIdempotencyKeys(gw.deps.store, NOW, { batchSize: 4 })
    const left = await all<{ key: string }>(gw.deps.store.read, 'SELECT key FROM idempotency_keys ORDER BY rowid')
    expect({ deleted, left: left.map((r) => r.key) }).toEqual({ deleted: 20, left: ['digest-0', 'digest-1', 'digest-2', 'digest-3'] })
  })
})
