/**
 * Rate limits and quotas (issue #6): per-namespace and per-application request rates (429 with
 * Retry-After and RateLimit-* headers), message quotas per UTC day and month counted exactly in
 * the accepting write, and the per-channel send rate the dispatcher keeps to.
 * Request and quota tests freeze `deps.now`, so nothing depends on how fast the machine is.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { and, asc, count, eq } from 'drizzle-orm'
import { createApplication } from '../../src/domain/identity/applications'
import { createApiKey } from '../../src/domain/identity/api-keys'
import { invalidateLimitsCache } from '../../src/domain/identity/quotas'
import { messageEvents, messages, namespaces, usageCounters } from '../../src/store/schema'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

type Problem = { type: string; code: string; title: string; status: number; detail: string }

async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toStartWith('application/problem+json')
  const body = (await res.json()) as Problem
  expect(body).toMatchObject({ type: `/problems/${code}`, code, status })
  return body
}

const rateHeaders = (res: Response) => ({
  limit: res.headers.get('ratelimit-limit'),
  remaining: res.headers.get('ratelimit-remaining'),
  reset: res.headers.get('ratelimit-reset'),
})

describe('request rate limits', () => {
  let gw: TestGateway
  let clock = Date.UTC(2026, 0, 15, 12, 0, 0)
  beforeAll(async () => {
    gw = await startTestGateway({
      limits: { namespace_requests_per_second: 3, application_requests_per_second: 0 },
      // A namespace declared with its own rate, as an operator would in [[namespaces]].
      namespaces: [
        {
          slug: 'declared',
          quotas: { requests_per_second: 1 },
          applications: [{ name: 'svc', api_keys: [{ key: `og_live_${'d'.repeat(32)}` }] }],
        },
      ],
    })
    gw.deps.now = () => clock
  })
  afterAll(() => gw.close())

  test('a namespace gets its rate, then 429 rate_limited with Retry-After and RateLimit-* headers', async () => {
    const acme = await gw.tenant('acme')
    const seen = []
    for (let i = 0; i < 3; i++) {
      const res = await gw.call('GET', '/v1/namespaces/acme/channels', acme.key)
      expect(res.status).toBe(200)
      seen.push(rateHeaders(res))
    }
    expect(seen).toEqual([
      { limit: '3', remaining: '2', reset: '1' },
      { limit: '3', remaining: '1', reset: '1' },
      { limit: '3', remaining: '0', reset: '1' },
    ])
    const refused = await gw.call('GET', '/v1/namespaces/acme/channels', acme.key)
    const problem = await expectProblem(refused, 429, 'rate_limited')
    expect(problem.detail).toContain('namespace "acme"')
    expect(problem.detail).toContain('3 requests per second')
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(rateHeaders(refused)).toEqual({ limit: '3', remaining: '0', reset: '1' })
    // Every route of the namespace shares the bucket, writes included; nothing is written.
    const write = await gw.call('POST', '/v1/namespaces/acme/channels', acme.key, { name: 'blocked', type: 'sandbox' })
    await expectProblem(write, 429, 'rate_limited')
    expect((await gw.call('GET', '/v1/namespaces/acme/channels/blocked', acme.key)).status).toBe(429)

    // Another namespace is not affected.
    const umbrella = await gw.tenant('umbrella')
    const other = await gw.call('GET', '/v1/namespaces/umbrella/channels', umbrella.key)
    expect(other.status).toBe(200)
    expect(rateHeaders(other).remaining).toBe('2')

    // A third of a second later one token is back, and one only.
    clock += 334
    expect((await gw.call('GET', '/v1/namespaces/acme/channels', acme.key)).status).toBe(200)
    await expectProblem(await gw.call('GET', '/v1/namespaces/acme/channels', acme.key), 429, 'rate_limited')
    clock += 1000
    expect((await gw.call('GET', '/v1/namespaces/acme/channels/blocked', acme.key)).status).toBe(404)
  })

  test('an application over its own rate_limit is refused while another application of the namespace goes on', async () => {
    const ns = await gw.tenant('initech')
    const slow = await createApplication(gw.deps, ns.namespaceId, { name: 'slow', rateLimit: 1 })
    const slowKey = (await createApiKey(gw.deps, ns.namespaceId, { applicationId: slow.id })).secret
    clock += 5000
    expect((await gw.call('GET', '/v1/namespaces/initech/channels', slowKey)).status).toBe(200)
    const refused = await gw.call('GET', '/v1/namespaces/initech/channels', slowKey)
    const problem = await expectProblem(refused, 429, 'rate_limited')
    expect(problem.detail).toContain(`application ${slow.id}`)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(rateHeaders(refused)).toMatchObject({ limit: '1', remaining: '0' })
    // The other application still has the namespace's budget (3, one spent by `slow`).
    const ok = await gw.call('GET', '/v1/namespaces/initech/channels', ns.key)
    expect(ok.status).toBe(200)
    expect(rateHeaders(ok)).toMatchObject({ limit: '3', remaining: '1' })
    // A request refused by the application's bucket took nothing from the namespace's.
    expect((await gw.call('GET', '/v1/namespaces/initech/channels', ns.key)).status).toBe(200)
  })

  test('[limits] application_requests_per_second applies to applications without their own', async () => {
    const gw2 = await startTestGateway({ limits: { namespace_requests_per_second: 0, application_requests_per_second: 2 } })
    try {
      gw2.deps.now = () => 1_000_000
      const t = await gw2.tenant('acme')
      const second = await createApiKey(gw2.deps, t.namespaceId, { applicationId: (await createApplication(gw2.deps, t.namespaceId, { name: 'other' })).id })
      for (let i = 0; i < 2; i++) expect((await gw2.call('GET', '/v1/namespaces/acme/channels', t.key)).status).toBe(200)
      await expectProblem(await gw2.call('GET', '/v1/namespaces/acme/channels', t.key), 429, 'rate_limited')
      const other = await gw2.call('GET', '/v1/namespaces/acme/channels', second.secret)
      expect(other.status).toBe(200)
      expect(rateHeaders(other)).toEqual({ limit: '2', remaining: '1', reset: '1' })
    } finally {
      await gw2.close()
    }
  })

  test("a namespace's declared quotas.requests_per_second overrides the default", async () => {
    clock += 5000
    const key = `og_live_${'d'.repeat(32)}`
    const first = await gw.call('GET', '/v1/namespaces/declared/channels', key)
    expect(first.status).toBe(200)
    expect(rateHeaders(first)).toEqual({ limit: '1', remaining: '0', reset: '1' })
    await expectProblem(await gw.call('GET', '/v1/namespaces/declared/channels', key), 429, 'rate_limited')
  })

  test('unauthenticated and cross-namespace requests are refused before the limiter and spend nothing', async () => {
    clock += 5000
    const acme = await gw.tenant('acme-2')
    const umbrella = await gw.tenant('umbrella-2')
    for (let i = 0; i < 10; i++) {
      expect((await gw.call('GET', '/v1/namespaces/acme-2/channels', null)).status).toBe(401)
      expect((await gw.call('GET', '/v1/namespaces/acme-2/channels', umbrella.key)).status).toBe(404)
    }
    expect(rateHeaders(await gw.call('GET', '/v1/namespaces/acme-2/channels', acme.key)).remaining).toBe('2')
  })
})

describe('message quotas', () => {
  let gw: TestGateway
  let acme: Awaited<ReturnType<TestGateway['tenant']>>
  let clock = Date.UTC(2026, 0, 30, 10, 0, 0)
  const send = (n: number, headers: Record<string, string> = {}, key = acme.key, ns = 'acme') =>
    n === 1
      ? gw.call('POST', `/v1/namespaces/${ns}/messages`, key, { channel: 'alerts', to: 'alice', content: { text: 'hi' } }, headers)
      : gw.call('POST', `/v1/namespaces/${ns}/messages/batch`, key, { messages: Array.from({ length: n }, (_, i) => ({ channel: 'alerts', to: `r${i}`, content: { text: 'hi' } })) }, headers)
  const stored = async (namespaceId = acme.namespaceId) =>
    (await gw.deps.store.read.select({ n: count() }).from(messages).where(eq(messages.namespaceId, namespaceId)))[0]!.n
  const counter = async (period: string, namespaceId = acme.namespaceId) =>
    (await gw.deps.store.read.select().from(usageCounters).where(and(eq(usageCounters.namespaceId, namespaceId), eq(usageCounters.period, period))))[0]?.messages ?? 0

  beforeAll(async () => {
    gw = await startTestGateway({ limits: { namespace_requests_per_second: 0, messages_per_day: 5, messages_per_month: 8 } })
    gw.deps.now = () => clock
    acme = await gw.tenant('acme')
    await gw.channel(acme.namespaceId, 'alerts')
  })
  afterAll(() => gw.close())

  test('a batch counts its size; one that would go over the day is refused whole and stores nothing', async () => {
    expect((await send(3)).status).toBe(202)
    expect(await counter('day:2026-01-30')).toBe(3)
    expect(await counter('month:2026-01')).toBe(3)

    const refused = await send(3)
    const problem = await expectProblem(refused, 429, 'quota_exceeded')
    expect(problem.detail).toContain('daily message quota of 5 (2026-01-30, UTC) has 2 left and this request has 3')
    expect(problem.detail).toContain('resets at 2026-01-31T00:00:00.000Z')
    expect(refused.headers.get('retry-after')).toBe(String(14 * 3600))
    expect(await stored()).toBe(3)
    expect(await counter('day:2026-01-30')).toBe(3)

    // What fits is still accepted, up to the quota exactly.
    expect((await send(2)).status).toBe(202)
    const exhausted = await expectProblem(await send(1), 429, 'quota_exceeded')
    expect(exhausted.detail).toContain('is used up')
    expect(await stored()).toBe(5)
  })

  test('an idempotent replay is not counted again', async () => {
    clock = Date.UTC(2026, 0, 31, 0, 0, 0) // the day boundary: a new day, same month
    const first = await send(1, { 'idempotency-key': 'order-1' })
    expect(first.status).toBe(202)
    const replay = await send(1, { 'idempotency-key': 'order-1' })
    expect(replay.status).toBe(202)
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(await counter('day:2026-01-31')).toBe(1)
    expect(await counter('month:2026-01')).toBe(6)
  })

  test('the month quota holds across days and resets with the calendar month', async () => {
    const refused = await send(3)
    const problem = await expectProblem(refused, 429, 'quota_exceeded')
    expect(problem.detail).toContain('monthly message quota of 8 (2026-01, UTC)')
    expect(problem.detail).toContain('resets at 2026-02-01T00:00:00.000Z')
    expect(refused.headers.get('retry-after')).toBe(String(24 * 3600))
    expect((await send(2)).status).toBe(202)
    await expectProblem(await send(1), 429, 'quota_exceeded')

    clock = Date.UTC(2026, 1, 1, 0, 0, 0) - 1
    await expectProblem(await send(1), 429, 'quota_exceeded')
    clock += 1
    expect((await send(1)).status).toBe(202)
    expect(await counter('month:2026-02')).toBe(1)
    expect(await stored()).toBe(9)
  })

  test('concurrent requests are counted exactly: no more than the quota gets through', async () => {
    clock = Date.UTC(2026, 2, 10, 9, 0, 0)
    const results = await Promise.all(Array.from({ length: 20 }, () => send(1)))
    const statuses = results.map((r) => r.status)
    expect(statuses.filter((s) => s === 202)).toHaveLength(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(15)
    expect(await counter('day:2026-03-10')).toBe(5)
    expect(await stored()).toBe(14)
  })

  test('a namespace may have its own quotas (settings.quotas); others keep the defaults', async () => {
    clock = Date.UTC(2026, 3, 1, 9, 0, 0)
    const small = await gw.tenant('small')
    await gw.channel(small.namespaceId, 'alerts')
    await gw.deps.store.tx((tx) =>
      tx.update(namespaces).set({ settings: { quotas: { messages_per_day: 1, messages_per_month: 0 } } }).where(eq(namespaces.id, small.namespaceId)),
    )
    invalidateLimitsCache()
    expect((await send(1, {}, small.key, 'small')).status).toBe(202)
    const problem = await expectProblem(await send(1, {}, small.key, 'small'), 429, 'quota_exceeded')
    expect(problem.detail).toContain('daily message quota of 1')
    expect(await stored(small.namespaceId)).toBe(1)
    // acme still has its default 5 a day.
    expect((await send(5)).status).toBe(202)
  })

  test('0 means unlimited', async () => {
    const gw2 = await startTestGateway({ limits: { messages_per_day: 0, messages_per_month: 0 } })
    try {
      const t = await gw2.tenant('free')
      await gw2.channel(t.namespaceId, 'alerts')
      const batch = { messages: Array.from({ length: 50 }, (_, i) => ({ channel: 'alerts', to: `r${i}`, content: { text: 'x' } })) }
      for (let i = 0; i < 3; i++) expect((await gw2.call('POST', '/v1/namespaces/free/messages/batch', t.key, batch)).status).toBe(202)
    } finally {
      await gw2.close()
    }
  })
})

describe('per-channel send rate', () => {
  let gw: TestGateway
  beforeAll(async () => {
    gw = await startTestGateway()
  })
  afterAll(() => gw.close())

  test('rate_limit is set on create and PATCH, and null removes it', async () => {
    const t = await gw.tenant('acme')
    const created = await gw.call('POST', '/v1/namespaces/acme/channels', t.key, { name: 'sms', type: 'sandbox', rate_limit: 3 })
    expect(created.status).toBe(201)
    expect(((await created.json()) as { rate_limit: number }).rate_limit).toBe(3)
    const cleared = await gw.call('PATCH', '/v1/namespaces/acme/channels/sms', t.key, { rate_limit: null })
    expect(((await cleared.json()) as { rate_limit: number | null }).rate_limit).toBeNull()
    for (const bad of [0, -1, 1.5, '2'] as unknown[]) {
      const res = await gw.call('PATCH', '/v1/namespaces/acme/channels/sms', t.key, { rate_limit: bad })
      expect(res.status).toBe(422)
      expect(((await res.json()) as { errors: { field: string }[] }).errors[0]!.field).toBe('rate_limit')
    }
  })

  test('the dispatcher never sends faster than the rate, and waiting costs no attempt', async () => {
    const t = await gw.tenant('rated')
    const res = await gw.call('POST', '/v1/namespaces/rated/channels', t.key, { name: 'slow', type: 'sandbox', rate_limit: 2 })
    expect(res.status).toBe(201)
    const started = Date.now()
    const batch = await gw.call('POST', '/v1/namespaces/rated/messages/batch', t.key, {
      messages: Array.from({ length: 4 }, (_, i) => ({ channel: 'slow', to: `r${i}`, content: { text: String(i) } })),
    })
    expect(batch.status).toBe(202)
    await gw.startEngine({ concurrency: 8 })
    const done = await eventually(async () => {
      const rows = await gw.deps.store.read.select().from(messages).where(eq(messages.namespaceId, t.namespaceId))
      return rows.every((m) => m.status === 'delivered') && rows
    })
    // No attempt was spent waiting for a slot.
    expect(done.map((m) => m.attempts)).toEqual([1, 1, 1, 1])
    const events = await gw.deps.store.read
      .select()
      .from(messageEvents)
      .where(eq(messageEvents.namespaceId, t.namespaceId))
      .orderBy(asc(messageEvents.createdAt))
    const sent = events.filter((e) => e.status === 'sent').map((e) => e.createdAt)
    expect(sent).toHaveLength(4)
    // 4 sends 500 ms apart: the last cannot start before 1.5 s after the first could
    // (a lower bound only: a slow machine makes it later, never earlier).
    expect(Math.max(...sent) - started).toBeGreaterThanOrEqual(1500 - 5)
    // Messages without a slot soon enough were handed back, and the history says why.
    const handedBack = events.filter((e) => e.errorCode === 'channel_rate_limited')
    expect(handedBack.length).toBeGreaterThan(0)
    expect(handedBack.every((e) => e.status === 'queued' && e.errorMessage === "waiting for the channel's send rate (2/s)")).toBe(true)
  })
})
