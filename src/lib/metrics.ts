/**
 * Prometheus metrics: plain counters and histograms kept here, exposed through a prom-client
 * registry that is loaded and built on the first scrape (prom-client is ~12 MB of an idle
 * gateway's memory that an instance nobody scrapes should not carry; docs/performance.md).
 * Process metrics start with that first scrape too (CPU and memory are read from the OS, so they
 * are whole; the event-loop lag and GC figures cover the time since).
 *
 * The hot paths only bump counters: a status change or a failed attempt is one Map increment
 * keyed by channel id; the channel's namespace slug, name and type are looked up once per scrape
 * (one query), which also keeps raw ids out of the labels. Queue depth is measured at scrape time
 * by one query over the dispatcher's partial index. Label values are bounded: HTTP routes are
 * route templates (never raw paths), methods a fixed set, and message series one per
 * namespace × channel × status (see docs/operations/operations.md for the arithmetic).
 */
import { eq, inArray, sql } from 'drizzle-orm'
import type { Registry } from 'prom-client'
import { channels, namespaces } from '../store/schema'
import type { Store } from '../store/store'

type Labels = Record<string, string | number>
type Sample = { labels: Labels; value: number; metricName?: string }

/** A fixed-bucket histogram kept by hand: prom-client's `le` buckets, `_sum` and `_count`. */
class Buckets {
  readonly counts: number[]
  sum = 0
  count = 0
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array(bounds.length).fill(0)
  }
  observe(v: number): void {
    this.sum += v
    this.count++
    for (let i = 0; i < this.bounds.length; i++) {
      if (v <= this.bounds[i]!) {
        this.counts[i]!++
        break
      }
    }
  }
  /** Cumulative samples, as Prometheus wants them. */
  samples(name: string, labels: Labels): Sample[] {
    const out: Sample[] = []
    let seen = 0
    this.bounds.forEach((le, i) => {
      seen += this.counts[i]!
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: seen })
    })
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: this.count })
    out.push({ metricName: `${name}_sum`, labels, value: this.sum })
    out.push({ metricName: `${name}_count`, labels, value: this.count })
    return out
  }
}

const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const DISPATCH_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600]

/** Per `method route status`: the count; per `method route`: the latency histogram. */
const httpCounts = new Map<string, { labels: Labels; n: number }>()
const httpDurations = new Map<string, { labels: Labels; buckets: Buckets }>()
const dispatchLatency = new Buckets(DISPATCH_BUCKETS)
const webhookOutcomes = new Map<string, number>()
let queueDepth = { due: 0, scheduled: 0, leased: 0 }

/** Status changes per `channelId \0 status`, since this process started. */
const statusChanges = new Map<string, number>()
/** Failed attempts per `channelId \0 class`. */
const attemptErrors = new Map<string, number>()

type ChannelLabels = { namespace: string; channel: string; type: string }
/** Last known names of the channels counted above; kept after a channel is deleted. */
const channelLabels = new Map<string, ChannelLabels>()

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/** One answered HTTP request. `route` must be a route template, never the raw path. */
export function recordHttpRequest(method: string, route: string, status: number, seconds: number): void {
  const m = METHODS.has(method) ? method : 'OTHER'
  const key = `${m} ${route} ${status}`
  const count = httpCounts.get(key)
  if (count) count.n++
  else httpCounts.set(key, { labels: { method: m, route, status }, n: 1 })
  const durationKey = `${m} ${route}`
  let duration = httpDurations.get(durationKey)
  if (!duration) httpDurations.set(durationKey, (duration = { labels: { method: m, route }, buckets: new Buckets(HTTP_BUCKETS) }))
  duration.buckets.observe(seconds)
}

/** Status changes (outside a store transaction; inside one, StatusCounts adds them at commit). */
export function countMessageStatuses(changes: readonly { channelId: string; status: string }[]): void {
  for (const c of changes) bump(statusChanges, `${c.channelId}\u0000${c.status}`)
}

/**
 * Status changes gathered in a store transaction and counted when it commits (a commit batch:
 * src/store/store.ts), so a write that is rolled back adds nothing to omnigate_messages_total.
 */
export class StatusCounts {
  readonly pending = new Map<string, number>()
  add(channelId: string, status: string): void {
    bump(this.pending, `${channelId}\u0000${status}`)
  }
  absorb(other: StatusCounts): void {
    for (const [key, n] of other.pending) bump(this.pending, key, n)
  }
  async flush(): Promise<void> {
    for (const [key, n] of this.pending) bump(statusChanges, key, n)
    this.pending.clear()
  }
}

/** The outcome of one send attempt: dispatch latency when the provider took it, else its error class. */
export function recordAttempt(
  message: { channelId: string; createdAt: number; sendAt: number | null },
  outcome: { kind: string; error?: { class: string } },
  at = Date.now(),
): void {
  // From when it was due: its send_at, or its acceptance when that is later (a send_at already past).
  if (outcome.kind === 'sent') dispatchLatency.observe(Math.max(0, at - Math.max(message.sendAt ?? 0, message.createdAt)) / 1000)
  else if (outcome.error) bump(attemptErrors, `${message.channelId}\u0000${outcome.error.class}`)
}

/** Counts a webhook delivery's outcome and returns it (so it wraps the expression in place). */
export function countWebhookOutcome<T extends { kind: string }>(outcome: T): T {
  webhookOutcomes.set(outcome.kind, (webhookOutcomes.get(outcome.kind) ?? 0) + 1)
  return outcome
}

function bump(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n)
}

let processMetrics = false
/** Asks for prom-client's process metrics; they start with the first scrape (see the top). */
export function enableProcessMetrics(): void {
  processMetrics = true
}

/** Process metrics Bun does not implement (always 0), whose `_total` gauges also fail promtool. */
const UNSUPPORTED_PROCESS_METRICS = [
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_heap_space_size_total_bytes',
  'nodejs_heap_space_size_used_bytes',
  'nodejs_heap_space_size_available_bytes',
]

type MetricType = 'counter' | 'gauge' | 'histogram'
const metric = (name: string, type: MetricType, help: string, samples: () => Sample[]) => ({
  name,
  help,
  type,
  aggregator: 'sum' as const,
  get: async () => ({ name, help, type, aggregator: 'sum', values: samples() }),
  reset() {},
})

let registry: Promise<Registry> | null = null

/** The process-wide registry, built with prom-client on first use (the first scrape). */
export function metricsRegistry(): Promise<Registry> {
  registry ??= import('prom-client').then((prom) => {
    const r = new prom.Registry()
    const add = (m: ReturnType<typeof metric>) => r.registerMetric(m as never)
    add(
      metric('omnigate_http_requests_total', 'counter', 'HTTP requests answered, by method, route template and status code.', () =>
        [...httpCounts.values()].map((c) => ({ labels: c.labels, value: c.n })),
      ),
    )
    add(
      metric('omnigate_http_request_duration_seconds', 'histogram', 'Time to answer an HTTP request, by method and route template.', () =>
        [...httpDurations.values()].flatMap((d) => d.buckets.samples('omnigate_http_request_duration_seconds', d.labels)),
      ),
    )
    add(
      metric('omnigate_messages_total', 'counter', 'Message status changes seen by this instance, by namespace slug, channel name and new status.', () =>
        named(statusChanges, (c, status) => ({ namespace: c.namespace, channel: c.channel, status })),
      ),
    )
    add(
      metric(
        'omnigate_queue_messages',
        'gauge',
        'Outbound messages not final yet: due (claimable now), scheduled (due later: send_at or a retry backoff), leased (being sent).',
        () => (['due', 'scheduled', 'leased'] as const).map((state) => ({ labels: { state }, value: queueDepth[state] })),
      ),
    )
    add(
      metric('omnigate_dispatch_latency_seconds', 'histogram', 'From acceptance (or send_at, for a scheduled message) to the provider taking the message.', () =>
        dispatchLatency.samples('omnigate_dispatch_latency_seconds', {}),
      ),
    )
    add(
      metric('omnigate_connector_errors_total', 'counter', 'Failed send attempts, by channel type and error class (transient, permanent, rate-limited).', () =>
        named(attemptErrors, (c, errorClass) => ({ type: c.type, class: errorClass })),
      ),
    )
    add(
      metric('omnigate_webhook_deliveries_total', 'counter', 'Webhook delivery attempts, by outcome (succeeded, retry, dead, disable).', () =>
        [...webhookOutcomes].map(([outcome, value]) => ({ labels: { outcome }, value })),
      ),
    )
    if (processMetrics) {
      prom.collectDefaultMetrics({ register: r })
      for (const name of UNSUPPORTED_PROCESS_METRICS) r.removeSingleMetric(name)
    }
    return r
  })
  return registry
}

/** Channel ids per query when resolving names (well under SQLite's variable limit). */
const LOOKUP_CHUNK = 500

async function refreshChannelLabels(store: Store): Promise<void> {
  const ids = new Set<string>()
  for (const key of [...statusChanges.keys(), ...attemptErrors.keys()]) ids.add(key.slice(0, key.indexOf('\u0000')))
  const all = [...ids]
  for (let i = 0; i < all.length; i += LOOKUP_CHUNK) {
    const rows = await store.read
      .select({ id: channels.id, channel: channels.name, type: channels.type, namespace: namespaces.slug })
      .from(channels)
      .innerJoin(namespaces, eq(namespaces.id, channels.namespaceId))
      .where(inArray(channels.id, all.slice(i, i + LOOKUP_CHUNK)))
    for (const r of rows) channelLabels.set(r.id, { namespace: r.namespace, channel: r.channel, type: r.type })
  }
}

/**
 * One query over the partial index the dispatcher claims from (`messages_due`: only unfinished
 * outbound work is in it), so it costs the size of the backlog, not of the message history.
 */
async function measureQueue(store: Store, at: number): Promise<void> {
  const rows = (await store.read.all(sql`
    SELECT
      coalesce(sum(lease_until > ${at}), 0) AS leased,
      coalesce(sum(coalesce(lease_until, 0) <= ${at} AND next_attempt_at <= ${at}), 0) AS due,
      coalesce(sum(coalesce(lease_until, 0) <= ${at} AND next_attempt_at > ${at}), 0) AS scheduled
    FROM messages WHERE next_attempt_at IS NOT NULL`)) as { leased: number; due: number; scheduled: number }[]
  const depth = rows[0] ?? { leased: 0, due: 0, scheduled: 0 }
  queueDepth = { due: Number(depth.due), scheduled: Number(depth.scheduled), leased: Number(depth.leased) }
}

/**
 * Per-channel totals as samples, named; channels never resolved are left out. Channels that get
 * the same labels (two Twilio channels under `{type, class}`; a purged namespace's slug given to
 * a new one) are added up: a series appears once, or Prometheus keeps one and drops the rest.
 */
function named(counts: Map<string, number>, labels: (c: ChannelLabels, rest: string) => Labels): Sample[] {
  const out = new Map<string, Sample>()
  for (const [key, value] of counts) {
    const split = key.indexOf('\u0000')
    const names = channelLabels.get(key.slice(0, split))
    if (!names) continue
    const sample = { labels: labels(names, key.slice(split + 1)), value }
    const id = JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1)))
    const seen = out.get(id)
    if (seen) seen.value += value
    else out.set(id, sample)
  }
  return [...out.values()]
}

/** The exposition for one scrape: measures the queue, names the channel series, renders. */
export async function scrapeMetrics(store: Store, at = Date.now()): Promise<{ contentType: string; body: string }> {
  await Promise.all([measureQueue(store, at), refreshChannelLabels(store)])
  const r = await metricsRegistry()
  return { contentType: r.contentType, body: await r.metrics() }
}
