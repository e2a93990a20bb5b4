/**
 * A remote libSQL server that stops answering (a stand-in speaking Hrana v2 over HTTP): a write
 * fails after `database.request_timeout_ms` and frees the store, so the next write goes through
 * once the server answers again. Without a deadline the first request held the store's lock for
 * good: every later write, the claim loops and shutdown waited behind it.
 */
import { afterAll, expect, test } from 'bun:test'
import { run } from '../../src/store/raw'
import { openStore } from '../../src/store/open'
import { startFakeHrana } from '../fakes/hrana'

const server = startFakeHrana()
afterAll(() => server.stop())

const settle = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p.then(() => 'ok', (e: Error) => `rejected: ${e.name}`), Bun.sleep(ms).then(() => 'still pending')])

test('a request the server never answers fails the write after request_timeout_ms; the next write goes through', async () => {
  const store = await openStore({ url: server.url, synchronous: 'NORMAL', busyTimeoutMs: 1000, requestTimeoutMs: 300 })
  try {
    expect(await settle(store.tx(async (tx) => run(tx, 'SELECT 1')), 3000)).toBe('ok')
    server.hang = true
    const started = performance.now()
    const silent = await settle(store.tx(async (tx) => run(tx, 'SELECT 2')), 5000)
    expect(silent).toMatch(/^rejected: /)
    expect(performance.now() - started).toBeLessThan(3000)
    server.hang = false
    expect(await settle(store.write(async (tx) => run(tx, 'SELECT 3')), 3000)).toBe('ok')
    expect(server.statements).toContain('SELECT 3')
  } finally {
    server.hang = false
    await settle(store.close(), 3000)
  }
})
