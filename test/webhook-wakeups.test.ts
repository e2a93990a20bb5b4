/**
 * The engine's wake-up on committed webhook deliveries across restarts, and with two engines on
 * one store.
 */
import { afterEach, expect, test } from 'bun:test'
import { getChannel } from '../src/domain/channels'
import { recordInbound } from '../src/domain/inbound'
import { startWebhookReceiver } from './fakes/webhook-receiver'
import { eventually, startTestGateway, type TestGateway } from './helpers/gateway'

const SLOW_POLL = { poll_interval_ms: 60_000 }
let gw: TestGateway
let r: ReturnType<typeof startWebhookReceiver>
afterEach(async () => {
  await r.stop()
  await gw.close()
})

async function setup(events: string[]) {
  gw = await startTestGateway({ webhooks: { retry_schedule_ms: [0, 50, 50], timeout_ms: 500 } })
  const acme = await gw.tenant('acme')
  await gw.channel(acme.namespaceId, 'sandbox')
  r = startWebhookReceiver()
  const res = await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, { url: r.url, event_types: events })
  expect(res.status).toBe(201)
  return acme
}

const inbound = async (acme: { namespaceId: string }) =>
  recordInbound(gw.deps, (await getChannel(gw.deps, acme.namespaceId, 'sandbox'))!, { messages: [{ from: 'bob@example.com', content: { text: 'hello' } }] })

test('a restarted engine is woken; the stopped one no longer is', async () => {
  const acme = await setup(['message.received'])
  const first = await gw.startEngine(SLOW_POLL)
  await first.stop()
  const second = await gw.startEngine(SLOW_POLL)
  await Bun.sleep(50)
  await inbound(acme)
  await eventually(async () => r.received.length === 1, 3_000)
  await second.stop()
})

test('two engines on one store: stopping one leaves the other woken', async () => {
  const acme = await setup(['message.received', 'message.sent', 'message.delivered'])
  const a = await gw.startEngine(SLOW_POLL)
  const b = await gw.startEngine(SLOW_POLL)
  await a.stop()
  await Bun.sleep(50)
  await inbound(acme)
  await eventually(async () => r.received.length === 1, 3_000)
  await b.stop()
})
