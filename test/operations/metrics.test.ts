/**
 * GET /metrics: bearer token, the exposition checked by Prometheus's own `promtool check metrics`,
 * and values that move as messages, requests and webhook deliveries flow.
 *
 * Values are read with prom-client's registry (getMetricsAsJSON) after a scrape: no Prometheus
 * text parser package is installed (parse-prometheus-text-format is on the registry but not a
 * dependency). The exposition itself is parsed and linted by promtool.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { countNewMessages } from '../../src/domain/analytics/rollups'
import { claimDueMessages } from '../../src/domain/messages/dispatch'
import { messages } from '../../src/store/schema'
import { metricsRegistry } from '../../src/lib/metrics'
import { startWebhookReceiver } from '../fakes/webhook-receiver'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const TOKEN = 'metrics-token-0123456789abcdef'
const auth = { authorization: `Bearer ${TOKEN}` }

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>

beforeAll(async () => {
  gw = await startTestGateway({ metrics: { token: TOKEN } })
  acme = await gw.tenant('acme')
  await gw.channel(acme.namespaceId, 'sandbox')
})
afterAll(() => gw.close())

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string }

/** Scrapes /metrics (which refreshes the gauges and channel names), then reads the registry. */
async function scrape(): Promise<{ body: string; values: Map<string, Sample[]> }> {
  const res = await gw.call('GET', '/metrics', null, undefined, auth)
  expect(res.status).toBe(200)
  const body = await res.text()
  const values = new Map<string, Sample[]>()
  // A copy: prom-client hands out its live sample objects, which later increments would change.
  for (const metric of await (await metricsRegistry()).getMetricsAsJSON()) values.set(metric.name, structuredClone(metric.values) as Sample[])
  return { body, values }
}

/** The sum of a metric's samples whose labels include `labels` (histograms: pick `metricName`). */
function value(values: Map<string, Sample[]>, name: string, labels: Record<string, string | number> = {}, metricName?: string): number {
  return (values.get(name) ?? [])
    .filter((s) => (metricName ? s.metricName === metricName : true))
    .filter((s) => Object.entries(labels).every(([k, v]) => String(s.labels[k]) === String(v)))
    .reduce((sum, s) => sum + s.value, 0)
}

const send = async (body: Record<string, unknown> = {}) => {
  const res = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'sandbox', to: 'alice@example.com', content: { text: 'hi' }, ...body })
  expect(res.status).toBe(202)
  return ((await res.json()) as { id: string }).id
}

/** `promtool check metrics` on an exposition: exit 0 = parses and lints clean. */
function promtool(body: string): { code: number | null; output: string } | null {
  if (!Bun.which('promtool')) return null
  const proc = Bun.spawnSync(['promtool', 'check', 'metrics'], { stdin: Buffer.from(body) })
  return { code: proc.exitCode, output: `${proc.stdout.toString()}${proc.stderr.toString()}` }
}

describe('access', () => {
  test('the token is required when configured: none or a wrong one is a 401 problem', async () => {
    const none = await gw.call('GET', '/metrics', null)
    expect(none.status).toBe(401)
    expect(none.headers.get('content-type')).toBe('application/problem+json')
    expect(none.headers.get('www-authenticate')).toContain('Bearer')
    expect(((await none.json()) as { code: string }).code).toBe('unauthorized')
    const wrong = await gw.call('GET', '/metrics', null, undefined, { authorization: `Bearer ${TOKEN}x` })
    expect(wrong.status).toBe(401)
    expect(await wrong.text()).not.toContain('omnigate_')
    const right = await gw.call('GET', '/metrics', null, undefined, auth)
    expect(right.status).toBe(200)
    expect(right.headers.get('content-type')).toStartWith('text/plain; version=0.0.4')
  })

  test('without a token /metrics is open to this host; with [metrics] enabled = false it does not exist', async () => {
    const open = await startTestGateway()
    const disabled = await startTestGateway({ metrics: { enabled: false } })
    try {
      expect((await open.call('GET', '/metrics', null)).status).toBe(200)
      expect((await disabled.call('GET', '/metrics', null)).status).toBe(404)
    } finally {
      await open.close()
      await disabled.close()
    }
  })

  test('without a token only this host is answered: a client behind a trusted proxy gets 401', async () => {
    const served = await startTestGateway({ server: { trusted_proxies: ['127.0.0.1/32', '::1/128'] } }, { listen: true })
    try {
      const local = await fetch(`${served.url}/metrics`)
      expect(local.status).toBe(200)
      expect(await local.text()).toContain('omnigate_http_requests_total')
      const remote = await fetch(`${served.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } })
      expect(remote.status).toBe(401)
      expect(remote.headers.get('content-type')).toBe('application/problem+json')
      expect(await remote.text()).not.toContain('omnigate_')
      const proxiedLocal = await fetch(`${served.url}/metrics`, { headers: { 'x-forwarded-for': '127.0.0.1' } })
      expect(proxiedLocal.status).toBe(200)
      await proxiedLocal.arrayBuffer()
    } finally {
      await served.close()
    }
  })
})

describe('values', () => {
  test('queue depth counts due, scheduled and leased messages of this store', async () => {
    const before = (await scrape()).values
    expect(value(before, 'omnigate_queue_messages', { state: 'due' })).toBe(0)
    await send()
    await send()
    await send({ send_at: new Date(Date.now() + 3_600_000).toISOString() })
    // What a dispatcher does when it takes a message: a lease.
    expect(await claimDueMessages(gw.deps.store, 'test-owner', 1, 60_000, Date.now())).toHaveLength(1)
    const { values } = await scrape()
    expect(value(values, 'omnigate_queue_messages', { state: 'due' })).toBe(1)
    expect(value(values, 'omnigate_queue_messages', { state: 'scheduled' })).toBe(1)
    expect(value(values, 'omnigate_queue_messages', { state: 'leased' })).toBe(1)
  })

  test('messages, HTTP requests, dispatch latency, connector errors and webhook deliveries move when messages flow', async () => {
    const receiver = startWebhookReceiver()
    const hook = await gw.call('POST', '/v1/namespaces/acme/webhooks', acme.key, { url: receiver.url, event_types: ['message.failed'] })
    expect(hook.status).toBe(201)
    const before = (await scrape()).values
    await gw.startEngine()
    const ok = [await send(), await send(), await send()]
    const failed = await send({ options: { sandbox: { outcome: 'failed' } } })
    const retried = await send({ options: { sandbox: { failures: 1 } } })
    const status = async (id: string) => ((await (await gw.call('GET', `/v1/namespaces/acme/messages/${id}`, acme.key)).json()) as { status: string }).status
    await eventually(async () => (await Promise.all([...ok, retried].map(status))).every((s) => s === 'delivered'))
    expect(await eventually(async () => (await status(failed)) === 'failed')).toBe(true)
    await eventually(async () => receiver.received.length >= 1)

    const after = await eventually(async () => {
      const { values } = await scrape()
      return value(values, 'omnigate_webhook_deliveries_total', { outcome: 'succeeded' }) > value(before, 'omnigate_webhook_deliveries_total', { outcome: 'succeeded' }) && values
    })
    const delta = (name: string, labels: Record<string, string | number>, metricName?: string) =>
      value(after, name, labels, metricName) - value(before, name, labels, metricName)
    const acmeSandbox = { namespace: 'acme', channel: 'sandbox' }
    // Sent and delivered: three plain, the retried one, and the earlier test's message still due
    // (the one claimed by hand stays leased by "test-owner"; the scheduled one waits an hour).
    expect(delta('omnigate_messages_total', { ...acmeSandbox, status: 'delivered' })).toBe(3 + 1 + 1)
    expect(delta('omnigate_messages_total', { ...acmeSandbox, status: 'sent' })).toBe(3 + 1 + 1)
    expect(delta('omnigate_messages_total', { ...acmeSandbox, status: 'failed' })).toBe(1)
    // One attempt each, and a second for the retried one.
    expect(delta('omnigate_messages_total', { ...acmeSandbox, status: 'sending' })).toBe(6 + 1)
    expect(delta('omnigate_connector_errors_total', { type: 'sandbox', class: 'permanent' })).toBe(1)
    expect(delta('omnigate_connector_errors_total', { type: 'sandbox', class: 'transient' })).toBe(1)
    expect(delta('omnigate_dispatch_latency_seconds', {}, 'omnigate_dispatch_latency_seconds_count')).toBe(5)
    expect(delta('omnigate_webhook_deliveries_total', { outcome: 'succeeded' })).toBe(1)
    expect(delta('omnigate_http_requests_total', { method: 'POST', route: '/v1/namespaces/:ns/messages', status: 202 })).toBe(5)
    expect(delta('omnigate_http_request_duration_seconds', { method: 'POST', route: '/v1/namespaces/:ns/messages' }, 'omnigate_http_request_duration_seconds_count')).toBe(5)
    await receiver.stop()
  })

  test('routes are labelled by template, never by raw path; unknown paths share one label', async () => {
    await gw.call('GET', '/v1/namespaces/acme/messages/msg_00000000000000000000000000000000', acme.key)
    await gw.call('GET', '/no/such/path/secret-looking-token', null)
    const { values } = await scrape()
    const routes = new Set((values.get('omnigate_http_requests_total') ?? []).map((s) => String(s.labels.route)))
    expect(routes).toContain('/v1/namespaces/:ns/messages/:id')
    expect(routes).toContain('unmatched')
    for (const route of routes) {
      expect(route).not.toContain('acme')
      expect(route).not.toContain('msg_')
      expect(route).not.toContain('secret-looking-token')
    }
  })
})

describe('exposition', () => {
  test('promtool check metrics accepts it (text format parses, names and types lint clean)', async () => {
    const { body } = await scrape()
    expect(body).toContain('# TYPE omnigate_messages_total counter')
    expect(body).toContain('# TYPE process_cpu_seconds_total counter')
    const checked = promtool(body)
    if (!checked) {
      const warning = 'promtool NOT FOUND: the /metrics exposition was NOT checked by Prometheus (install Debian package "prometheus"; .ci/run does)'
      // CI installs it: there a missing promtool is a failure, not a warning.
      if (process.env.CI) throw new Error(warning)
      console.warn(`\n${'!'.repeat(100)}\n!! ${warning}\n${'!'.repeat(100)}\n`)
      return
    }
    expect(checked.output).toBe('')
    expect(checked.code).toBe(0)
  })
})

describe('exactness', () => {
  test('a write that is rolled back adds nothing to omnigate_messages_total; a committed one adds once', async () => {
    const id = await send()
    const [row] = await gw.deps.store.read.select().from(messages).where(eq(messages.id, id))
    const labels = { namespace: 'acme', channel: 'sandbox', status: 'queued' }
    const before = value((await scrape()).values, 'omnigate_messages_total', labels)
    await expect(
      gw.deps.store.write(async (tx) => {
        await countNewMessages(tx, [{ ...row!, id: 'msg_rolled_back' }])
        throw new Error('rolled back')
      }),
    ).rejects.toThrow('rolled back')
    expect(value((await scrape()).values, 'omnigate_messages_total', labels)).toBe(before)
    await gw.deps.store.write((tx) => countNewMessages(tx, [{ ...row!, id: 'msg_counted' }]))
    expect(value((await scrape()).values, 'omnigate_messages_total', labels)).toBe(before + 1)
  })
})
