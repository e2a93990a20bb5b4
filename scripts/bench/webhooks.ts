/**
 * `webhooks`: one subscriber endpoint (its own process, answers 200) created through the API for
 * `message.queued`, `message.sent` and `message.delivered`; N messages are sent through the
 * sandbox channel (which reports each one delivered), so 3N deliveries must succeed.
 *
 * deliveries/s = 3N / (last delivery at the subscriber − first send request): the whole
 * pipeline, accept + dispatch + deliver, as a subscriber sees it. The deliverer's own rate
 * (first to last arrival) is reported beside it. After a graceful stop, the database must show
 * all 3N deliveries `succeeded`.
 */
import { api, type BenchOptions, log, median, openReadonly, round, sampleUsage, sendBatches, startGateway, startSink, waitFor } from './lib'

export const WEBHOOK_EVENTS = ['message.queued', 'message.sent', 'message.delivered']

export interface WebhooksRun {
  messages: number
  deliveries: number
  /** False when the deadline passed before all 3N arrived. */
  complete: boolean
  deliveries_per_s: number
  deliverer_per_s: number
  seconds: number
  by_type: Record<string, number>
  db_status: Record<string, number>
  peak_rss_mb: number
  cpu_s: number
  cpu_cores: number
}

export interface WebhooksSummary {
  deliveries_per_s: number
  deliverer_per_s: number
  peak_rss_mb: number
  cpu_s: number
  cpu_cores: number
  messages: number
  complete: boolean
  not_succeeded: number
  runs: WebhooksRun[]
}

const wallNow = () => performance.timeOrigin + performance.now()

export async function webhooksRun(bench: BenchOptions, messages: number, index: number, deadlineS: number): Promise<WebhooksRun> {
  const subscriber = await startSink(`subscriber-${index}`)
  const gw = await startGateway(bench, { name: `webhooks-${index}`, engine: true })
  try {
    const created = await api(gw, 'POST', '/webhooks', { url: `${subscriber.url}/hook`, event_types: WEBHOOK_EVENTS })
    if (created.status !== 201) throw new Error(`POST /webhooks answered ${created.status}: ${JSON.stringify(created.body)}`)
    const expected = messages * WEBHOOK_EVENTS.length
    const sampler = sampleUsage(gw.pid)
    const t0 = wallNow()
    await sendBatches(gw, 'sandbox', messages, 100, 4)
    const complete = await waitFor(
      'webhook deliveries',
      async () => {
        const s = await subscriber.stats()
        return { done: s.unique >= expected, progress: s.unique }
      },
      { everyMs: 50, stallMs: 30_000, deadlineMs: deadlineS * 1000 },
    )
    const usage = sampler.stop()
    const stats = await subscriber.stats()
    await gw.stop()
    const db = openReadonly(gw.dbPath)
    let dbStatus: Record<string, number>
    try {
      const rows = db.query('SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status').all() as { status: string; n: number }[]
      dbStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]))
    } finally {
      db.close()
    }
    const seconds = ((stats.last_ms ?? wallNow()) - t0) / 1000
    const run: WebhooksRun = {
      messages,
      deliveries: stats.unique,
      complete,
      // Incomplete (deadline): the rate over what had arrived by then.
      deliveries_per_s: round(stats.unique / seconds),
      deliverer_per_s: stats.first_ms === null ? 0 : round(stats.unique / Math.max((stats.last_ms! - stats.first_ms) / 1000, 0.001)),
      seconds: round(seconds, 3),
      by_type: stats.by_type,
      db_status: dbStatus,
      peak_rss_mb: round(usage.peakRssMb, 1),
      cpu_s: round(usage.cpuS, 2),
      cpu_cores: round(usage.cores, 2),
    }
    log(
      `webhooks run ${index + 1}: ${stats.unique}/${expected} deliveries in ${seconds.toFixed(2)} s = ${run.deliveries_per_s}/s ` +
        `(deliverer ${run.deliverer_per_s}/s); database: ${JSON.stringify(dbStatus)}`,
    )
    if (complete && (dbStatus.succeeded ?? 0) !== expected) log(`webhooks: WARNING ${expected - (dbStatus.succeeded ?? 0)} deliveries not recorded as succeeded`)
    return run
  } finally {
    await gw.stop()
    await subscriber.stop()
  }
}

export async function webhooks(bench: BenchOptions): Promise<WebhooksSummary> {
  const messages = bench.quick ? 2000 : 10_000
  const runs: WebhooksRun[] = []
  const deadlineS = bench.quick ? 15 : 120
  for (let i = 0; i < bench.runs; i++) runs.push(await webhooksRun(bench, messages, i, deadlineS))
  return {
    deliveries_per_s: round(median(runs.map((r) => r.deliveries_per_s))),
    deliverer_per_s: round(median(runs.map((r) => r.deliverer_per_s))),
    peak_rss_mb: round(Math.max(...runs.map((r) => r.peak_rss_mb)), 1),
    cpu_s: round(median(runs.map((r) => r.cpu_s)), 2),
    cpu_cores: round(median(runs.map((r) => r.cpu_cores)), 2),
    messages,
    complete: runs.every((r) => r.complete),
    not_succeeded: runs.reduce((sum, r) => sum + (r.messages * WEBHOOK_EVENTS.length - (r.db_status.succeeded ?? 0)), 0),
    runs,
  }
}
