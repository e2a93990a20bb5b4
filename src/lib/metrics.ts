/**
 * Prometheus metrics (prom-client): one process-wide registry and its metric objects.
 *
 * The hot paths only bump counters: a status change or a failed attempt is one Map increment
 * keyed by channel id; the channel's namespace slug, name and type are looked up once per scrape
 * (one query), which also keeps raw ids out of the labels. Queue depth is measured at scrape time
 * by one query over the dispatcher's partial index. Label values are bounded: HTTP routes are
 * route templates (never raw paths), methods a fixed set, and message series one per
 * namespace × channel × status (see docs/operations/operations.md for the arithmetic).
 */
import { eq, inArray, sql } from 'drizzle-orm'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { channels, namespaces } from '../store/schema'
import type { Store } from '../store/store'

export const metricsRegistry = new Registry()

const httpRequests = new Counter({
  name: 'omnigate_http_requests_total',
  help: 'HTTP requests answered, by method, route template and status code.',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [metricsRegistry],
})

const httpDuration = new Histogram({
  name: 'omnigate_http_request_duration_seconds',
  help: 'Time to answer an HTTP request, by method and route template.',
  labelNames: ['method', 'route'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [metricsRegistry],
})

const messagesTotal = new Counter({
  name: 'omnigate_messages_total',
  help: 'Message status changes seen by this instance, by namespace slug, channel name and new status.',
  labelNames: ['namespace', 'channel', 'status'] as const,
  registers: [metricsRegistry],
})

const queueDepth = new Gauge({
  name: 'omnigate_queue_messages',
  help: 'Outbound messages not final yet: due (claimable now), scheduled (due later: send_at or a retry backoff), leased (being sent).',
  labelNames: ['state'] as const,
  registers: [metricsRegistry],
})

const dispatchLatency = new Histogram({
  name: 'omnigate_dispatch_latency_seconds',
  help: 'From acceptance (or send_at, for a scheduled message) to the provider taking the message.',
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600],
  registers: [metricsRegistry],
})

const connectorErrors = new Counter({
  name: 'omnigate_connector_errors_total',
  help: 'Failed send attempts, by channel type and error class (transient, permanent, rate-limited).',
  labelNames: ['type', 'class'] as const,
  registers: [metricsRegistry],
})

const webhookDeliveries = new Counter({
  name: 'omnigate_webhook_deliveries_total',
  help: 'Webhook delivery attempts, by outcome (succeeded, retry, dead, disable).',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
})

/** Status changes per `channelId \0 status`, since this process started. */
const statusChanges = new Map<string, number>()
/** Failed attempts per `channelId \0 class`. */
const attemptErrors = new Map<string, number>()

type ChannelLabels = { namespace: string; channel: string; type: string }
/** Last known names of the channels counted above; kept after a channel is deleted. */
const channelLabels = new Map<string, ChannelLabels>()

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/** Series handles per `method route status`: prom-client hashes label objects on every call otherwise. */
const httpSeries = new Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>()

/** One answered HTTP request. `route` must be a route template, never the raw path. */
export function recordHttpRequest(method: string, route: string, status: number, seconds: number): void {
  const m = METHODS.has(method) ? method : 'OTHER'
  const key = `${m} ${route} ${status}`
  let series = httpSeries.get(key)
  if (!series) {
    series = { count: httpRequests.labels({ method: m, route, status }), duration: httpDuration.labels({ method: m, route }) }
    httpSeries.set(key, series)
  }
  series.count.inc()
  series.duration.observe(seconds)
}

/** Status changes of one message (called where every change is recorded: appendEvents). */
export function countMessageStatuses(channelId: string, changes: readonly { status: string }[]): void {
  for (const change of changes) bump(statusChanges, `${channelId}\u0000${change.status}`)
}

/** New messages (accepted outbound, received inbound): their first status, which no event records. */
export function countNewMessageStatuses(rows: readonly { channelId: string; status: string }[]): void {
  for (const row of rows) bump(statusChanges, `${row.channelId}\u0000${row.status}`)
}

/** The outcome of one send attempt: dispatch latency when the provider took it, else its error class. */
export function recordAttempt(
  message: { channelId: string; createdAt: number; sendAt: number | null },
  outcome: { kind: string; error?: { class: string } },
  at = Date.now(),
): void {
  if (outcome.kind === 'sent') dispatchLatency.observe(Math.max(0, at - (message.sendAt ?? message.createdAt)) / 1000)
  else if (outcome.error) bump(attemptErrors, `${message.channelId}\u0000${outcome.error.class}`)
}

/** Counts a webhook delivery's outcome and returns it (so it wraps the expression in place). */
export function countWebhookOutcome<T extends { kind: string }>(outcome: T): T {
  webhookDeliveries.inc({ outcome: outcome.kind })
  return outcome
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}

let processMetrics = false
/**
 * Adds prom-client's process metrics once per process, minus those Bun does not implement
 * (always 0: active handles/requests/resources, V8 heap spaces). The `_total` gauges among them
 * also fail `promtool check metrics`.
 */
export function enableProcessMetrics(): void {
  if (processMetrics) return
  processMetrics = true
  collectDefaultMetrics({ register: metricsRegistry })
  for (const name of [
    'nodejs_active_resources',
    'nodejs_active_resources_total',
    'nodejs_active_handles',
    'nodejs_active_handles_total',
    'nodejs_active_requests',
    'nodejs_active_requests_total',
    'nodejs_heap_space_size_total_bytes',
    'nodejs_heap_space_size_used_bytes',
    'nodejs_heap_space_size_available_bytes',
  ]) {
    metricsRegistry.removeSingleMetric(name)
  }
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
  queueDepth.set({ state: 'due' }, Number(depth.due))
  queueDepth.set({ state: 'scheduled' }, Number(depth.scheduled))
  queueDepth.set({ state: 'leased' }, Number(depth.leased))
}

/** Replaces a counter's series by the per-channel totals, named; channels never resolved are left out. */
function publish<L extends string>(counter: Counter<L>, counts: Map<string, number>, labels: (c: ChannelLabels, rest: string) => Record<L, string>): void {
  counter.reset()
  for (const [key, value] of counts) {
    const split = key.indexOf('\u0000')
    const names = channelLabels.get(key.slice(0, split))
    if (names) counter.inc(labels(names, key.slice(split + 1)), value)
  }
}

/** The exposition for one scrape: measures the queue, names the channel series, renders. */
export async function scrapeMetrics(store: Store, at = Date.now()): Promise<{ contentType: string; body: string }> {
  await Promise.all([measureQueue(store, at), refreshChannelLabels(store)])
  publish(messagesTotal, statusChanges, (c, status) => ({ namespace: c.namespace, channel: c.channel, status }))
  publish(connectorErrors, attemptErrors, (c, errorClass) => ({ type: c.type, class: errorClass }))
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() }
}
