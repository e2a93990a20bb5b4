/**
 * The send lane (src/http/send-lane.ts) answers sends in front of the router. Every answer must
 * be the router's: each case below is sent twice, once with a Content-Length (the lane serves
 * it) and once as a streamed body without one (the lane declines; the router serves it), and
 * the two answers are compared: status, problem body, the headers a client reads.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { RequestLimiter } from '../../src/http/middleware/rate-limit'
import { sendLane } from '../../src/http/send-lane'
import { silentLogger } from '../../src/lib/log'
import { messages } from '../../src/store/schema'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
let other: Awaited<ReturnType<TestGateway['tenant']>>
let reader: string

async function start(overrides: Record<string, any> = {}) {
  gw = await startTestGateway(overrides)
  acme = await gw.tenant('acme')
  other = await gw.tenant('other')
  reader = (await gw.tenant('readonly', ['messages:read'])).key
  await gw.channel(acme.namespaceId, 'sandbox')
}
afterEach(() => gw.close())

const hello = { channel: 'sandbox', to: 'alice@example.com', content: { text: 'hello' } }

/** `[[[…]]]` nested `depth` levels, as a value (the caller stringifies it). */
function deeplyNested(depth: number): unknown {
  return JSON.parse('['.repeat(depth) + ']'.repeat(depth))
}

type Via = 'lane' | 'router'

/** A POST whose body has a length (lane) or is streamed without one (router). */
function request(via: Via, path: string, body: string, headers: Record<string, string>): Request {
  const init: RequestInit & { duplex?: string } = { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }
  if (via === 'lane') {
    init.body = body
    // What an HTTP client sends; a Request made in-process has no such header by itself.
    ;(init.headers as Record<string, string>)['content-length'] = String(Buffer.byteLength(body))
  } else {
    init.body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(body))
        controller.close()
      },
    })
    init.duplex = 'half'
  }
  return new Request(`http://127.0.0.1${path}`, init)
}

interface Answer {
  status: number
  body: Record<string, unknown>
  headers: Record<string, string | null>
}

async function call(via: Via, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  const res = await gw.app.fetch(request(via, path, text, headers))
  const parsed = (await res.json()) as Record<string, unknown>
  const read = ['content-type', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'idempotent-replayed', 'www-authenticate']
  return { status: res.status, body: parsed, headers: Object.fromEntries(read.map((h) => [h, res.headers.get(h)])) }
}

/** The answer without what differs per request (ids, times). */
function comparable(answer: Answer) {
  const { request_id, id, created_at, data, ...rest } = answer.body
  const items = (data as Record<string, unknown>[] | undefined)?.map(({ id, created_at, ...item }) => item)
  return { status: answer.status, body: { ...rest, ...(items ? { data: items } : {}) }, headers: answer.headers, request_id: typeof request_id }
}

async function bothAnswer(path: string, body: unknown, headers: Record<string, string> = {}) {
  const lane = await call('lane', path, body, headers)
  const router = await call('router', path, body, headers)
  expect(comparable(lane)).toEqual(comparable(router))
  return lane
}

describe('the lane and the router give the same answers', () => {
  test('to a send, a batch and every kind of refusal, in the router order of checks', async () => {
    await start()
    const bearer = { authorization: `Bearer ${acme.key}` }
    const ok = await bothAnswer('/v1/namespaces/acme/messages', hello, bearer)
    expect(ok.status).toBe(202)
    expect(ok.body.status).toBe('queued')
    expect((await bothAnswer('/v1/namespaces/acme/messages/batch', { messages: [hello, hello] }, bearer)).status).toBe(202)

    const cases: [string, unknown, Record<string, string>, number, string][] = [
      ['/v1/namespaces/acme/messages', hello, { authorization: `Basic ${acme.key}` }, 401, 'unauthorized'],
      ['/v1/namespaces/acme/messages', hello, { authorization: 'Bearer og_live_not-a-real-key-at-all-0123456' }, 401, 'unauthorized'],
      // Unauthenticated and malformed: the credential is checked before anything is read.
      ['/v1/namespaces/acme/messages', '{"channel":', { authorization: 'Bearer nope' }, 401, 'unauthorized'],
      ['/v1/namespaces/other/messages', hello, bearer, 404, 'namespace_not_found'],
      ['/v1/namespaces/readonly/messages', hello, { authorization: `Bearer ${reader}` }, 403, 'insufficient_scope'],
      ['/v1/namespaces/acme/messages', hello, { ...bearer, 'idempotency-key': 'has space' }, 422, 'validation_failed'],
      // The key is checked before the body, as the router's validators run.
      ['/v1/namespaces/acme/messages', '{"channel":', { ...bearer, 'idempotency-key': 'has space' }, 422, 'validation_failed'],
      ['/v1/namespaces/acme/messages', '{"channel":', bearer, 400, 'malformed_json'],
      ['/v1/namespaces/acme/messages', { ...hello, to: undefined, colour: 'red' }, bearer, 422, 'validation_failed'],
      ['/v1/namespaces/acme/messages', { ...hello, channel: 'nope' }, bearer, 422, 'validation_failed'],
      ['/v1/namespaces/acme/messages/batch', { messages: [hello, { ...hello, content: {} }] }, bearer, 422, 'validation_failed'],
      ['/v1/namespaces/acme/messages/batch', [hello], bearer, 422, 'validation_failed'],
      // Nested too deep for anything to walk safely (the request hash, the stored JSON): 422, not 500.
      ['/v1/namespaces/acme/messages', `{"channel":"sandbox","to":"alice@example.com","content":{"text":"hello"},"options":{"sandbox":{"deep":${'['.repeat(100_000)}${']'.repeat(100_000)}}}}`, { ...bearer, 'idempotency-key': 'deep-1' }, 422, 'validation_failed'],
      ['/v1/namespaces/acme/messages', { ...hello, metadata: { a: deeplyNested(40) } }, bearer, 422, 'validation_failed'],
    ]
    for (const [path, body, headers, status, code] of cases) {
      const answer = await bothAnswer(path, body, headers)
      expect([path, answer.status, answer.body.code]).toEqual([path, status, code])
      expect(answer.headers['content-type']).toBe('application/problem+json')
    }
    // Only the two accepted sends stored their rows: 1 + 2, twice.
    const stored = await gw.deps.store.read.select().from(messages).where(eq(messages.namespaceId, acme.namespaceId))
    expect(stored).toHaveLength(6)
    expect(await gw.deps.store.read.select().from(messages).where(eq(messages.namespaceId, other.namespaceId))).toHaveLength(0)
  })

  test('field errors name the same fields', async () => {
    await start()
    const bearer = { authorization: `Bearer ${acme.key}` }
    const answer = await bothAnswer('/v1/namespaces/acme/messages/batch', { messages: [hello, { channel: 'sandbox', content: { text: 1 } }] }, bearer)
    const fields = (answer.body.errors as { field: string }[]).map((e) => e.field)
    expect(fields).toContain('messages.1.to')
    const header = await bothAnswer('/v1/namespaces/acme/messages', hello, { ...bearer, 'idempotency-key': 'x'.repeat(256) })
    expect((header.body.errors as { field: string }[])[0]!.field).toBe('idempotency-key')
  })

  test('an Idempotency-Key replays across the two paths; a different body under it is a conflict', async () => {
    await start()
    const headers = { authorization: `Bearer ${acme.key}`, 'idempotency-key': 'order-42' }
    const first = await call('lane', '/v1/namespaces/acme/messages', hello, headers)
    expect(first.status).toBe(202)
    // The same body with its keys in another order is the same request.
    const again = await call('router', '/v1/namespaces/acme/messages', { content: hello.content, to: hello.to, channel: hello.channel }, headers)
    expect(again.status).toBe(202)
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(again.body.id).toBe(first.body.id)
    const batch = await call('router', '/v1/namespaces/acme/messages/batch', { messages: [hello] }, { ...headers, 'idempotency-key': 'batch-7' })
    const batchAgain = await call('lane', '/v1/namespaces/acme/messages/batch', { messages: [hello] }, { ...headers, 'idempotency-key': 'batch-7' })
    expect(batchAgain.headers['idempotent-replayed']).toBe('true')
    expect(batchAgain.body).toEqual(batch.body)
    const changed = await call('lane', '/v1/namespaces/acme/messages', { ...hello, to: 'bob@example.com' }, headers)
    expect([changed.status, changed.body.code]).toEqual([422, 'idempotency_key_reused'])
    expect(await gw.deps.store.read.select().from(messages).where(eq(messages.namespaceId, acme.namespaceId))).toHaveLength(2)
  })

  test('both paths draw on the same rate limit, and say so in the same headers', async () => {
    await start({ limits: { namespace_requests_per_second: 1 } })
    const bearer = { authorization: `Bearer ${acme.key}` }
    const first = await call('lane', '/v1/namespaces/acme/messages', hello, bearer)
    expect(first.status).toBe(202)
    expect([first.headers['ratelimit-limit'], first.headers['ratelimit-remaining']]).toEqual(['1', '0'])
    const router = await call('router', '/v1/namespaces/acme/messages', hello, bearer)
    const lane = await call('lane', '/v1/namespaces/acme/messages', hello, bearer)
    for (const refused of [router, lane]) {
      expect([refused.status, refused.body.code]).toEqual([429, 'rate_limited'])
      expect(refused.headers['retry-after']).toBe('1')
      expect(refused.headers['ratelimit-remaining']).toBe('0')
    }
    expect(comparable(lane)).toEqual(comparable(router))
  })
})

describe('which requests the lane takes', () => {
  test('only a POST to the two send paths with a bearer header, a JSON media type and a length within the limit', async () => {
    await start()
    const lane = sendLane(gw.deps, { bodyLimitBytes: 1000, log: silentLogger, limiter: new RequestLimiter(gw.deps), metrics: false })
    const body = JSON.stringify(hello)
    const make = (path: string, headers: Record<string, string>, init: RequestInit = {}) =>
      new Request(`http://127.0.0.1${path}`, {
        method: 'POST',
        body,
        ...init,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${acme.key}`, 'content-length': String((init.body ?? body).toString().length), ...headers },
      })
    const taken = lane(make('/v1/namespaces/acme/messages', {}))
    expect(taken).toBeInstanceOf(Promise)
    expect((await taken!).status).toBe(202)
    expect(lane(make('/v1/namespaces/acme/messages/batch?x=1', {}))).toBeInstanceOf(Promise)
    expect(lane(make('/v1/namespaces/acme/messages', { 'content-type': 'application/json; charset=utf-8' }))).toBeInstanceOf(Promise)
    const declined = [
      make('/v1/namespaces/acme/messages/', {}),
      make('/v1/namespaces/ac%6de/messages', {}),
      make('/v1/namespaces/acme/messages/msg_1/cancel', {}),
      make('/v1/namespaces/acme/messages', { 'content-type': 'text/plain' }),
      make('/v1/namespaces/acme/messages', { 'content-type': 'application/vnd.api+json' }),
      make('/v1/namespaces/acme/messages', { 'content-type': 'application/json;' }),
      make('/v1/namespaces/acme/messages', { 'content-type': 'application/json ;charset=utf-8' }),
      make('/v1/namespaces/acme/messages', { 'content-length': '0' }, { body: '' }),
      make('/v1/namespaces/acme/messages', {}, { body: 'x'.repeat(1001) }),
      request('router', '/v1/namespaces/acme/messages', body, { authorization: `Bearer ${acme.key}` }),
      new Request('http://127.0.0.1/v1/namespaces/acme/messages', { method: 'POST', body, headers: { 'content-type': 'application/json', 'content-length': String(body.length), cookie: 'og_session=x' } }),
      new Request('http://127.0.0.1/v1/namespaces/acme/messages', { method: 'GET', headers: { authorization: `Bearer ${acme.key}` } }),
    ]
    for (const req of declined) expect([req.method, req.url, lane(req)]).toEqual([req.method, req.url, null])
  })

  test('X-Request-Id: a well-formed one is kept and named in problems; a bad one is replaced', async () => {
    await start()
    const ok = await gw.app.fetch(request('lane', '/v1/namespaces/acme/messages', '{', { authorization: `Bearer ${acme.key}`, 'x-request-id': 'trace-123' }))
    expect(ok.headers.get('x-request-id')).toBe('trace-123')
    expect(((await ok.json()) as { request_id: string }).request_id).toBe('trace-123')
    const bad = await gw.app.fetch(request('lane', '/v1/namespaces/acme/messages', JSON.stringify(hello), { authorization: `Bearer ${acme.key}`, 'x-request-id': 'bad id!' }))
    expect(bad.status).toBe(202)
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })
})
