/**
 * Dashboard: messages per hour by status over the last day (uPlot), delivery rate, failures by
 * reason, the queue, failing channels and recent webhook failures. Refreshed by htmx every
 * 30 s (the same handler answers with the inner part only).
 */
import { Hono, type Context } from 'hono'
import type { AnalyticsReport } from '../../domain/analytics/query'
import type { CountedStatus } from '../../domain/analytics/rollups'
import type { Deps } from '../../domain/deps'
import { can, nsUrl, requirePortalScope } from '../access'
import { EmptyState, StatusBadge, Time } from '../components'
import type { PortalEnv } from '../env'
import { fragment, render } from '../layout'
import { failingChannels, lastDay, queueDepth, recentWebhookFailures } from './dashboard-data'

/** The statuses the chart draws, with their colours. */
const CHART_SERIES: { status: CountedStatus; label: string; color: string }[] = [
  { status: 'queued', label: 'accepted', color: '#6b7280' },
  { status: 'sent', label: 'sent', color: '#1f5fbf' },
  { status: 'delivered', label: 'delivered', color: '#18794e' },
  { status: 'read', label: 'read', color: '#0e7490' },
  { status: 'received', label: 'received', color: '#7c3aed' },
  { status: 'failed', label: 'failed', color: '#b42318' },
]

const percent = (rate: number | null) => (rate === null ? '—' : `${(rate * 100).toFixed(1)} %`)

function chartSpec(report: AnalyticsReport) {
  const shown = CHART_SERIES.filter((s) => report.totals[s.status] > 0)
  return {
    x: report.buckets.map((b) => Math.floor(Date.parse(b.start) / 1000)),
    series: shown.map((s) => ({ label: s.label, color: s.color, values: report.buckets.map((b) => b.counts[s.status] ?? 0) })),
  }
}

function Card(props: { label: string; value: string | number }) {
  return (
    <div class="card">
      <div class="value">{props.value}</div>
      <div class="label">{props.label}</div>
    </div>
  )
}

function Traffic(props: { report: AnalyticsReport; sendUrl: string | null }) {
  const spec = chartSpec(props.report)
  if (spec.series.length === 0) {
    return (
      <EmptyState title="No messages in the last 24 hours">
        {props.sendUrl ? (
          <p>
            <a href={props.sendUrl}>Send a test message</a> to see it here.
          </p>
        ) : null}
      </EmptyState>
    )
  }
  return (
    <>
      <div class="chart" data-chart={JSON.stringify(spec)} role="img" aria-label="Messages per hour by status, last 24 hours"></div>
      <details>
        <summary>As a table</summary>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Hour (UTC)</th>
                {spec.series.map((s) => (
                  <th>{s.label}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {props.report.buckets.map((b, i) => (
                <tr>
                  <td>{b.start.slice(0, 16).replace('T', ' ')}</td>
                  {spec.series.map((s) => (
                    <td>{s.values[i]}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </>
  )
}

async function DashboardBody(props: { c: Context<PortalEnv>; deps: Deps }) {
  const { c, deps } = props
  const namespaceId = c.get('access').namespaceId
  const [report, queue, channels, hookFailures] = await Promise.all([
    lastDay(deps, namespaceId),
    queueDepth(deps, namespaceId),
    can(c, 'channels:read') ? failingChannels(deps, namespaceId) : null,
    can(c, 'webhooks:read') ? recentWebhookFailures(deps, namespaceId) : null,
  ])
  const waiting = queue.reduce((sum, q) => sum + q.count, 0)
  const sendUrl = can(c, 'messages:send') ? nsUrl(c, '/messages/new') : null
  return (
    <>
      <div class="cards">
        <Card label="Accepted, 24 h" value={report.totals.queued} />
        <Card label="Delivered, 24 h" value={report.totals.delivered} />
        <Card label="Failed, 24 h" value={report.totals.failed} />
        <Card label="Delivery rate (delivered / sent)" value={percent(report.delivery_rate)} />
        <Card label="Failure rate (failed / accepted)" value={percent(report.failure_rate)} />
        <Card label="In the queue" value={waiting} />
      </div>
      <section class="panel">
        <h2>Messages per hour by status</h2>
        <Traffic report={report} sendUrl={sendUrl} />
      </section>
      <div class="grid-2">
        <section class="panel">
          <h2>Failures by reason</h2>
          {report.top_failures.length === 0 ? (
            <EmptyState title="No failures in the last 24 hours" />
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Reason</th>
                  <th>Messages</th>
                </tr>
              </thead>
              <tbody>
                {report.top_failures.map((f) => (
                  <tr>
                    <td>
                      <code>{f.code}</code>
                    </td>
                    <td>{f.count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section class="panel">
          <h2>Queue</h2>
          {queue.length === 0 ? (
            <EmptyState title="Nothing waiting to be sent" />
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Status</th>
                  <th>Messages</th>
                </tr>
              </thead>
              <tbody>
                {queue.map((q) => (
                  <tr>
                    <td>
                      <a href={nsUrl(c, `/messages?status=${q.status}`)}>
                        <StatusBadge status={q.status} />
                      </a>
                    </td>
                    <td>{q.count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
      {channels ? (
        <section class="panel">
          <h2>Failing channels</h2>
          {channels.length === 0 ? (
            <EmptyState title="All channels are healthy" />
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>Channel</th>
                    <th>Status</th>
                    <th>Success, last hour</th>
                    <th>Last error</th>
                  </tr>
                </thead>
                <tbody>
                  {channels.map((ch) => (
                    <tr>
                      <td>
                        {ch.name} <span class="muted">({ch.type})</span>
                      </td>
                      <td>
                        <StatusBadge status={ch.status} />
                      </td>
                      <td>{percent(ch.successRate1h ?? null)}</td>
                      <td>{ch.lastErrorCode ? `${ch.lastErrorCode}: ${ch.lastErrorMessage ?? ''}` : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      ) : null}
      {hookFailures ? (
        <section class="panel">
          <h2>Recent webhook failures</h2>
          {hookFailures.length === 0 ? (
            <EmptyState title="No failed webhook deliveries" />
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>When</th>
                    <th>Webhook</th>
                    <th>Event</th>
                    <th>Response</th>
                  </tr>
                </thead>
                <tbody>
                  {hookFailures.map((f) => (
                    <tr>
                      <td>
                        <Time at={f.at} />
                      </td>
                      <td class="mono">{f.webhook}</td>
                      <td>{f.eventType}</td>
                      <td>{f.statusCode ?? f.error ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      ) : null}
    </>
  )
}

export function dashboardPages(deps: Deps) {
  return new Hono<PortalEnv>().get('/dashboard', async (c) => {
    requirePortalScope(c, 'analytics:read')
    const body = <DashboardBody c={c} deps={deps} />
    if (c.req.header('hx-request')) return c.html(await fragment(body))
    const access = c.get('access')
    return render(
      c,
      { title: `Dashboard · ${access.namespaceSlug}`, section: 'dashboard', charts: true },
      <>
        <h1>Dashboard</h1>
        <p class="muted">Namespace {access.namespaceSlug}, last 24 hours (UTC). Refreshes every 30 seconds.</p>
        <div hx-get={nsUrl(c, '/dashboard')} hx-trigger="every 30s">
          {body}
        </div>
      </>,
    )
  })
}
