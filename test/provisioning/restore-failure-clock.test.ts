/**
 * A namespace restore turns its endpoints back on with their failure clock reset, as re-enabling
 * does: the days spent deleted (up to purge_grace_days = 7, longer than disable_after_hours =
 * 120 h) made no attempts. (It kept `failing_since`, so the first 500 after a restore disabled
 * the endpoint at once.)
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { disableNamespace, restoreNamespace } from '../../src/domain/provisioning/deprovision'
import { webhooks } from '../../src/store/schema'
import { startWebhookReceiver } from '../fakes/webhook-receiver'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

let gw: TestGateway
let receiver: ReturnType<typeof startWebhookReceiver>
beforeAll(async () => {
  gw = await startTestGateway({ webhooks: { retry_schedule_ms: [0, 60_000], timeout_ms: 500 } })
  receiver = startWebhookReceiver((n) => (n === 1 ? new Response('busy', { status: 500 }) : new Response('ok')))
})
afterAll(async () => {
  await receiver.stop()
  await gw.close()
})

test('an endpoint restored with its namespace after six days is not disabled by its first failed attempt', async () => {
  const acme = await gw.tenant('acme')
  await gw.channel(acme.namespaceId, 'sandbox')
  const hook = (await (await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, { url: receiver.url, event_types: ['message.queued'] })).json()) as { id: string }
  // One delivery failed just before the namespace was deleted, six days ago (within the 7-day grace).
  await gw.deps.store.tx((tx) => tx.update(webhooks).set({ failingSince: Date.now() - 6 * 86_400_000 }).where(eq(webhooks.id, hook.id)))
  await disableNamespace(gw.deps, acme.namespaceId)
  await restoreNamespace(gw.deps, acme.namespaceId)

  await gw.startEngine()
  const res = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'sandbox', to: 'a@example.com', content: { text: 'hi' } })
  expect(res.status).toBe(202)
  // The receiver answers this first attempt with a 500: a retry is due in a minute.
  await eventually(async () => receiver.received.length === 1)
  await Bun.sleep(200)
  const view = (await (await gw.call('GET', `/v1/namespaces/acme/webhooks/${hook.id}`, acme.key)).json()) as { enabled: boolean; disabled_reason: string | null }
  expect(view).toMatchObject({ enabled: true, disabled_reason: null })
})
