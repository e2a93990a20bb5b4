/**
 * POST/GET /v1/namespaces/{ns}/messages (issue #3): accepting, scheduling, cancelling, validating,
 * idempotency, batches and listing — each checked against the HTTP answer and the stored rows.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { and, asc, eq } from 'drizzle-orm'
import { messageEvents, messages } from '../../src/store/schema'
import { startTestGateway, type TestGateway } from '../helpers/gateway'
import { expectProblem, fieldsOf, type Problem } from '../helpers/problems'



const MESSAGES = '/v1/namespaces/acme/messages'
const hello = { channel: 'sandbox', to: 'alice@example.com', content: { text: 'hello' } }
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString()

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
let sandboxId: string

async function start(overrides: Record<string, any> = {}) {
  gw = await startTestGateway(overrides)
  acme = await gw.tenant('acme')
  sandboxId = await gw.channel(acme.namespaceId, 'sandbox')
}

const send = (body: unknown, headers?: Record<string, string>) => gw.call('POST', MESSAGES, acme.key, body, headers)
const storedIn = (namespaceId: string) =>
  gw.deps.store.read.select().from(messages).where(eq(messages.namespaceId, namespaceId)).orderBy(asc(messages.id))

afterEach(() => gw.close())

/** Holds the next store write until released: the request making it stays in flight. */
function holdFirstWrite() {
  const store = gw.deps.store
  const write = store.write.bind(store)
  let reachedWrite!: () => void
  let release!: () => void
  const reached = new Promise<void>((resolve) => (reachedWrite = resolve))
  const gate = new Promise<void>((resolve) => (release = resolve))
  let held = false
  store.write = (async (fn: Parameters<typeof write>[0]) => {
    if (!held) {
      held = true
      reachedWrite()
      await gate
    }
    return write(fn)
  }) as typeof store.write
  return {
    reached,
    release,
    restore() {
      release()
      store.write = write
    },
  }
}

describe('sending one message', () => {
  beforeEach(() => start())

  test('answers 202 with the new id and status queued, and stores the outbound row', async () => {
    const res = await send({ ...hello, metadata: { order: '42' } })
    expect(res.status).toBe(202)
    expect(res.headers.get('content-type')).toStartWith('application/json')
    const body = (await res.json()) as Record<string, unknown>
    expect(body).toEqual({ id: expect.stringMatching(/^msg_[0-9a-f]{32}$/), status: 'queued', send_at: null, created_at: expect.any(String) })

    const rows = await storedIn(acme.namespaceId)
    expect(rows).toHaveLength(1)
    const row = rows[0]!
    expect(row).toMatchObject({
      id: body.id as string,
      namespaceId: acme.namespaceId,
      channelId: sandboxId,
      applicationId: acme.applicationId,
      direction: 'outbound',
      status: 'queued',
      sender: null,
      terminalId: null,
      recipient: 'alice@example.com',
      content: { text: 'hello' },
      metadata: { order: '42' },
      options: {},
      sendAt: null,
      attempts: 0,
    })
    // The row is its own work item: due at once.
    expect(row.nextAttemptAt).toBe(row.createdAt)
    expect(new Date(body.created_at as string).getTime()).toBe(row.createdAt)
  })

  test('the message reads back with its fields and a timeline that starts queued', async () => {
    const { id } = (await (await send({ ...hello, channel: sandboxId, content: { text: 'hi', subject: 'S' } })).json()) as { id: string }
    const res = await gw.call('GET', `${MESSAGES}/${id}`, acme.key)
    expect(res.status).toBe(200)
    const message = (await res.json()) as Record<string, any>
    expect(message).toMatchObject({
      id,
      direction: 'outbound',
      status: 'queued',
      channel: { id: sandboxId, name: 'sandbox', type: 'sandbox' },
      from: null,
      to: 'alice@example.com',
      content: { text: 'hi', subject: 'S' },
      metadata: {},
      options: {},
      send_at: null,
      attempts: 0,
      provider_message_id: null,
      error: null,
    })
    expect(message.events).toEqual([{ status: 'queued', at: message.created_at, attempt: null, provider_message_id: null, error: null }])
  })

  test('an object recipient (a push subscription) is kept as an object', async () => {
    const to = { endpoint: 'https://push.example.com/abc', keys: { p256dh: 'k', auth: 'a' } }
    const { id } = (await (await send({ ...hello, to })).json()) as { id: string }
    const message = (await (await gw.call('GET', `${MESSAGES}/${id}`, acme.key)).json()) as { to: unknown }
    expect(message.to).toEqual(to)
  })

  test('attachments within the configured size are accepted, both inline and by URL', async () => {
    const res = await send({
      ...hello,
      content: {
        attachments: [
          { filename: 'a.txt', content_type: 'text/plain', content_base64: Buffer.from('hello').toString('base64') },
          { filename: 'b.pdf', url: 'https://files.example.com/b.pdf' },
        ],
      },
    })
    expect(res.status).toBe(202)
    const [row] = await storedIn(acme.namespaceId)
    expect(row!.content.attachments).toHaveLength(2)
  })
})

describe('scheduling and cancelling', () => {
  beforeEach(() => start())

  test('send_at in the future answers scheduled and the row waits until then', async () => {
    const sendAt = inAnHour()
    const res = await send({ ...hello, send_at: sendAt })
    expect(res.status).toBe(202)
    const body = (await res.json()) as { id: string; status: string; send_at: string }
    expect(body).toMatchObject({ status: 'scheduled', send_at: sendAt })
    const [row] = await storedIn(acme.namespaceId)
    expect(row).toMatchObject({ id: body.id, status: 'scheduled', sendAt: Date.parse(sendAt), nextAttemptAt: Date.parse(sendAt) })
  })

  test('send_at in the past is simply sent now', async () => {
    const res = await send({ ...hello, send_at: '2020-01-01T00:00:00Z' })
    expect(res.status).toBe(202)
    expect(((await res.json()) as { status: string }).status).toBe('queued')
  })

  test('cancelling a scheduled message answers 200 cancelled, records the event and takes it off the queue', async () => {
    const { id } = (await (await send({ ...hello, send_at: inAnHour() })).json()) as { id: string }
    const res = await gw.call('POST', `${MESSAGES}/${id}/cancel`, acme.key)
    expect(res.status).toBe(200)
    const message = (await res.json()) as { id: string; status: string; events: { status: string }[] }
    expect(message.id).toBe(id)
    expect(message.status).toBe('cancelled')
    expect(message.events.map((e) => e.status)).toEqual(['scheduled', 'cancelled'])

    const [row] = await storedIn(acme.namespaceId)
    expect(row).toMatchObject({ status: 'cancelled', nextAttemptAt: null })
    const events = await gw.deps.store.read.select().from(messageEvents).where(eq(messageEvents.messageId, id))
    expect(events.map((e) => [e.namespaceId, e.status])).toEqual([[acme.namespaceId, 'cancelled']])
  })

  test('a queued message cannot be cancelled: 409 message_not_cancellable, nothing changes', async () => {
    const { id } = (await (await send(hello)).json()) as { id: string }
    await expectProblem(await gw.call('POST', `${MESSAGES}/${id}/cancel`, acme.key), 409, 'message_not_cancellable')
    const [row] = await storedIn(acme.namespaceId)
    expect(row!.status).toBe('queued')
    expect(await gw.deps.store.read.select().from(messageEvents)).toEqual([])
  })

  test('a cancelled message cannot be cancelled again', async () => {
    const { id } = (await (await send({ ...hello, send_at: inAnHour() })).json()) as { id: string }
    expect((await gw.call('POST', `${MESSAGES}/${id}/cancel`, acme.key)).status).toBe(200)
    await expectProblem(await gw.call('POST', `${MESSAGES}/${id}/cancel`, acme.key), 409, 'message_not_cancellable')
  })

  test('cancelling an unknown message is 404 message_not_found', async () => {
    await expectProblem(await gw.call('POST', `${MESSAGES}/msg_00000000000000000000000000000000/cancel`, acme.key), 404, 'message_not_found')
  })
})

describe('validation names each bad field and stores nothing', () => {
  beforeEach(() => start())

  const cases: { name: string; body: Record<string, unknown>; fields: string[] }[] = [
    { name: 'missing to', body: { channel: 'sandbox', content: { text: 'x' } }, fields: ['to'] },
    { name: 'empty to', body: { ...hello, to: '' }, fields: ['to'] },
    { name: 'missing channel', body: { to: 'a', content: { text: 'x' } }, fields: ['channel'] },
    { name: 'content without text, html or attachments', body: { ...hello, content: { subject: 'only a subject' } }, fields: ['content'] },
    { name: 'send_at that is not RFC 3339', body: { ...hello, send_at: 'tomorrow at noon' }, fields: ['send_at'] },
    { name: 'send_at without an offset', body: { ...hello, send_at: '2030-01-01T10:00:00' }, fields: ['send_at'] },
    { name: 'an unknown top-level field', body: { ...hello, priority: 'high' }, fields: ['priority'] },
    { name: 'an unknown field inside content', body: { ...hello, content: { text: 'x', foo: 1 } }, fields: ['content.foo'] },
    { name: 'metadata values that are not strings', body: { ...hello, metadata: { n: 1 } }, fields: ['metadata.n'] },
    { name: 'a channel the namespace does not have', body: { ...hello, channel: 'carrier-pigeon' }, fields: ['channel'] },
    { name: 'a sandbox outcome that does not exist', body: { ...hello, options: { sandbox: { outcome: 'exploded' } } }, fields: ['options.sandbox.outcome'] },
    { name: 'an unknown sandbox option', body: { ...hello, options: { sandbox: { colour: 'red' } } }, fields: ['options.sandbox.colour'] },
    {
      name: 'an attachment with both url and content_base64',
      body: { ...hello, content: { attachments: [{ filename: 'a', url: 'https://x.example/a', content_base64: 'aGk=' }] } },
      fields: ['content.attachments.0'],
    },
    {
      name: 'an attachment with neither url nor content_base64',
      body: { ...hello, content: { attachments: [{ filename: 'a' }] } },
      fields: ['content.attachments.0'],
    },
    {
      name: 'an attachment whose content is not base64',
      body: { ...hello, content: { text: 'x', attachments: [{ filename: 'a', content_base64: 'not base64!' }] } },
      fields: ['content.attachments.0.content_base64'],
    },
    {
      name: 'an attachment URL that is not http(s)',
      body: { ...hello, content: { attachments: [{ filename: 'a', url: 'file:///etc/passwd' }] } },
      fields: ['content.attachments.0.url'],
    },
    {
      name: 'several mistakes at once',
      body: { channel: 'sandbox', content: { text: 'x' }, send_at: 'soon', extra: true },
      fields: ['extra', 'send_at', 'to'],
    },
  ]

  for (const { name, body, fields } of cases) {
    test(name, async () => {
      const problem = await expectProblem(await send(body), 422, 'validation_failed')
      expect(fieldsOf(problem)).toEqual(fields)
      expect(await storedIn(acme.namespaceId)).toEqual([])
    })
  }

  test('an unknown field is reported as "unknown field"', async () => {
    const problem = await expectProblem(await send({ ...hello, content: { text: 'x', foo: 1 } }), 422, 'validation_failed')
    expect(problem.errors).toEqual([{ field: 'content.foo', message: 'unknown field' }])
  })

  test('send_at more than a year ahead is refused', async () => {
    const farAway = new Date(Date.now() + 400 * 86_400_000).toISOString()
    expect(fieldsOf(await expectProblem(await send({ ...hello, send_at: farAway }), 422, 'validation_failed'))).toEqual(['send_at'])
  })

  test('when the channel has terminals, from must be one of them', async () => {
    expect((await gw.call('POST', '/v1/namespaces/acme/channels/sandbox/terminals', acme.key, { address: 'bot-1' })).status).toBe(201)
    const problem = await expectProblem(await send({ ...hello, from: 'someone-else' }), 422, 'validation_failed')
    expect(fieldsOf(problem)).toEqual(['from'])
    expect((await send({ ...hello, from: 'bot-1' })).status).toBe(202)
  })

  test('malformed JSON is 400 malformed_json', async () => {
    await expectProblem(await send('{"channel": "sandbox", '), 400, 'malformed_json')
    expect(await storedIn(acme.namespaceId)).toEqual([])
  })

  test('a body that is not JSON is 415, with or without a content-length', async () => {
    await expectProblem(await send('to=alice', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type')
    await expectProblem(await send('to=alice', { 'content-type': 'text/plain', 'content-length': '8' }), 415, 'unsupported_media_type')
    await expectProblem(await send('to=alice', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type')
  })
})

describe('limits', () => {
  test('attachments over messages.max_attachment_bytes are refused; exactly the limit is accepted', async () => {
    await start({ messages: { max_attachment_bytes: 10 } })
    const attach = (bytes: number) => ({
      ...hello,
      content: { attachments: [{ filename: 'a.bin', content_base64: Buffer.alloc(bytes, 7).toString('base64') }] },
    })
    const problem = await expectProblem(await send(attach(11)), 422, 'validation_failed')
    expect(fieldsOf(problem)).toEqual(['content.attachments'])
    expect(await storedIn(acme.namespaceId)).toEqual([])
    expect((await send(attach(10))).status).toBe(202)
  })

  test('the total of several attachments counts against the limit', async () => {
    await start({ messages: { max_attachment_bytes: 10 } })
    const six = { filename: 'a', content_base64: Buffer.alloc(6).toString('base64') }
    const problem = await expectProblem(await send({ ...hello, content: { attachments: [six, six] } }), 422, 'validation_failed')
    expect(fieldsOf(problem)).toEqual(['content.attachments'])
  })

  test('an attachment URL to a private address is refused when private networks are not allowed', async () => {
    await start({ security: { allow_private_network: false } })
    for (const url of ['http://127.0.0.1/a.pdf', 'http://10.0.0.8/a.pdf', 'http://169.254.169.254/latest/meta-data', 'http://[::1]/a.pdf']) {
      const problem = await expectProblem(
        await send({ ...hello, content: { text: 'x', attachments: [{ filename: 'a.pdf', url }] } }),
        422,
        'validation_failed',
      )
      expect(fieldsOf(problem)).toEqual(['content.attachments.0.url'])
    }
    expect(await storedIn(acme.namespaceId)).toEqual([])
    // A public address literal passes the same guard (no DNS needed, nothing is fetched on accept).
    expect((await send({ ...hello, content: { attachments: [{ filename: 'a.pdf', url: 'https://93.184.215.14/a.pdf' }] } })).status).toBe(202)
  })

  test('a body over server.body_limit_bytes is 413 and stores nothing; one under it passes', async () => {
    await start({ server: { body_limit_bytes: 1000 } })
    await expectProblem(await send({ ...hello, content: { text: 'x'.repeat(2000) } }), 413, 'payload_too_large')
    expect(await storedIn(acme.namespaceId)).toEqual([])
    expect((await send({ ...hello, content: { text: 'x'.repeat(500) } })).status).toBe(202)
  })
})

describe('Idempotency-Key', () => {
  beforeEach(() => start())

  test('the same key and body replays the first response, same id, and stores one message', async () => {
    const headers = { 'idempotency-key': 'order-42' }
    const first = await send(hello, headers)
    expect(first.status).toBe(202)
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    const firstBody = await first.json()

    const again = await send(hello, headers)
    expect(again.status).toBe(202)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.json()).toEqual(firstBody)
    expect(await storedIn(acme.namespaceId)).toHaveLength(1)
  })

  test('a repeat replays even when the same input would now be refused: its terminal was removed since', async () => {
    const terminal = await gw.call('POST', '/v1/namespaces/acme/channels/sandbox/terminals', acme.key, { address: 'bot-1' })
    expect(terminal.status).toBe(201)
    // Another stays, so that `from` must name one of the channel's terminals.
    expect((await gw.call('POST', '/v1/namespaces/acme/channels/sandbox/terminals', acme.key, { address: 'bot-2' })).status).toBe(201)
    const { id } = (await terminal.json()) as { id: string }
    const fromBot = { ...hello, from: 'bot-1' }
    const headers = { 'idempotency-key': 'order-43' }
    const first = await send(fromBot, headers)
    expect(first.status).toBe(202)
    const firstBody = await first.json()
    expect((await gw.call('DELETE', `/v1/namespaces/acme/channels/sandbox/terminals/${id}`, acme.key)).status).toBe(204)
    const again = await send(fromBot, headers)
    expect(again.status).toBe(202)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.json()).toEqual(firstBody)
    // Under a new key the same input is refused: the terminal is gone.
    await expectProblem(await send(fromBot, { 'idempotency-key': 'order-44' }), 422, 'validation_failed')
    expect(await storedIn(acme.namespaceId)).toHaveLength(1)
  })

  test('the namespace may be named by slug or id: the same key and body still replays', async () => {
    const headers = { 'idempotency-key': 'order-43' }
    const first = await send(hello, headers)
    const byId = await gw.call('POST', `/v1/namespaces/${acme.namespaceId}/messages`, acme.key, hello, headers)
    expect(byId.status).toBe(202)
    expect(byId.headers.get('idempotent-replayed')).toBe('true')
    expect(await byId.json()).toEqual(await first.json())
    expect(await storedIn(acme.namespaceId)).toHaveLength(1)
  })

  test('the same body with its keys in another order (at any depth) is the same request: replayed', async () => {
    const headers = { 'idempotency-key': 'order-44' }
    const body = { channel: 'sandbox', to: 'alice@example.com', content: { text: 'hi', subject: 's' }, metadata: { b: '2', a: '1' } }
    const first = await send(body, headers)
    expect(first.status).toBe(202)
    const reordered = { metadata: { a: '1', b: '2' }, content: { subject: 's', text: 'hi' }, to: 'alice@example.com', channel: 'sandbox' }
    const again = await send(reordered, headers)
    expect(again.status).toBe(202)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.json()).toEqual(await first.json())
    // A changed value in a reordered body is still another request.
    await expectProblem(await send({ ...reordered, metadata: { a: '1', b: '3' } }, headers), 422, 'idempotency_key_reused')
    expect(await storedIn(acme.namespaceId)).toHaveLength(1)
  })

  test('the same key with a different body is 422 idempotency_key_reused', async () => {
    const headers = { 'idempotency-key': 'order-42' }
    expect((await send(hello, headers)).status).toBe(202)
    await expectProblem(await send({ ...hello, to: 'bob@example.com' }, headers), 422, 'idempotency_key_reused')
    const rows = await storedIn(acme.namespaceId)
    expect(rows.map((r) => r.recipient)).toEqual(['alice@example.com'])
  })

  test('concurrent requests with one key create exactly one message (the other is 409 or a replay)', async () => {
    const headers = { 'idempotency-key': 'race' }
    const responses = await Promise.all([send(hello, headers), send(hello, headers), send(hello, headers)])
    const accepted: string[] = []
    for (const res of responses) {
      if (res.status === 409) await expectProblem(res, 409, 'idempotency_key_in_flight')
      else {
        expect(res.status).toBe(202)
        accepted.push(((await res.json()) as { id: string }).id)
      }
    }
    const rows = await storedIn(acme.namespaceId)
    expect(rows).toHaveLength(1)
    expect(accepted.length).toBeGreaterThanOrEqual(1)
    expect(new Set(accepted)).toEqual(new Set([rows[0]!.id]))
  })

  test('a request whose key is still in flight is 409 idempotency_key_in_flight; after it, a replay', async () => {
    // The first request is held at its commit, so it is certainly in flight when the second arrives.
    const hold = holdFirstWrite()
    const headers = { 'idempotency-key': 'slow' }
    try {
      const first = send(hello, headers)
      await hold.reached
      await expectProblem(await send(hello, headers), 409, 'idempotency_key_in_flight')
      hold.release()
      expect((await first).status).toBe(202)
    } finally {
      hold.restore()
    }
    const replay = await send(hello, headers)
    expect(replay.status).toBe(202)
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(await storedIn(acme.namespaceId)).toHaveLength(1)
  })

  test('repeats of a finished request arriving together are all replays, never 409', async () => {
    const headers = { 'idempotency-key': 'done-long-ago' }
    const first = await send(hello, headers)
    expect(first.status).toBe(202)
    const { id } = (await first.json()) as { id: string }
    // The first repeat is held at its write, so it is in flight when the second arrives.
    const hold = holdFirstWrite()
    try {
      const repeat = send(hello, headers)
      await hold.reached
      const second = await send(hello, headers)
      expect(second.status).toBe(202)
      expect(second.headers.get('idempotent-replayed')).toBe('true')
      expect(((await second.json()) as { id: string }).id).toBe(id)
      hold.release()
      expect((await repeat).headers.get('idempotent-replayed')).toBe('true')
    } finally {
      hold.restore()
    }
    expect(await storedIn(acme.namespaceId)).toHaveLength(1)
  })

  test('keys are scoped to the namespace: the same key in two namespaces makes two messages', async () => {
    const umbrella = await gw.tenant('umbrella')
    await gw.channel(umbrella.namespaceId, 'sandbox')
    const headers = { 'idempotency-key': 'shared-key' }
    const a = (await (await send(hello, headers)).json()) as { id: string }
    const resB = await gw.call('POST', '/v1/namespaces/umbrella/messages', umbrella.key, hello, headers)
    expect(resB.status).toBe(202)
    expect(resB.headers.get('idempotent-replayed')).toBeNull()
    const b = (await resB.json()) as { id: string }
    expect(b.id).not.toBe(a.id)
    expect((await storedIn(acme.namespaceId)).map((r) => r.id)).toEqual([a.id])
    expect((await storedIn(umbrella.namespaceId)).map((r) => r.id)).toEqual([b.id])
  })

  test('a request that failed validation does not use up its key', async () => {
    const headers = { 'idempotency-key': 'retry-me' }
    await expectProblem(await send({ ...hello, channel: 'nope' }, headers), 422, 'validation_failed')
    const res = await send(hello, headers)
    expect(res.status).toBe(202)
    expect(res.headers.get('idempotent-replayed')).toBeNull()
  })

  test('after 24 hours the key is free again', async () => {
    const headers = { 'idempotency-key': 'daily' }
    const first = (await (await send(hello, headers)).json()) as { id: string }
    const later = Date.now() + 24 * 3_600_000 + 60_000
    gw.deps.now = () => later
    const res = await send(hello, headers)
    expect(res.status).toBe(202)
    expect(res.headers.get('idempotent-replayed')).toBeNull()
    expect(((await res.json()) as { id: string }).id).not.toBe(first.id)
    expect(await storedIn(acme.namespaceId)).toHaveLength(2)
  })

  test('the same body with its keys in another order is the same request', async () => {
    const headers = { 'idempotency-key': 'order-44' }
    const first = await send({ channel: 'sandbox', to: 'a@example.com', content: { text: 'x', subject: 'y' } }, headers)
    const reordered = await send({ content: { subject: 'y', text: 'x' }, to: 'a@example.com', channel: 'sandbox' }, headers)
    expect(reordered.headers.get('idempotent-replayed')).toBe('true')
    expect(await reordered.json()).toEqual(await first.json())
  })

  test('a key that is not visible ASCII is refused', async () => {
    const problem = await expectProblem(await send(hello, { 'idempotency-key': 'clé' }), 422, 'validation_failed')
    expect(fieldsOf(problem)).toEqual(['idempotency-key'])
  })
})

describe('batches', () => {
  const BATCH = `${MESSAGES}/batch`

  test('accepts every message, answers in request order and stores them all', async () => {
    await start()
    const to = ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com']
    const res = await gw.call('POST', BATCH, acme.key, {
      messages: to.map((address, i) => ({ ...hello, to: address, ...(i === 2 ? { send_at: inAnHour() } : {}) })),
    })
    expect(res.status).toBe(202)
    const { data } = (await res.json()) as { data: { id: string; status: string }[] }
    expect(data.map((d) => d.status)).toEqual(['queued', 'queued', 'scheduled', 'queued'])
    const rows = new Map((await storedIn(acme.namespaceId)).map((r) => [r.id, r]))
    expect(rows.size).toBe(4)
    expect(data.map((d) => rows.get(d.id)?.recipient)).toEqual(to)
  })

  test('one bad message rejects the whole batch with every bad item named, and stores nothing', async () => {
    await start()
    const problem = await expectProblem(
      await gw.call('POST', BATCH, acme.key, {
        messages: [hello, { ...hello, to: '' }, hello, { ...hello, content: { text: 'x', foo: 1 } }],
      }),
      422,
      'validation_failed',
    )
    expect(fieldsOf(problem)).toEqual(['messages.1.to', 'messages.3.content.foo'])
    expect(await storedIn(acme.namespaceId)).toEqual([])
  })

  test('errors found after the schema (unknown channel, bad base64) are named per item too', async () => {
    await start()
    const problem = await expectProblem(
      await gw.call('POST', BATCH, acme.key, {
        messages: [
          hello,
          hello,
          { ...hello, channel: 'nope' },
          { ...hello, content: { text: 'x', attachments: [{ filename: 'a', content_base64: '!!!!' }] } },
        ],
      }),
      422,
      'validation_failed',
    )
    expect(fieldsOf(problem)).toEqual(['messages.2.channel', 'messages.3.content.attachments.0.content_base64'])
    expect(await storedIn(acme.namespaceId)).toEqual([])
  })

  test('more messages than messages.max_batch is 422 on `messages`, nothing stored', async () => {
    await start({ messages: { max_batch: 3 } })
    const problem = await expectProblem(
      await gw.call('POST', BATCH, acme.key, { messages: [hello, hello, hello, hello] }),
      422,
      'validation_failed',
    )
    expect(fieldsOf(problem)).toEqual(['messages'])
    expect(await storedIn(acme.namespaceId)).toEqual([])
    expect((await gw.call('POST', BATCH, acme.key, { messages: [hello, hello, hello] })).status).toBe(202)
  })

  test('the default limit is 1,000 messages', async () => {
    await start()
    const problem = await expectProblem(
      await gw.call('POST', BATCH, acme.key, { messages: Array.from({ length: 1001 }, () => hello) }),
      422,
      'validation_failed',
    )
    expect(fieldsOf(problem)).toEqual(['messages'])
    expect(await storedIn(acme.namespaceId)).toEqual([])
  })

  test('an empty batch and an unknown top-level field are refused', async () => {
    await start()
    expect(fieldsOf(await expectProblem(await gw.call('POST', BATCH, acme.key, { messages: [] }), 422, 'validation_failed'))).toEqual([
      'messages',
    ])
    expect(
      fieldsOf(await expectProblem(await gw.call('POST', BATCH, acme.key, { messages: [hello], dry_run: true }), 422, 'validation_failed')),
    ).toEqual(['dry_run'])
  })

  test('a batch replays under its Idempotency-Key', async () => {
    await start()
    const headers = { 'idempotency-key': 'batch-1' }
    const body = { messages: [hello, { ...hello, to: 'b@example.com' }] }
    const first = await (await gw.call('POST', BATCH, acme.key, body, headers)).json()
    const again = await gw.call('POST', BATCH, acme.key, body, headers)
    expect(again.status).toBe(202)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.json()).toEqual(first)
    expect(await storedIn(acme.namespaceId)).toHaveLength(2)
  })
})

describe('listing', () => {
  beforeEach(() => start())

  type Page = { data: { id: string; to: string; status: string; direction: string }[]; next_cursor: string | null }
  const list = async (query: string) => {
    const res = await gw.call('GET', `${MESSAGES}?${query}`, acme.key)
    expect(res.status).toBe(200)
    return (await res.json()) as Page
  }
  const recipients = (page: Page) => page.data.map((m) => m.to)

  test('pages of 3 over 7 messages come 3, 3, 1, newest first, without duplicates, then next_cursor null', async () => {
    for (let i = 0; i < 7; i++) expect((await send({ ...hello, to: `r${i}` })).status).toBe(202)
    const first = await list('limit=3')
    expect(recipients(first)).toEqual(['r6', 'r5', 'r4'])
    expect(first.next_cursor).toBeString()
    const second = await list(`limit=3&cursor=${first.next_cursor}`)
    expect(recipients(second)).toEqual(['r3', 'r2', 'r1'])
    expect(second.next_cursor).toBeString()
    const third = await list(`limit=3&cursor=${second.next_cursor}`)
    expect(recipients(third)).toEqual(['r0'])
    expect(third.next_cursor).toBeNull()
    const ids = [...first.data, ...second.data, ...third.data].map((m) => m.id)
    expect(new Set(ids).size).toBe(7)
  })

  test('a page that ends exactly at the last message has next_cursor null', async () => {
    for (let i = 0; i < 3; i++) await send({ ...hello, to: `r${i}` })
    const page = await list('limit=3')
    expect(recipients(page)).toEqual(['r2', 'r1', 'r0'])
    expect(page.next_cursor).toBeNull()
  })

  test('filters by status, channel, recipient and direction', async () => {
    const otherId = await gw.channel(acme.namespaceId, 'other')
    await send({ ...hello, to: 'a' })
    await send({ ...hello, to: 'b', send_at: inAnHour() })
    await send({ ...hello, to: 'c', channel: 'other' })
    await gw.deps.store.tx((tx) =>
      tx.insert(messages).values({
        id: `msg_${Bun.randomUUIDv7().replaceAll('-', '')}`,
        namespaceId: acme.namespaceId,
        channelId: sandboxId,
        direction: 'inbound',
        status: 'received',
        sender: 'd',
        recipient: 'bot',
        content: { text: 'a reply' },
        createdAt: Date.now(),
        updatedAt: Date.now(),
      }),
    )
    expect(recipients(await list('status=scheduled'))).toEqual(['b'])
    expect(recipients(await list('status=queued'))).toEqual(['c', 'a'])
    expect(recipients(await list('channel=other'))).toEqual(['c'])
    expect(recipients(await list(`channel=${otherId}`))).toEqual(['c'])
    expect(recipients(await list('recipient=a'))).toEqual(['a'])
    expect(recipients(await list('direction=inbound'))).toEqual(['bot'])
    expect(recipients(await list('direction=outbound'))).toEqual(['c', 'b', 'a'])
    expect(recipients(await list('direction=outbound&status=queued&channel=sandbox'))).toEqual(['a'])
  })

  test('since and until bound the creation time, both inclusive', async () => {
    const t0 = Date.parse('2030-01-01T00:00:00Z')
    for (const [i, hour] of [0, 1, 2].entries()) {
      gw.deps.now = () => t0 + hour * 3_600_000
      await send({ ...hello, to: `h${i}` })
    }
    expect(recipients(await list('since=2030-01-01T01:00:00Z'))).toEqual(['h2', 'h1'])
    expect(recipients(await list('until=2030-01-01T01:00:00Z'))).toEqual(['h1', 'h0'])
    expect(recipients(await list('since=2030-01-01T00:30:00Z&until=2030-01-01T01:30:00Z'))).toEqual(['h1'])
    expect(recipients(await list(`since=${encodeURIComponent('2030-01-01T02:00:00+01:00')}`))).toEqual(['h2', 'h1'])
  })

  test('bad filters are 422 naming the parameter', async () => {
    const bad = async (query: string, field: string) =>
      expect(fieldsOf(await expectProblem(await gw.call('GET', `${MESSAGES}?${query}`, acme.key), 422, 'validation_failed'))).toEqual([field])
    await bad('limit=0', 'limit')
    await bad('limit=101', 'limit')
    await bad('limit=ten', 'limit')
    await bad('status=lost', 'status')
    await bad('direction=sideways', 'direction')
    await bad('since=yesterday', 'since')
    await bad('channel=nope', 'channel')
    await bad('colour=red', 'colour')
  })
})

describe('tenancy', () => {
  beforeEach(() => start())

  test("another namespace's message is 404 through one's own namespace, and never listed", async () => {
    const umbrella = await gw.tenant('umbrella')
    await gw.channel(umbrella.namespaceId, 'sandbox')
    const theirs = (await (
      await gw.call('POST', '/v1/namespaces/umbrella/messages', umbrella.key, { ...hello, send_at: inAnHour() })
    ).json()) as { id: string }

    const res = await gw.call('GET', `${MESSAGES}/${theirs.id}`, acme.key)
    const problem = await expectProblem(res, 404, 'message_not_found')
    expect(JSON.stringify(problem)).not.toContain('umbrella')
    await expectProblem(await gw.call('POST', `${MESSAGES}/${theirs.id}/cancel`, acme.key), 404, 'message_not_found')
    expect((await (await gw.call('GET', MESSAGES, acme.key)).json()) as unknown).toEqual({ data: [], next_cursor: null })
    // Their message was not touched by the attempt to cancel it.
    const [row] = await storedIn(umbrella.namespaceId)
    expect(row!.status).toBe('scheduled')
  })

  test("a channel of another namespace cannot be sent through, even by id", async () => {
    const umbrella = await gw.tenant('umbrella')
    const theirChannel = await gw.channel(umbrella.namespaceId, 'private')
    const problem = await expectProblem(await send({ ...hello, channel: theirChannel }), 422, 'validation_failed')
    expect(fieldsOf(problem)).toEqual(['channel'])
    expect(await storedIn(umbrella.namespaceId)).toEqual([])
  })
})
