/**
 * What the dashboard shows, read through the domain: message analytics (the same report as
 * `GET /v1/namespaces/{ns}/analytics/messages`), channel health, failed webhook deliveries,
 * and the namespace's queue.
 */
import { sql } from 'drizzle-orm'
import { HEALTH_FAILING_RATE } from '../../domain/analytics/health'
import { type AnalyticsReport, messageAnalytics } from '../../domain/analytics/query'
import { type ChannelWithHealth, listChannels } from '../../domain/channels'
import type { Deps } from '../../domain/deps'
import { listDeliveries } from '../../domain/webhooks/deliveries'
import { listWebhooks } from '../../domain/webhooks/endpoints'
import { maskUrl } from '../../lib/url-guard'

/** Webhooks whose failures are looked at, and failures shown. */
const WEBHOOKS_SCANNED = 20
const WEBHOOK_FAILURES_SHOWN = 10

export interface WebhookFailure {
  id: string
  webhook: string
  eventType: string
  statusCode: number | null
  error: string | null
  at: string | null
}

/** The last 24 hours by hour, in UTC. */
export function lastDay(deps: Deps, namespaceId: string): Promise<AnalyticsReport> {
  return messageAnalytics(deps, { namespaceId }, { interval: 'hour' })
}

/** Channels failing now, or failing more than half their attempts in the last hour. */
export async function failingChannels(deps: Deps, namespaceId: string): Promise<ChannelWithHealth[]> {
  const channels = await listChannels(deps, namespaceId)
  return channels.filter((ch) => ch.status === 'failing' || (ch.successRate1h != null && ch.successRate1h < 1 - HEALTH_FAILING_RATE))
}

/** The most recent failed deliveries across the namespace's webhooks (URLs cut to their origin). */
export async function recentWebhookFailures(deps: Deps, namespaceId: string): Promise<WebhookFailure[]> {
  const hooks = (await listWebhooks(deps, namespaceId)).slice(0, WEBHOOKS_SCANNED)
  const pages = await Promise.all(hooks.map((h) => listDeliveries(deps, namespaceId, h.id, { limit: WEBHOOK_FAILURES_SHOWN, status: 'failed' })))
  return pages
    .flatMap((page, i) =>
      page.data.map((d) => ({ id: d.id, webhook: maskUrl(hooks[i]!.url), eventType: d.event_type, statusCode: d.last_status_code, error: d.last_error, at: d.updated_at })),
    )
    .sort((a, b) => (a.id < b.id ? 1 : -1))
    .slice(0, WEBHOOK_FAILURES_SHOWN)
}

/** Unfinished outbound messages of the namespace by status (scheduled, queued, sending). */
export async function queueDepth(deps: Deps, namespaceId: string): Promise<{ status: string; count: number }[]> {
  // `+namespace_id` keeps SQLite on the small partial index of unfinished work (messages_due)
  // rather than walking the namespace's whole history through messages_ns_id.
  const rows = (await deps.store.read.all(sql`
    SELECT status, count(*) AS n FROM messages
    WHERE next_attempt_at IS NOT NULL AND +namespace_id = ${namespaceId}
    GROUP BY status ORDER BY status`)) as { status: string; n: number }[]
  return rows.map((r) => ({ status: r.status, count: Number(r.n) }))
}
