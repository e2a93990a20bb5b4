/**
 * omnigate_dispatch_latency_seconds runs from when a message was due: its send_at, or its
 * acceptance when that is later, as the analytics' accept→sent latency does. (A message accepted
 * with a send_at in the past was observed with the time before it was even accepted: an hour for
 * a send that took milliseconds.)
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { metricsRegistry } from '../../src/lib/metrics'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
beforeAll(async () => {
  gw = await startTestGateway()
  acme = await gw.tenant('acme-lat')
  await gw.channel(acme.namespaceId, 'sandbox')
})
afterAll(() => gw.close())

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string }
async function bucket(le: string | number): Promise<number> {
  await gw.call('GET', '/metrics', null)
  const metric = (await (await metricsRegistry()).getMetricsAsJSON()).find((m) => m.name === 'omnigate_dispatch_latency_seconds')
  const samples = structuredClone((metric?.values ?? []) as Sample[])
  return samples.find((s) => s.metricName === 'omnigate_dispatch_latency_seconds_bucket' && String(s.labels.le) === String(le))?.value ?? 0
}

test('a message accepted with a send_at an hour in the past is observed from its acceptance, not from send_at', async () => {
  await gw.startEngine()
  const [within10s, all] = [await bucket(10), await bucket('+Inf')]
  const res = await gw.call('POST', '/v1/namespaces/acme-lat/messages', acme.key, {
    channel: 'sandbox',
    to: 'a@example.com',
    content: { text: 'hi' },
    send_at: new Date(Date.now() - 3_600_000).toISOString(),
  })
  expect(res.status).toBe(202)
  const { id } = (await res.json()) as { id: string }
  await eventually(async () => ((await (await gw.call('GET', `/v1/namespaces/acme-lat/messages/${id}`, acme.key)).json()) as { status: string }).status === 'delivered')
  expect(await bucket('+Inf')).toBe(all + 1)
  // Accepted and sent within a second or so: the observation belongs in the ≤ 10 s bucket.
  expect(await bucket(10)).toBe(within10s + 1)
})
