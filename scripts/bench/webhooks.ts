/**
 * `webhooks`: one subscriber endpoint (its own process, answers 200) created through the API for
 * `message.queued`, `message.sent` and `message.delivered`.
 *
 * 1. Throughput: N messages are sent through the sandbox channel (which reports each one
 *    delivered), so 3N deliveries must succeed. deliveries/s = 3N / (last delivery at the
 *    subscriber − first send request): the whole pipeline, accept + dispatch + deliver, as a
 *    subscriber sees it. The deliverer's own rate (first to last arrival) is reported beside it.
 * 2. Latency: on the same gateway, single messages at a steady rate (1,000/s, so 3,000
 *    deliveries/s); each delivery's latency is its arrival at the subscriber − the `timestamp`
 *    of its event (when the status changed in the gateway), so it covers the commit, the claim,
 *    the signing and the POST. The timestamp has whole milliseconds, so a lag reads up to 1 ms
 *    high. Deliveries still missing when the wait ends are counted (`missing`), not in the
 *    percentiles.
 *
 * After a graceful stop, the database must show every delivery of both phases `succeeded`.
 */
import {
  api,
  arrived,
  awaitArrivals,
  type BenchOptions,
  type Gateway,
  type LatencySummary,
  log,
  makeTempDir,
  median,
  openReadonly,
  round,
  sampleUsage,
  scalar,
  sendBatches,
  type Sink,
  type SinkStats,
  startGateway,
  startSink,
  steadySends,
  summarize,
  waitFor,
} from './lib'

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
  /** After both phases. */
  db_status: Record<string, number>
  /** Deliveries both phases should have made: 3 × (N + the latency phase's accepted messages). */
  expected_deliveries: number
  peak_rss_mb: number
  cpu_s: number
  cpu_cores: number
  latency: {
    rate_per_s: number
    seconds: number
    accepted_messages: number
    expected_deliveries: number
    arrived_deliveries: number
    /** Deliveries that had not arrived when the wait ended: the percentiles leave them out. */
    missing: number
    /** Event (status change) → arrival at the subscriber, over the arrived deliveries. */
    latency_ms: LatencySummary
    non_202: Record<string, number>
  } | null
}

/** The backlog drain: deliveries already due, delivered by a freshly started gateway. */
export interface WebhooksDrainRun {
  messages: number
  /** Deliveries pending when the building gateway stopped: what the drain had to deliver. */
  backlog: number
  delivered: number
  /** False when the deadline passed before the whole backlog arrived. */
  complete: boolean
  /** delivered / (last arrival − first arrival) at the subscriber. */
  deliveries_per_s: number
  seconds: number
  /** Building the backlog: accept, dispatch and (one at a time) some deliveries, on another start. */
  build_seconds: number
  peak_rss_mb: number
  cpu_s: number
  cpu_cores: number
  /** After the drain: every delivery of the run must be `succeeded`. */
  db_status: Record<string, number>
  expected_deliveries: number
}

export interface WebhooksSummary {
  /** The backlog drain's deliveries/s (median): the figure the target is read against. */
  deliveries_per_s: number
  /** The whole pipeline (accept + dispatch + deliver together) as a subscriber sees it. */
  pipeline_per_s: number
  deliverer_per_s: number
  /** Event → subscriber at a steady 1,000 messages/s (3,000 deliveries/s); medians of the runs. */
  p50_ms: number
  p95_ms: number
  p99_ms: number
  peak_rss_mb: number
  cpu_s: number
  cpu_cores: number
  messages: number
  complete: boolean
  not_succeeded: number
  /** Deliveries of the latency phases that had not arrived when their waits ended. */
  latency_missing: number
  /** The drain's backlog (median of the runs). */
  drain_backlog: number
  drains: WebhooksDrainRun[]
  runs: WebhooksRun[]
}

interface WebhooksOptions {
  messages: number
  /** Messages whose deliveries make the drain's backlog (3 each). */
  drainMessages: number
  deadlineS: number
  latencySeconds: number
  rate: number
}

const wallNow = () => performance.timeOrigin + performance.now()

export async function webhooksRun(bench: BenchOptions, opts: WebhooksOptions, index: number): Promise<WebhooksRun> {
  const { messages } = opts
  const subscriber = await startSink(`subscriber-${index}`)
  const gw = await startGateway(bench, { name: `webhooks-${index}`, engine: true })
  try {
    const created = await api(gw, 'POST', '/webhooks', { url: `${subscriber.url}/hook`, event_types: WEBHOOK_EVENTS })
    if (created.status !== 201) throw new Error(`POST /webhooks answered ${created.status}: ${JSON.stringify(created.body)}`)
    const expected = messages * WEBHOOK_EVENTS.length
    const sampler = sampleUsage(gw.pid)
    const t0 = wallNow()
    await sendBatches(gw, 'sandbox', messages, 100, 4)
    const complete = await arrived(subscriber, 'webhook deliveries', expected, { deadlineMs: opts.deadlineS * 1000, everyMs: 50 })
    const usage = sampler.stop()
    const stats = await subscriber.stats()
    const seconds = ((stats.last_ms ?? wallNow()) - t0) / 1000
    log(`webhooks run ${index + 1}: ${stats.unique}/${expected} deliveries in ${seconds.toFixed(2)} s = ${round(stats.unique / seconds)}/s (deliverer ${arrivalRate(stats)}/s)`)

    const latency = complete && opts.latencySeconds > 0 ? await latencyPhase(gw, subscriber, opts) : null

    await gw.stop()
    const dbStatus = statusCounts(gw.dbPath)
    const expectedDeliveries = expected + (latency?.expected_deliveries ?? 0)
    const run: WebhooksRun = {
      messages,
      deliveries: stats.unique,
      complete,
      // Incomplete (deadline): the rate over what had arrived by then.
      deliveries_per_s: round(stats.unique / seconds),
      deliverer_per_s: arrivalRate(stats),
      seconds: round(seconds, 3),
      by_type: stats.by_type,
      db_status: dbStatus,
      expected_deliveries: expectedDeliveries,
      peak_rss_mb: round(usage.peakRssMb, 1),
      cpu_s: round(usage.cpuS, 2),
      cpu_cores: round(usage.cores, 2),
      latency,
    }
    log(`webhooks run ${index + 1}: database after both phases: ${JSON.stringify(dbStatus)}`)
    if (complete && (dbStatus.succeeded ?? 0) !== expectedDeliveries) {
      log(`webhooks: WARNING ${expectedDeliveries - (dbStatus.succeeded ?? 0)} deliveries not recorded as succeeded`)
    }
    return run
  } finally {
    await gw.stop()
    await subscriber.stop()
  }
}

/**
 * The backlog drain, as `dispatch` drains its outbox. 1. A gateway with one delivery in flight per
 * endpoint (`OMNIGATE_WEBHOOKS_PER_ENDPOINT_CONCURRENCY=1`) accepts N messages and dispatches them
 * through the sandbox; it is stopped once all 3N deliveries exist, most of them still pending. 2.
 * The gateway is started again on the same database with the default settings, and the
 * subscriber counts the backlog's arrivals: deliveries/s = backlog / (last − first arrival).
 */
export async function webhooksDrainRun(bench: BenchOptions, opts: WebhooksOptions, index: number): Promise<WebhooksDrainRun> {
  const label = `webhooks-drain-${index}`
  const dir = makeTempDir(label)
  const subscriber = await startSink(`${label}-subscriber`)
  const expected = opts.drainMessages * WEBHOOK_EVENTS.length
  let gw: Gateway | null = null
  try {
    // 1. The backlog.
    const t0 = performance.now()
    const builder = await startGateway(bench, { dir, name: `${label}-build`, engine: true, env: { OMNIGATE_WEBHOOKS_PER_ENDPOINT_CONCURRENCY: '1' } })
    try {
      const created = await api(builder, 'POST', '/webhooks', { url: `${subscriber.url}/hook`, event_types: WEBHOOK_EVENTS })
      if (created.status !== 201) throw new Error(`POST /webhooks answered ${created.status}: ${JSON.stringify(created.body)}`)
      await sendBatches(builder, 'sandbox', opts.drainMessages, 1000, 4)
      const db = openReadonly(builder.dbPath)
      try {
        await waitFor(
          `${label}: the backlog's deliveries written`,
          () => {
            const written = scalar(db, 'SELECT count(*) FROM webhook_deliveries')
            return { done: written >= expected, progress: written }
          },
          { everyMs: 100, stallMs: 30_000 },
        )
      } finally {
        db.close()
      }
    } finally {
      await builder.stop()
    }
    const buildSeconds = (performance.now() - t0) / 1000
    const backlog = statusCounts(builder.dbPath).pending ?? 0
    log(`${label}: ${backlog} of ${expected} deliveries pending after ${buildSeconds.toFixed(1)} s; restarting with the default settings`)
    await subscriber.reset()

    // 2. The drain.
    gw = await startGateway(bench, { dir, name: label, engine: true })
    const sampler = sampleUsage(gw.pid)
    const complete = await arrived(subscriber, `${label} drain`, backlog, { deadlineMs: opts.deadlineS * 1000, everyMs: 50 })
    const usage = sampler.stop()
    const stats = await subscriber.stats()
    await gw.stop()
    const run: WebhooksDrainRun = {
      messages: opts.drainMessages,
      backlog,
      delivered: stats.unique,
      complete,
      deliveries_per_s: arrivalRate(stats),
      seconds: round(arrivalSpan(stats), 3),
      build_seconds: round(buildSeconds, 1),
      peak_rss_mb: round(usage.peakRssMb, 1),
      cpu_s: round(usage.cpuS, 2),
      cpu_cores: round(usage.cores, 2),
      db_status: statusCounts(gw.dbPath),
      expected_deliveries: expected,
    }
    log(`${label}: ${run.delivered}/${backlog} in ${run.seconds} s = ${run.deliveries_per_s}/s; database after: ${JSON.stringify(run.db_status)}`)
    if (complete && (run.db_status.succeeded ?? 0) !== expected) {
      log(`webhooks drain: WARNING ${expected - (run.db_status.succeeded ?? 0)} deliveries not recorded as succeeded`)
    }
    return run
  } finally {
    await gw?.stop()
    await subscriber.stop()
  }
}

/** Seconds from the first to the last arrival at the subscriber (0 before any). */
const arrivalSpan = (stats: SinkStats) => (stats.first_ms === null ? 0 : Math.max((stats.last_ms! - stats.first_ms) / 1000, 0.001))

/** Distinct deliveries / (last − first arrival) at the subscriber. */
const arrivalRate = (stats: SinkStats) => (stats.first_ms === null ? 0 : round(stats.unique / arrivalSpan(stats)))

function statusCounts(dbPath: string): Record<string, number> {
  const db = openReadonly(dbPath)
  try {
    const rows = db.query('SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status').all() as { status: string; n: number }[]
    return Object.fromEntries(rows.map((r) => [r.status, r.n]))
  } finally {
    db.close()
  }
}

/** Single messages at a steady rate; each delivery's event → arrival time at the subscriber. */
async function latencyPhase(gw: { url: string }, subscriber: Sink, opts: WebhooksOptions): Promise<WebhooksRun['latency']> {
  await subscriber.reset()
  const load = await steadySends(gw, 'sandbox', opts.rate, opts.latencySeconds)
  const accepted = load.total.status['202'] ?? 0
  const expected = accepted * WEBHOOK_EVENTS.length
  await awaitArrivals(subscriber, 'webhook deliveries at a steady rate', expected, 60_000)
  const lags = await subscriber.lags()
  const lat = summarize(lags)
  const non202 = Object.fromEntries(Object.entries(load.total.status).filter(([s]) => s !== '202'))
  log(
    `webhooks: event → subscriber at ${opts.rate} msg/s (${opts.rate * WEBHOOK_EVENTS.length} deliveries/s): ` +
      `p50 ${lat.p50.toFixed(1)} ms, p95 ${lat.p95.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms (${lags.length}/${expected} arrived` +
      `${lags.length < expected ? '; the percentiles leave the missing ones out' : ''}` +
      `${Object.keys(non202).length ? `, other answers ${JSON.stringify(non202)}` : ''})`,
  )
  return {
    rate_per_s: opts.rate,
    seconds: opts.latencySeconds,
    accepted_messages: accepted,
    expected_deliveries: expected,
    arrived_deliveries: lags.length,
    missing: Math.max(0, expected - lags.length),
    latency_ms: { p50: round(lat.p50, 2), p95: round(lat.p95, 2), p99: round(lat.p99, 2), max: round(lat.max, 2), mean: round(lat.mean, 2) },
    non_202: non202,
  }
}

export async function webhooks(bench: BenchOptions): Promise<WebhooksSummary> {
  const opts: WebhooksOptions = {
    messages: bench.quick ? 2000 : 10_000,
    drainMessages: bench.quick ? 5000 : 20_000,
    deadlineS: bench.quick ? 15 : 120,
    latencySeconds: bench.quick ? 4 : 15,
    rate: 1000,
  }
  const drains: WebhooksDrainRun[] = []
  const runs: WebhooksRun[] = []
  for (let i = 0; i < bench.runs; i++) {
    drains.push(await webhooksDrainRun(bench, opts, i))
    runs.push(await webhooksRun(bench, opts, i))
  }
  const withLatency = runs.filter((r) => r.latency)
  return {
    deliveries_per_s: round(median(drains.map((r) => r.deliveries_per_s))),
    pipeline_per_s: round(median(runs.map((r) => r.deliveries_per_s))),
    deliverer_per_s: round(median(runs.map((r) => r.deliverer_per_s))),
    p50_ms: round(median(withLatency.map((r) => r.latency!.latency_ms.p50)), 2),
    p95_ms: round(median(withLatency.map((r) => r.latency!.latency_ms.p95)), 2),
    p99_ms: round(median(withLatency.map((r) => r.latency!.latency_ms.p99)), 2),
    peak_rss_mb: round(Math.max(...runs.map((r) => r.peak_rss_mb)), 1),
    cpu_s: round(median(runs.map((r) => r.cpu_s)), 2),
    cpu_cores: round(median(runs.map((r) => r.cpu_cores)), 2),
    messages: opts.messages,
    drain_backlog: round(median(drains.map((r) => r.backlog))),
    complete: runs.every((r) => r.complete) && drains.every((r) => r.complete),
    not_succeeded: [...runs, ...drains].reduce((sum, r) => sum + (r.expected_deliveries - (r.db_status.succeeded ?? 0)), 0),
    latency_missing: runs.reduce((sum, r) => sum + (r.latency?.missing ?? 0), 0),
    drains,
    runs,
  }
}
