/**
 * Channel health: the success rate and last error in the channel's view, and a channel that
 * fails too often becoming `failing` and back `active`, with `channel.failing` /
 * `channel.recovered` delivered to a webhook subscriber; a paused channel is never marked.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { and, count, eq, isNotNull } from 'drizzle-orm'
import { evaluateChannelHealth, HEALTH_MIN_ATTEMPTS, HEALTH_WINDOW_MS, judge } from '../../src/domain/analytics/health'
import { updateChannel } from '../../src/domain/channels'
import { RollupBatch } from '../../src/domain/analytics/rollups'
import { messages, webhookDeliveries } from '../../src/store/schema'
import { startWebhookReceiver } from '../fakes/webhook-receiver'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
let receiver: ReturnType<typeof startWebhookReceiver>

beforeEach(async () => {
  gw = await startTestGateway()
  acme = await gw.tenant('acme')
  receiver = startWebhookReceiver()
})
afterEach(async () => {
  receiver.stop()
  await gw.close()
})

const sendMany = async (channel: string, n: number, options?: unknown) => {
  for (let i = 0; i < n; i++) {
    expect((await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel, to: `r-${i}`, content: { text: 'hi' }, options })).status).toBe(202)
  }
  await eventually(async () => {
    const [row] = await gw.deps.store.read.select({ n: count() }).from(messages).where(and(eq(messages.namespaceId, acme.namespaceId), isNotNull(messages.nextAttemptAt)))
    return row!.n === 0
  })
}

const view = async (name: string) => (await (await gw.call('GET', `/v1/namespaces/acme/channels/${name}`, acme.key)).json()) as any
const events = () => receiver.received.map((r) => JSON.parse(r.body) as { type: string; data: any })

test('a new channel has no rate and no error yet', async () => {
  await gw.channel(acme.namespaceId, 'fresh')
  expect((await view('fresh')).health).toEqual({ success_rate_1h: null, last_error: null })
})

describe('failing and recovered', () => {
  test('crossing the threshold raises channel.failing once; enough successes raise channel.recovered', async () => {
    await gw.channel(acme.namespaceId, 'flaky')
    await updateChannel(gw.deps, acme.namespaceId, 'flaky', { max_attempts: 1 })
    const hook = await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, { url: receiver.url, event_types: ['channel.failing', 'channel.recovered'] })
    expect(hook.status).toBe(201)
    await gw.startEngine()

    await sendMany('flaky', 2)
    await sendMany('flaky', HEALTH_MIN_ATTEMPTS, { sandbox: { outcome: 'failed' } })
    const before = await view('flaky')
    expect(before.status).toBe('active')
    expect(before.health.success_rate_1h).toBeCloseTo(2 / 12, 4)
    expect(before.health.last_error).toEqual({ code: 'sandbox_failed', message: 'simulated permanent failure', at: expect.any(String) })

    // The engine's own `channel-health` job may get there first: the state and the events are
    // what count, and each change is raised once whoever evaluates.
    await evaluateChannelHealth(gw.deps)
    expect(await evaluateChannelHealth(gw.deps)).toEqual([])
    expect((await view('flaky')).status).toBe('failing')
    const failing = await eventually(async () => events().find((e) => e.type === 'channel.failing'))
    expect(failing.data).toEqual({
      channel: { id: before.id, name: 'flaky', type: 'sandbox', status: 'failing' },
      window: { minutes: HEALTH_WINDOW_MS / 60_000, attempts: 12, failures: 10, failure_rate: 0.8333, threshold: 0.5, min_attempts: HEALTH_MIN_ATTEMPTS },
      last_error: { code: 'sandbox_failed', message: 'simulated permanent failure', at: expect.any(String) },
    })

    // A failing channel still sends; once successes outweigh the failures it recovers.
    await sendMany('flaky', 9)
    await evaluateChannelHealth(gw.deps)
    const recovered = await eventually(async () => events().find((e) => e.type === 'channel.recovered'))
    expect(recovered.data.window).toMatchObject({ attempts: 21, failures: 10 })
    expect(recovered.data.channel.status).toBe('active')
    const after = await view('flaky')
    expect(after.status).toBe('active')
    // The last error stays on view after recovery: it is the last one seen, not a current state.
    expect(after.health.last_error.code).toBe('sandbox_failed')
    expect(events().map((e) => e.type)).toEqual(['channel.failing', 'channel.recovered'])
  })

  test('a failing channel that has gone quiet recovers once its failures leave the window; a paused one is never marked', async () => {
    await gw.channel(acme.namespaceId, 'quiet')
    await gw.channel(acme.namespaceId, 'held')
    for (const name of ['quiet', 'held']) await updateChannel(gw.deps, acme.namespaceId, name, { max_attempts: 1 })
    await gw.startEngine()
    await sendMany('quiet', HEALTH_MIN_ATTEMPTS, { sandbox: { outcome: 'failed' } })
    await sendMany('held', HEALTH_MIN_ATTEMPTS, { sandbox: { outcome: 'failed' } })
    await updateChannel(gw.deps, acme.namespaceId, 'held', { status: 'paused' })

    await evaluateChannelHealth(gw.deps)
    expect((await view('quiet')).status).toBe('failing')
    expect((await view('held')).status).toBe('paused')

    gw.deps.now = () => Date.now() + HEALTH_WINDOW_MS + 120_000
    await evaluateChannelHealth(gw.deps)
    expect((await view('quiet')).status).toBe('active')
    expect((await view('held')).status).toBe('paused')
  })
})

test('two evaluations at once (two instances) change the channel once and raise one event', async () => {
  const id = await gw.channel(acme.namespaceId, 'twice')
  expect((await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, { url: receiver.url, event_types: ['channel.failing'] })).status).toBe(201)
  await gw.deps.store.tx(async (tx) => {
    const batch = new RollupBatch()
    batch.count({ namespaceId: acme.namespaceId, channelId: id, applicationId: null, direction: 'outbound' }, 'failed', Date.now(), HEALTH_MIN_ATTEMPTS)
    await batch.flush(tx)
  })
  const changes = (await Promise.all([evaluateChannelHealth(gw.deps), evaluateChannelHealth(gw.deps)])).flat()
  expect(changes).toEqual([{ channelId: id, namespaceId: acme.namespaceId, status: 'failing' }])
  const raised = await gw.deps.store.read.select().from(webhookDeliveries).where(eq(webhookDeliveries.eventType, 'channel.failing'))
  expect(raised).toHaveLength(1)
})

test('the verdict table: threshold, minimum attempts, and when a failing channel counts as recovered', () => {
  const o = (attempts: number, failures: number) => ({ attempts, failures })
  const cases: [string, { attempts: number; failures: number } | undefined, 'failing' | 'active' | null][] = [
    ['active', o(10, 5), 'failing'],
    ['active', o(10, 4), null],
    ['active', o(9, 9), null],
    ['active', undefined, null],
    ['failing', o(10, 5), null],
    ['failing', o(10, 4), 'active'],
    // Too few attempts to judge, but failures among them: no evidence of recovery.
    ['failing', o(3, 2), null],
    ['failing', o(3, 0), 'active'],
    ['failing', undefined, 'active'],
    ['paused', o(10, 10), null],
  ]
  for (const [status, outcomes, verdict] of cases) expect([status, outcomes, judge(status, outcomes)]).toEqual([status, outcomes, verdict])
})
