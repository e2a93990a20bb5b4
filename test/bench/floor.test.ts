/**
 * The send floor (scripts/bench/floor.ts), the reference the ingest figure is read against: it
 * must really do the work it stands for. A real process on a loopback port and a real database
 * file: what it answers, and what that file then holds.
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { BENCH_DIR, type Child, cleanupAll, firstLine, makeTempDir, spawnChild, stopChild } from '../../scripts/bench/lib'

const KEY = 'og_live_floortestkey'
let child: Child & { stdout: ReadableStream<Uint8Array> | null }
let url: string
let dbPath: string

beforeAll(async () => {
  dbPath = join(makeTempDir('floor-test'), 'floor.db')
  child = spawnChild('floor-test', [process.execPath, join(BENCH_DIR, 'floor.ts'), dbPath, 'NORMAL'], { pipeStdout: true, env: { OMNIGATE_BENCH_KEY: KEY } })
  url = `http://127.0.0.1:${JSON.parse(await firstLine(child.stdout!)).port}/v1/namespaces/bench/messages`
})
afterAll(() => cleanupAll())

const message = (n: number) => ({ channel: 'sandbox', to: `user${n}@example.com`, content: { text: `code ${n}` }, metadata: { n: String(n) } })
const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })

function read<T>(query: string, ...params: string[]): T[] {
  const db = new Database(dbPath, { readonly: true })
  try {
    return db.query(query).all(...params) as T[]
  } finally {
    db.close()
  }
}

describe('the send floor', () => {
  test('accepts a keyed send: 202 after the message row and the idempotency record are committed', async () => {
    const res = await post(message(1), { 'idempotency-key': 'k-1' })
    expect(res.status).toBe(202)
    const answer = (await res.json()) as { id: string; status: string; created_at: string }
    expect(answer.status).toBe('queued')
    const [row] = read<{ id: string; recipient: string; status: string; content: string; next_attempt_at: number | null }>(
      'SELECT id, recipient, status, content, next_attempt_at FROM messages WHERE id = ?',
      answer.id,
    )
    expect(row).toMatchObject({ id: answer.id, recipient: 'user1@example.com', status: 'queued' })
    expect(JSON.parse(row!.content)).toEqual({ text: 'code 1' })
    expect(row!.next_attempt_at).toBe(Date.parse(answer.created_at))
    const [record] = read<{ request_hash: string; response_body: string }>('SELECT request_hash, response_body FROM idempotency_keys WHERE key = ?', 'k-1')
    expect(record!.request_hash).toBe(new Bun.CryptoHasher('sha256').update(JSON.stringify(message(1))).digest('hex'))
    expect(JSON.parse(record!.response_body)).toEqual(answer)
  })

  test('a repeated key is refused and writes nothing', async () => {
    const res = await post(message(2), { 'idempotency-key': 'k-1' })
    expect(res.status).toBe(409)
    expect(read('SELECT id FROM messages WHERE recipient = ?', 'user2@example.com')).toHaveLength(0)
  })

  test('bad input is refused before anything is written', async () => {
    const before = read<{ n: number }>('SELECT count(*) AS n FROM messages')[0]!.n
    expect((await post({ channel: 'sandbox', content: { text: 'no recipient' } }, { 'idempotency-key': 'k-bad' })).status).toBe(422)
    expect((await post('{"channel":', { 'idempotency-key': 'k-json' })).status).toBe(400)
    expect((await post(message(3), { authorization: 'Bearer og_live_someoneelse' })).status).toBe(401)
    expect(read<{ n: number }>('SELECT count(*) AS n FROM messages')[0]!.n).toBe(before)
    expect(read('SELECT key FROM idempotency_keys WHERE key IN (?, ?)', 'k-bad', 'k-json')).toHaveLength(0)
  })

  test('concurrent sends share commits and each is stored once', async () => {
    const statuses = await Promise.all(Array.from({ length: 64 }, (_, i) => post(message(100 + i), { 'idempotency-key': `c-${i}` }).then((r) => r.status)))
    expect(statuses.every((s) => s === 202)).toBe(true)
    expect(read<{ n: number }>("SELECT count(*) AS n FROM messages WHERE recipient LIKE 'user1__@example.com'")[0]!.n).toBe(64)
    expect(read<{ n: number }>("SELECT count(*) AS n FROM idempotency_keys WHERE key LIKE 'c-%'")[0]!.n).toBe(64)
  })

  test('stops on SIGTERM with everything it answered 202 in the database file', async () => {
    expect(await stopChild(child, 5000)).toBe(0)
    expect(read<{ n: number }>('SELECT count(*) AS n FROM messages')[0]!.n).toBe(65)
  })
})
