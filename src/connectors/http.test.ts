import { afterEach, describe, expect, test } from 'bun:test'
import { type HttpReceiver, type HttpReceiverOptions, startHttpReceiver } from '../../test/fakes/http-receiver'
import { createGuardedFetch } from '../lib/url-guard'
import { USER_AGENT } from '../version'
import { httpConfigSchema, httpConnector, parseRetryAfter } from './http'
import { ConnectorError, type OutboundMessage } from './types'

const message: OutboundMessage = {
  id: 'msg_01HZX3Y4ABCDEF',
  namespace: 'acme',
  channel: { id: 'chn_1', name: 'orders-hook', type: 'http' },
  from: null,
  to: 'ops-team',
  content: { text: 'Order 42 shipped', subject: 'Shipping' },
  metadata: { order: '42' },
  options: {},
  createdAt: Date.UTC(2025, 0, 2, 3, 4, 5, 678),
  attempt: 1,
}

let receiver: HttpReceiver | undefined
afterEach(async () => {
  await receiver?.stop()
  receiver = undefined
})

function receive(opts?: HttpReceiverOptions): HttpReceiver {
  receiver = startHttpReceiver(opts)
  return receiver
}

function send(config: Record<string, unknown>, allowPrivateNetwork = true) {
  const fetch = createGuardedFetch({ allowPrivateNetwork, defaultTimeoutMs: 5_000, maxResponseBytes: 64 * 1024 })
  return httpConnector.send(message, { config: httpConfigSchema.parse(config), fetch, userAgent: USER_AGENT })
}

/** The ConnectorError a failing send throws. */
async function failure(config: Record<string, unknown>, allowPrivateNetwork = true): Promise<ConnectorError> {
  const err = await send(config, allowPrivateNetwork).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ConnectorError)
  return err as ConnectorError
}

function answering(status: number, body?: string, headers?: Record<string, string>): HttpReceiverOptions {
  return { respond: () => new Response(body ?? null, { status, headers }) }
}

describe('http connector: the request', () => {
  test('POSTs the message as JSON with the gateway headers and the custom ones', async () => {
    const { url, received } = receive()
    await send({
      url: `${url}hooks/in?src=omnigate`,
      headers: { Authorization: 'Bearer s3cret', 'X-Tenant': 'acme', 'Content-Type': 'text/plain', 'Idempotency-Key': 'mine' },
    })

    expect(received).toHaveLength(1)
    const [req] = received
    expect(req.method).toBe('POST')
    expect(req.path).toBe('/hooks/in?src=omnigate')
    expect(req.body).toEqual({
      id: 'msg_01HZX3Y4ABCDEF',
      namespace: 'acme',
      channel: 'orders-hook',
      from: null,
      to: 'ops-team',
      content: { text: 'Order 42 shipped', subject: 'Shipping' },
      metadata: { order: '42' },
      created_at: '2025-01-02T03:04:05.678Z',
    })
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.headers['idempotency-key']).toBe('msg_01HZX3Y4ABCDEF')
    expect(req.headers['user-agent']).toBe(USER_AGENT)
    expect(req.headers.authorization).toBe('Bearer s3cret')
    expect(req.headers['x-tenant']).toBe('acme')
  })
})

describe('http connector: classifying the answer', () => {
  test('2xx with a JSON id is sent with that id', async () => {
    const { url } = receive({ respond: () => Response.json({ id: 'evt_789', ok: true }, { status: 200 }) })
    expect(await send({ url })).toEqual({ status: 'sent', providerMessageId: 'evt_789' })
  })

  test('204 without a body is sent without an id', async () => {
    const { url } = receive(answering(204))
    expect(await send({ url })).toEqual({ status: 'sent', providerMessageId: undefined })
  })

  test('2xx with a body that is not JSON is still sent', async () => {
    const { url } = receive(answering(202, 'accepted'))
    expect(await send({ url })).toEqual({ status: 'sent', providerMessageId: undefined })
  })

  const cases: [string, HttpReceiverOptions, string, string, RegExp][] = [
    ['302', answering(302, undefined, { location: 'http://10.0.0.1/' }), 'permanent', 'http_302', /redirects are not followed/],
    ['400', answering(400, '{"error":"to is required"}'), 'permanent', 'http_400', /^HTTP 400: \{"error":"to is required"\}$/],
    ['401', answering(401, 'bad token'), 'permanent', 'http_401', /^HTTP 401: bad token$/],
    ['408', answering(408), 'transient', 'http_408', /HTTP 408/],
    ['500', answering(500, 'boom'), 'transient', 'http_500', /HTTP 500/],
    ['503', answering(503), 'transient', 'http_503', /HTTP 503/],
  ]
  test.each(cases)('%s is %s', async (_status, respond, errorClass, code, message) => {
    const { url } = receive(respond)
    const err = await failure({ url })
    expect(err.errorClass).toBe(errorClass as ConnectorError['errorClass'])
    expect(err.code).toBe(code)
    expect(err.message).toMatch(message)
  })

  test('a 4xx message keeps only the first 200 characters of the body', async () => {
    const { url } = receive(answering(422, 'x'.repeat(5_000)))
    const err = await failure({ url })
    expect(err.message).toBe(`HTTP 422: ${'x'.repeat(200)}`)
  })

  test('429 is rate-limited with Retry-After seconds as the hint', async () => {
    const { url } = receive(answering(429, undefined, { 'retry-after': '7' }))
    const err = await failure({ url })
    expect(err.errorClass).toBe('rate-limited')
    expect(err.code).toBe('http_429')
    expect(err.retryAfterMs).toBe(7_000)
  })

  test('Retry-After as an HTTP-date becomes the time left until then', () => {
    const now = Date.UTC(2025, 0, 1, 0, 0, 0)
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(null, now)).toBeUndefined()
  })

  test('a receiver slower than timeout_ms is a transient timeout', async () => {
    const { url } = receive({
      respond: async () => {
        await Bun.sleep(2_000)
        return new Response(null, { status: 204 })
      },
    })
    const started = Date.now()
    const err = await failure({ url, timeout_ms: 200 })
    expect(err.errorClass).toBe('transient')
    expect(err.code).toBe('timeout')
    expect(err.message).toBe('no response within 200 ms')
    expect(Date.now() - started).toBeLessThan(1_500)
  })

  test('a refused connection is a transient network error', async () => {
    const closed = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
    const port = closed.port
    await closed.stop(true)
    const err = await failure({ url: `http://127.0.0.1:${port}/` })
    expect(err.errorClass).toBe('transient')
    expect(err.code).toBe('network_error')
  })

  test('a loopback URL is refused for good when private networks are not allowed', async () => {
    const { url, received } = receive()
    const err = await failure({ url }, false)
    expect(err.errorClass).toBe('permanent')
    expect(err.code).toBe('url_rejected')
    expect(err.message).toContain('set security.allow_private_network to allow it')
    expect(received).toHaveLength(0)
  })
})

describe('http connector: configSchema', () => {
  test('fills the defaults', () => {
    expect(httpConfigSchema.parse({ url: 'https://hooks.example.com/in' })).toEqual({
      url: 'https://hooks.example.com/in',
      headers: {},
      timeout_ms: 10_000,
    })
  })

  test('refuses a non-http URL with the guard message', () => {
    const result = httpConfigSchema.safeParse({ url: 'ftp://files.example.com/drop' })
    expect(result.success).toBe(false)
    expect(result.error?.issues[0]?.path).toEqual(['url'])
    expect(result.error?.issues[0]?.message).toBe('ftp URLs are not allowed; use http or https')
  })

  test('refuses unknown keys', () => {
    const result = httpConfigSchema.safeParse({ url: 'https://hooks.example.com/in', method: 'PUT' })
    expect(result.success).toBe(false)
    expect(result.error?.issues[0]?.code).toBe('unrecognized_keys')
  })

  test.each([
    [{ headers: { 'X Bad': 'v' } }, 'headers'],
    [{ headers: { 'X-Ok': 'a\r\nX-Injected: 1' } }, 'headers'],
    [{ timeout_ms: 50 }, 'timeout_ms'],
    [{ timeout_ms: 60_001 }, 'timeout_ms'],
    [{ timeout_ms: 1.5 }, 'timeout_ms'],
  ])('refuses %j', (extra, key) => {
    const result = httpConfigSchema.safeParse({ url: 'https://hooks.example.com/in', ...extra })
    expect(result.success).toBe(false)
    expect(result.error?.issues[0]?.path[0]).toBe(key)
  })

  test('marks headers and the inbound secret as secret', () => {
    expect(httpConnector.secretKeys).toEqual(['headers', 'inbound_secret'])
  })
})
