/**
 * The dispatcher against a real database file: retries with backoff to failure, permanent
 * failures, the http connector against a local receiver, scheduled sends, paused channels,
 * lease recovery after a crash, and graceful shutdown.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { updateChannel } from '../src/domain/channels'
import { claimDueMessages } from '../src/domain/messages/dispatch'
import { sendMessage } from '../src/domain/messages/send'
import { Engine } from '../src/engine/engine'
import { openGateway } from '../src/gateway'
import { silentLogger } from '../src/lib/log'
import { messages } from '../src/store/schema'
import { startHttpReceiver } from './fakes/http-receiver'
import { eventually, startTestGateway, type TestGateway } from './helpers/gateway'

let gw: TestGateway
let ns: Awaited<ReturnType<TestGateway['tenant']>>
beforeEach(async () => {
  gw = await startTestGateway()
  ns = await gw.tenant('acme')
  await gw.channel(ns.namespaceId, 'sandbox')
})
afterEach(() => gw.close())

const send = async (options: Record<string, unknown> = {}, channel = 'sandbox', extra: Record<string, unknown> = {}) =>
  ((await sendMessage(gw.deps, ns.namespaceId, { channel, to: 'bob@example.com', content: { text: 'hello' }, options, ...extra })).body as {
    id: string
  }).id

const row = async (id: string) => (await gw.deps.store.read.select().from(messages).where(eq(messages.id, id)))[0]!
const timeline = async (id: string) =>
  ((await (await gw.call('GET', `/v1/namespaces/acme/messages/${id}`, ns.key)).json()) as any).events as {
    status: string
    attempt: number | null
    error: { code: string; class: string } | null
  }[]
const final = (id: string) => eventually(async () => ['sent', 'delivered', 'read', 'failed'].includes((await row(id)).status) && row(id))

describe('retries', () => {
  test('transient failures are retried until the outcome, with an event per attempt', async () => {
    await gw.startEngine()
    const id = await send({ sandbox: { failures: 2 } })
    const done = await final(id)
    expect(done.status).toBe('delivered')
    expect(done.attempts).toBe(3)
    const events = await timeline(id)
    expect(events.map((e) => `${e.status}${e.attempt ? `#${e.attempt}` : ''}`)).toEqual([
      'queued',
      'sending#1',
      'queued#1',
      'sending#2',
      'queued#2',
      'sending#3',
      'sent#3',
      'delivered#3',
    ])
    expect(events[2]!.error).toMatchObject({ code: 'sandbox_transient', class: 'transient' })
  })

  test("a message that keeps failing transiently fails after the channel's max attempts", async () => {
    await updateChannel(gw.deps, ns.namespaceId, 'sandbox', { max_attempts: 3 })
    await gw.startEngine()
    const id = await send({ sandbox: { outcome: 'transient' } })
    const done = await final(id)
    expect(done.status).toBe('failed')
    expect(done.attempts).toBe(3)
    expect(done.errorCode).toBe('sandbox_transient')
    expect(done.errorMessage).toContain('gave up after 3 attempts')
    expect(done.nextAttemptAt).toBeNull()
    expect((await timeline(id)).filter((e) => e.status === 'sending')).toHaveLength(3)
  })

  test('a message older than the max age is not retried again', async () => {
    await updateChannel(gw.deps, ns.namespaceId, 'sandbox', { max_age_seconds: 1 })
    await gw.startEngine({ backoff_base_ms: 5000, backoff_max_ms: 5000 })
    const id = await send({ sandbox: { outcome: 'transient' } })
    const done = await final(id)
    expect(done.status).toBe('failed')
    expect(done.attempts).toBe(1)
    expect(done.errorMessage).toContain('older than 1 s')
  })

  test('a permanent failure fails at once', async () => {
    await gw.startEngine()
    const id = await send({ sandbox: { outcome: 'failed' } })
    const done = await final(id)
    expect(done).toMatchObject({ status: 'failed', attempts: 1, errorCode: 'sandbox_failed' })
    expect((await timeline(id)).map((e) => e.status)).toEqual(['queued', 'sending', 'failed'])
  })
})

describe('http channel', () => {
  test('POSTs the message to the receiver; a 5xx is retried, then sent', async () => {
    const receiver = startHttpReceiver({
      respond: (_req, n) => (n === 1 ? new Response('busy', { status: 503 }) : Response.json({ id: 'remote-42' })),
    })
    try {
      await gw.channel(ns.namespaceId, 'hook', 'http', { url: `${receiver.url}inbox`, headers: { authorization: 'Bearer s3cret' } })
      await gw.startEngine()
      const id = await send({}, 'hook', { metadata: { order: '7' } })
      const done = await final(id)
      expect(done).toMatchObject({ status: 'sent', attempts: 2, providerMessageId: 'remote-42' })
      expect(receiver.received).toHaveLength(2)
      const last = receiver.received[1]!
      expect(last.path).toBe('/inbox')
      expect(last.headers['idempotency-key']).toBe(id)
      expect(last.headers.authorization).toBe('Bearer s3cret')
      expect(last.headers['user-agent']).toStartWith('omnigate/')
      expect(last.body).toMatchObject({
        id,
        namespace: 'acme',
        channel: 'hook',
        to: 'bob@example.com',
        content: { text: 'hello' },
        metadata: { order: '7' },
      })
    } finally {
      await receiver.stop()
    }
  })

  test('a 4xx from the receiver fails the message permanently', async () => {
    const receiver = startHttpReceiver({ respond: () => new Response('no such user', { status: 404 }) })
    try {
      await gw.channel(ns.namespaceId, 'hook', 'http', { url: receiver.url })
      await gw.startEngine()
      const done = await final(await send({}, 'hook'))
      expect(done).toMatchObject({ status: 'failed', attempts: 1, errorCode: 'http_404' })
      expect(receiver.received).toHaveLength(1)
    } finally {
      await receiver.stop()
    }
  })
})

describe('attempts that go wrong', () => {
  test('successes are recorded together, and one that cannot be recorded does not keep the others from it', async () => {
    const ids = [await send(), await send(), await send()]
    // The store refuses the `sent` event of the middle message (a stand-in for any failure of
    // one row): the shared write fails, and each success is then recorded on its own.
    await gw.deps.store.exec(
      `CREATE TRIGGER refuse_one BEFORE INSERT ON message_events WHEN NEW.message_id = '${ids[1]}' AND NEW.status = 'sent' BEGIN SELECT RAISE(ABORT, 'refused'); END`,
    )
    await gw.startEngine()
    await eventually(async () => (await row(ids[0]!)).status === 'delivered' && (await row(ids[2]!)).status === 'delivered')
    const refused = await row(ids[1]!)
    // Not recorded: still leased, so it is sent again once the lease runs out.
    expect(refused).toMatchObject({ status: 'sending', leaseOwner: expect.any(String) })
    expect((await timeline(ids[0]!)).map((e) => e.status)).toEqual(['queued', 'sending', 'sent', 'delivered'])
  })

  test('an attempt past send_timeout_ms is abandoned and its request cancelled before the retry', async () => {
    const seen: { n: number; aborted: boolean }[] = []
    let n = 0
    const slow = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      async fetch(req) {
        const entry = { n: ++n, aborted: false }
        seen.push(entry)
        if (entry.n > 1) return Response.json({ id: 'second-try' })
        // The first request hangs until the gateway hangs up on it.
        await new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve()))
        entry.aborted = true
        return new Response(null, { status: 499 })
      },
    })
    try {
      await gw.channel(ns.namespaceId, 'slow', 'http', { url: `http://127.0.0.1:${slow.port}/`, timeout_ms: 30_000 })
      await gw.startEngine({ send_timeout_ms: 300 })
      const done = await final(await send({}, 'slow'))
      expect(done).toMatchObject({ status: 'sent', attempts: 2, providerMessageId: 'second-try' })
      expect(seen.map((e) => e.aborted)).toEqual([true, false])
      const events = await timeline(done.id)
      expect(events.find((e) => e.status === 'queued' && e.error)?.error).toMatchObject({ code: 'timeout', class: 'transient' })
    } finally {
      await slow.stop(true)
    }
  })

  test('a channel whose config cannot be opened fails its messages after max attempts instead of sticking', async () => {
    await updateChannel(gw.deps, ns.namespaceId, 'sandbox', { max_attempts: 2 })
    const { channels } = await import('../src/store/schema')
    await gw.deps.store.tx((tx) => tx.update(channels).set({ configEnc: 'v1.garbage.garbage' }))
    await gw.startEngine()
    const done = await final(await send())
    expect(done).toMatchObject({ status: 'failed', attempts: 2, leaseOwner: null, errorCode: 'connector_error' })
    expect(done.errorMessage).toContain('cannot be decrypted')
  })

  test('max age counts from send_at, so a message scheduled ahead still gets its retries', async () => {
    await updateChannel(gw.deps, ns.namespaceId, 'sandbox', { max_age_seconds: 1 })
    await gw.startEngine()
    const id = await send({ sandbox: { failures: 1 } }, 'sandbox', { send_at: new Date(Date.now() + 1500).toISOString() })
    const done = await final(id)
    expect(done).toMatchObject({ status: 'delivered', attempts: 2 })
  })

  test('a message accepted with a send_at already past counts its max age from its acceptance', async () => {
    // Two hours late (a client's lagging queue, a replayed job): sent now, and still retried.
    await updateChannel(gw.deps, ns.namespaceId, 'sandbox', { max_age_seconds: 3600 })
    await gw.startEngine()
    const id = await send({ sandbox: { failures: 1 } }, 'sandbox', { send_at: new Date(Date.now() - 2 * 3600_000).toISOString() })
    const done = await final(id)
    expect(done).toMatchObject({ status: 'delivered', attempts: 2 })
  })
})

describe('scheduling and channel state', () => {
  test('a scheduled message is sent once its time comes', async () => {
    await gw.startEngine()
    const sendAt = new Date(Date.now() + 400).toISOString()
    const id = await send({}, 'sandbox', { send_at: sendAt })
    expect((await row(id)).status).toBe('scheduled')
    const done = await final(id)
    expect(done.status).toBe('delivered')
    expect((await timeline(id)).map((e) => e.status)).toEqual(['scheduled', 'queued', 'sending', 'sent', 'delivered'])
  })

  test('a paused channel holds its messages until it is resumed', async () => {
    await updateChannel(gw.deps, ns.namespaceId, 'sandbox', { status: 'paused' })
    await gw.startEngine()
    const id = await send()
    await Bun.sleep(200)
    expect((await row(id)).status).toBe('queued')
    await updateChannel(gw.deps, ns.namespaceId, 'sandbox', { status: 'active' })
    expect((await final(id)).status).toBe('delivered')
  })
})

describe('crash and shutdown', () => {
  test('a second instance picks up a message whose lease expired after a crash', async () => {
    const id = await send()
    // The "crashed" instance claims the message and is never heard from again.
    const claimed = await claimDueMessages(gw.deps.store, 'crashed-instance', 10, 300, Date.now())
    expect(claimed.map((m) => m.id)).toEqual([id])
    expect((await row(id)).leaseOwner).toBe('crashed-instance')

    // A second instance with its own store connection on the same database file.
    const other = await openGateway({ config: gw.config, demo: false, log: silentLogger, migrate: false })
    const engine = new Engine(other, gw.config, silentLogger)
    try {
      await engine.start()
      const done = await final(id)
      expect(done.status).toBe('delivered')
      expect(done.attempts).toBe(2)
      expect(done.leaseOwner).toBeNull()
      expect((await timeline(id)).filter((e) => e.status === 'sending').map((e) => e.attempt)).toEqual([1, 2])
    } finally {
      await engine.stop()
      await other.store.close()
    }
  })

  test('a lease that still holds is not claimed by another instance', async () => {
    const id = await send()
    await claimDueMessages(gw.deps.store, 'busy-instance', 10, 60_000, Date.now())
    expect(await claimDueMessages(gw.deps.store, 'other-instance', 10, 60_000, Date.now())).toEqual([])
    expect((await row(id)).leaseOwner).toBe('busy-instance')
  })

  test('shutdown lets a send that finishes in time complete', async () => {
    const engine = await gw.startEngine()
    const id = await send({ sandbox: { delay_ms: 300 } })
    await eventually(async () => (await row(id)).status === 'sending')
    await engine.stop()
    expect((await row(id)).status).toBe('delivered')
  })

  test('shutdown releases a send that does not finish in time, so it is due again at once', async () => {
    const engine = await gw.startEngine({ shutdown_timeout_ms: 100 })
    const id = await send({ sandbox: { delay_ms: 900 } })
    await eventually(async () => (await row(id)).status === 'sending')
    await engine.stop()
    const released = await row(id)
    expect(released).toMatchObject({ status: 'queued', leaseOwner: null, leaseUntil: null })
    expect(released.nextAttemptAt).toBeLessThanOrEqual(Date.now())
    expect((await timeline(id)).at(-1)).toMatchObject({ status: 'queued', error: { code: 'shutdown' } })
    // The abandoned attempt finishing later does not overwrite the released state.
    await Bun.sleep(1000)
    expect((await row(id)).status).toBe('queued')
  })

  test('stopping one of two engines on one gateway leaves the other woken by sends', async () => {
    // Both poll a minute apart: only the send's wake-up can get the message out in time.
    const first = await gw.startEngine({ poll_interval_ms: 60_000 })
    await gw.startEngine({ poll_interval_ms: 60_000 })
    await first.stop()
    await Bun.sleep(50)
    const id = await send()
    await eventually(async () => (await row(id)).status === 'delivered', 2_000)
  })
})
