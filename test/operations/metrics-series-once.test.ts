/**
 * /metrics names each series once: counters kept per channel are added up when channels get the
 * same labels (`omnigate_connector_errors_total{type, class}` for two channels of one type).
 * They were printed once per channel, and Prometheus keeps one duplicate and drops the rest, so
 * the counter undercounted (promtool does not catch duplicates).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

let gw: TestGateway

beforeAll(async () => {
  gw = await startTestGateway()
})
afterAll(() => gw.close())

/** Every sample line of the exposition: `name{labels}` → how many times it appears. */
function seriesCounts(body: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const line of body.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const series = line.slice(0, line.lastIndexOf(' '))
    counts.set(series, (counts.get(series) ?? 0) + 1)
  }
  return counts
}

test('two sandbox channels that both fail permanently: each connector-error series appears once in /metrics', async () => {
  const acme = await gw.tenant('acme-m')
  const beta = await gw.tenant('beta-m')
  await gw.channel(acme.namespaceId, 'one')
  await gw.channel(acme.namespaceId, 'two')
  await gw.channel(beta.namespaceId, 'one')
  await gw.startEngine()
  const ids: [string, string][] = []
  for (const [t, ch] of [[acme, 'one'], [acme, 'two'], [beta, 'one']] as const) {
    const res = await gw.call('POST', `/v1/namespaces/${t.slug}/messages`, t.key, { channel: ch, to: 'x@example.com', content: { text: 'hi' }, options: { sandbox: { outcome: 'failed' } } })
    expect(res.status).toBe(202)
    ids.push([t.slug, ((await res.json()) as { id: string }).id])
  }
  const keyOf = (slug: string) => (slug === acme.slug ? acme.key : beta.key)
  await eventually(async () => {
    for (const [slug, id] of ids) {
      const m = (await (await gw.call('GET', `/v1/namespaces/${slug}/messages/${id}`, keyOf(slug))).json()) as { status: string }
      if (m.status !== 'failed') return false
    }
    return true
  })
  const body = await (await gw.call('GET', '/metrics', null)).text()
  const duplicated = [...seriesCounts(body)].filter(([, n]) => n > 1).map(([s]) => s)
  expect(duplicated).toEqual([])
  const line = body.split('\n').find((l) => l.startsWith('omnigate_connector_errors_total{type="sandbox",class="permanent"}'))
  // One series carrying all three channels' errors (other tests of this process may add more).
  expect(Number(line?.split(' ').at(-1))).toBeGreaterThanOrEqual(3)
})
