/**
 * A deleted namespace's webhooks go quiet: deliveries queued before the deletion are cancelled
 * in its transaction and never reach the subscriber (a real HTTP receiver), events raised after
 * it queue nothing, and the neighbour's deliveries go out as usual. A restore turns the
 * endpoints back on; the cancelled deliveries stay cancelled.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { login } from '../../src/domain/identity/sessions'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { DELIVERY_CANCELLED, NAMESPACE_DELETED, restoreNamespace } from '../../src/domain/provisioning/deprovision'
import { emitEvents } from '../../src/domain/webhooks/emit'
import { newId } from '../../src/lib/ids'
import { webhookDeliveries, webhooks } from '../../src/store/schema'
import { startWebhookReceiver } from '../fakes/webhook-receiver'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

let gw: TestGateway
let receiver: ReturnType<typeof startWebhookReceiver>
let rootToken = ''
const tenants: Record<string, Awaited<ReturnType<TestGateway['tenant']>>> = {}

/** The namespace slug of each delivery the receiver got, in order. */
const receivedFrom = () => receiver.received.map((r) => (JSON.parse(r.body) as { namespace: string }).namespace)
const deliveriesOf = (namespaceId: string) => gw.deps.store.read.select().from(webhookDeliveries).where(eq(webhookDeliveries.namespaceId, namespaceId))

async function send(slug: string, n: number) {
  for (let i = 0; i < n; i++) {
    const res = await gw.call('POST', `/v1/namespaces/${slug}/messages`, tenants[slug]!.key, { channel: 'sandbox', to: `r${i}@example.com`, content: { text: 'hi' } })
    expect(res.status).toBe(202)
  }
}

beforeAll(async () => {
  receiver = startWebhookReceiver()
  gw = await startTestGateway({ limits: { login_attempts_per_minute: 1000 } })
  for (const slug of ['victim', 'neighbour']) {
    tenants[slug] = await gw.tenant(slug)
    await gw.channel(tenants[slug]!.namespaceId, 'sandbox')
    const hook = await gw.call('POST', `/v1/namespaces/${slug}/webhooks`, tenants[slug]!.key, { url: receiver.url, event_types: ['*'] })
    expect(hook.status).toBe(201)
  }
  await gw.deps.store.tx(async (tx) => insertUser(tx, { email: 'root@example.com', passwordHash: await hashPassword('webhook deletion password'), instanceAdmin: true }, Date.now()))
  rootToken = (await login(gw.deps, { email: 'root@example.com', password: 'webhook deletion password' })).accessToken
})
afterAll(async () => {
  await gw.close()
  receiver.stop()
})

describe('deleting a namespace with deliveries queued', () => {
  test('its queued deliveries are cancelled at once and never sent; the neighbour\'s are', async () => {
    // No engine yet: every delivery waits in the outbox.
    await send('victim', 3)
    const queued = await deliveriesOf(tenants.victim!.namespaceId)
    expect(queued.length).toBe(3)
    expect(queued.every((d) => d.status === 'pending')).toBe(true)

    const deleted = await gw.call('DELETE', '/v1/namespaces/victim', rootToken)
    expect(deleted.status).toBe(202)
    // In the deletion's own transaction: cancelled, no lease, no attempt used.
    const cancelled = await deliveriesOf(tenants.victim!.namespaceId)
    expect(cancelled.map((d) => [d.status, d.lastError, d.nextAttemptAt, d.leaseOwner, d.attempts])).toEqual(Array(3).fill(['failed', DELIVERY_CANCELLED, null, null, 0]))
    const [hook] = await gw.deps.store.read.select().from(webhooks).where(eq(webhooks.namespaceId, tenants.victim!.namespaceId))
    expect([hook!.enabled, hook!.disabledReason]).toEqual([false, NAMESPACE_DELETED])

    // An event raised after the deletion (a late provider report, say) queues nothing.
    await gw.deps.store.tx((tx) =>
      emitEvents(tx, tenants.victim!.namespaceId, [{ type: 'message.delivered', id: newId('evt'), at: Date.now(), data: { late: true } }], Date.now()),
    )
    expect((await deliveriesOf(tenants.victim!.namespaceId)).length).toBe(3)

    await gw.startEngine()
    await send('neighbour', 1)
    // The neighbour's queued, sent and delivered events arrive, and nothing is left to deliver.
    await eventually(async () => receivedFrom().filter((ns) => ns === 'neighbour').length >= 3)
    await eventually(async () => (await gw.deps.store.read.select().from(webhookDeliveries).where(eq(webhookDeliveries.status, 'pending'))).length === 0)
    expect(receivedFrom().filter((ns) => ns === 'victim')).toEqual([])
    expect((await deliveriesOf(tenants.victim!.namespaceId)).every((d) => d.status === 'failed' && d.attempts === 0)).toBe(true)
  })

  test('a restore turns the endpoint back on: new events are delivered, the cancelled ones stay cancelled', async () => {
    await restoreNamespace(gw.deps, tenants.victim!.namespaceId)
    const [hook] = await gw.deps.store.read.select().from(webhooks).where(eq(webhooks.namespaceId, tenants.victim!.namespaceId))
    expect([hook!.enabled, hook!.disabledReason]).toEqual([true, null])
    await send('victim', 1)
    await eventually(async () => receivedFrom().filter((ns) => ns === 'victim').length >= 3)
    const cancelled = await gw.deps.store.read
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.namespaceId, tenants.victim!.namespaceId), eq(webhookDeliveries.lastError, DELIVERY_CANCELLED)))
    expect(cancelled.map((d) => [d.status, d.attempts])).toEqual(Array(3).fill(['failed', 0]))
  })

  test('an endpoint disabled for another reason before the deletion stays disabled after a restore', async () => {
    const [hook] = await gw.deps.store.read.select().from(webhooks).where(eq(webhooks.namespaceId, tenants.neighbour!.namespaceId))
    await gw.deps.store.tx((tx) => tx.update(webhooks).set({ enabled: false, disabledReason: 'endpoint_gone' }).where(eq(webhooks.id, hook!.id)))
    expect((await gw.call('DELETE', '/v1/namespaces/neighbour', rootToken)).status).toBe(202)
    await restoreNamespace(gw.deps, tenants.neighbour!.namespaceId)
    const [after] = await gw.deps.store.read.select().from(webhooks).where(eq(webhooks.id, hook!.id))
    expect([after!.enabled, after!.disabledReason]).toEqual([false, 'endpoint_gone'])
  })
})
