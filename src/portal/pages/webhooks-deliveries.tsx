/**
 * A webhook's delivery log (`listDeliveries`, as `GET …/webhooks/{id}/deliveries`): each
 * delivery with its response code, latency and attempts; retry one (`retryDelivery`) and
 * recover every failed one since a time (`recoverDeliveries`).
 */
import { Hono, type Context } from 'hono'
import { z } from 'zod'
import type { Deps } from '../../domain/deps'
import { AppError } from '../../domain/errors'
import { listDeliveries, recoverDeliveries, retryDelivery } from '../../domain/webhooks/deliveries'
import { getWebhook, type Webhook } from '../../domain/webhooks/endpoints'
import { EVENT_TYPES } from '../../domain/webhooks/event-types'
import { can, nsUrl, requirePortalScope } from '../access'
import { auditPortal } from '../audit'
import { ActionButton, DateTimeField, EmptyState, Pager, PostForm, Select, StatusBadge, Time } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, type FormState, formFailure, readForm } from '../forms'
import { apiTime, apiTimes, offsetField } from '../local-time'

const PAGE_SIZE = 25
const FILTERS = ['status', 'event_type', 'since'] as const
// The query parameters the filter form sends: the time comes with its browser's offset.
const QUERY = [...FILTERS, offsetField('since')]
// The API's query schema (src/http/routes/webhooks.ts), with the portal's page size.
const deliveryQuerySchema = z.strictObject({
  limit: z.int().min(1).max(100),
  cursor: z.string().max(100).optional(),
  status: z.enum(['pending', 'succeeded', 'failed']).optional(),
  event_type: z.string().max(100).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
})
const recoverSchema = z.strictObject({ since: z.iso.datetime({ offset: true }) })

type DeliveryPage = Awaited<ReturnType<typeof listDeliveries>>
type DeliveryRow = DeliveryPage['data'][number]

/** The log as one page shows it: the filters (with their errors), the rows and the next cursor. */
export interface DeliveryLogData {
  filters: FormState
  page: DeliveryPage
  cursor: string | null
  status: number
}

/** Reads the filters from the query and loads one page of the log (a bad filter names its field). */
export async function loadDeliveryLog(deps: Deps, c: Context<PortalEnv>, hookId: string): Promise<DeliveryLogData> {
  const values: Record<string, string> = {}
  for (const name of QUERY) {
    const v = c.req.query(name)?.trim()
    if (v) values[name] = v.slice(0, 200)
  }
  const cursor = c.req.query('cursor')?.slice(0, 100) || null
  try {
    const query = deliveryQuerySchema.parse({ ...apiTimes(values, ['since']), limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) })
    return { filters: emptyForm(values), page: await listDeliveries(deps, c.get('access').namespaceId, hookId, query), cursor, status: 200 }
  } catch (error) {
    const { state, status } = formFailure(error, values, { fields: FILTERS })
    return { filters: state, page: { data: [], next_cursor: null }, cursor, status }
  }
}

function Attempts(props: { d: DeliveryRow }) {
  const log = props.d.attempt_log ?? []
  if (log.length === 0) return <span>{props.d.attempts}</span>
  return (
    <details>
      <summary>{props.d.attempts}</summary>
      <ol class="attempts">
        {log.map((a) => (
          <li>
            <Time at={a.at} /> · {a.status_code ?? 'no answer'} · {a.latency_ms ?? '—'} ms
            {a.error ? <div class="field-error">{a.error}</div> : null}
            {a.response ? <pre>{a.response}</pre> : null}
          </li>
        ))}
      </ol>
    </details>
  )
}

function DeliveryTable(props: { c: Context<PortalEnv>; hook: Webhook; rows: DeliveryRow[] }) {
  const { c, hook } = props
  const retry = can(c, 'webhooks:write') && hook.enabled
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th>Created</th>
            <th>Event</th>
            <th>Status</th>
            <th>Response</th>
            <th>Latency</th>
            <th>Attempts</th>
            <th>Next attempt</th>
            {retry ? <th>Retry</th> : null}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((d) => {
            const last = d.attempt_log?.at(-1)
            return (
              <tr id={`delivery-${d.id}`}>
                <td>
                  <Time at={d.created_at} />
                </td>
                <td>
                  {d.event_type}
                  <div class="muted mono">{d.event_id}</div>
                </td>
                <td>
                  <StatusBadge status={d.status} />
                </td>
                <td>
                  {d.last_status_code ?? <span class="muted">—</span>}
                  {d.last_error ? <div class="muted">{d.last_error}</div> : null}
                </td>
                <td>{last?.latency_ms !== undefined && last.latency_ms !== null ? `${last.latency_ms} ms` : '—'}</td>
                <td>
                  <Attempts d={d} />
                </td>
                <td>
                  <Time at={d.next_attempt_at} />
                </td>
                {retry ? (
                  <td>
                    <ActionButton action={nsUrl(c, `/webhooks/${hook.id}/deliveries/${d.id}/retry`)} csrf={c.get('csrfToken')} label="Retry" class="secondary" />
                  </td>
                ) : null}
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

/** The delivery log section: filters, the table, pages, and the recover form. */
export function DeliveryLog(props: { c: Context<PortalEnv>; hook: Webhook; log: DeliveryLogData; recover?: FormState }) {
  const { c, hook, log } = props
  const base = nsUrl(c, `/webhooks/${hook.id}`)
  const pageUrl = (cursor: string | null) => {
    const q = new URLSearchParams(log.filters.values)
    if (cursor) q.set('cursor', cursor)
    const query = q.toString()
    return `${base}${query ? `?${query}` : ''}#deliveries`
  }
  const filtered = FILTERS.some((name) => log.filters.values[name] !== undefined)
  // A day ago, to the minute: what a picker shows without seconds.
  const recover = props.recover ?? emptyForm({ recover_since: new Date(Math.floor((Date.now() - 86_400_000) / 60_000) * 60_000).toISOString() })
  return (
    <section class="panel" id="deliveries">
      <h2>Deliveries</h2>
      <form method="get" action={`${base}#deliveries`} class="filters" aria-label="Filter deliveries">
        {log.filters.message ? (
          <p class="form-message" role="alert">
            {log.filters.message}
          </p>
        ) : null}
        <Select name="status" label="Status" state={log.filters} options={[{ value: '', label: 'any' }, 'pending', 'succeeded', 'failed']} />
        <Select name="event_type" label="Event" state={log.filters} options={[{ value: '', label: 'any' }, ...EVENT_TYPES]} />
        <DateTimeField name="since" label="Since" state={log.filters} />
        <button type="submit">Filter</button>
      </form>
      {log.page.data.length === 0 ? (
        <EmptyState title={filtered ? 'No deliveries match these filters' : 'No deliveries yet'}>
          {!filtered ? <p>Deliveries appear here when an event this webhook subscribes to happens.</p> : null}
        </EmptyState>
      ) : (
        <DeliveryTable c={c} hook={hook} rows={log.page.data} />
      )}
      <Pager firstUrl={log.cursor ? pageUrl(null) : null} nextUrl={log.page.next_cursor ? pageUrl(log.page.next_cursor) : null} />
      {can(c, 'webhooks:write') ? (
        <PostForm action={`${base}/recover`} csrf={c.get('csrfToken')} state={recover} label="Recover failed deliveries" class="recover">
          <h3>Recover</h3>
          <p class="hint">Sends again every failed delivery created since this time (the webhook must be enabled).</p>
          <DateTimeField name="recover_since" label="Failed since" state={recover} />
          <button type="submit">Replay failed deliveries</button>
        </PostForm>
      ) : null}
    </section>
  )
}

export interface HookPageState {
  notice?: string
  message?: string
  recover?: FormState
}
type HookPage = (c: Context<PortalEnv>, hook: Webhook, page?: HookPageState, status?: number) => Promise<Response>

export function webhookDeliveryPages(deps: Deps, hookPage: HookPage) {
  const app = new Hono<PortalEnv>()
  const load = (c: Context<PortalEnv>) => getWebhook(deps, c.get('access').namespaceId, c.req.param('id') ?? '')

  app.post('/:id/deliveries/:delivery/retry', async (c) => {
    requirePortalScope(c, 'webhooks:write')
    const hook = await load(c)
    try {
      const d = await retryDelivery(deps, c.get('access').namespaceId, hook.id, c.req.param('delivery'))
      await auditPortal(deps, c, { resource: { type: 'webhook_delivery', id: d.id } })
    } catch (error) {
      // Disabled endpoint, or an attempt in flight (409): said on the page; not found stays a 404.
      if (error instanceof AppError && error.status === 409) return hookPage(c, hook, { message: error.detail }, 409)
      throw error
    }
    return c.redirect(nsUrl(c, `/webhooks/${hook.id}?notice=retried#deliveries`), 303)
  })

  app.post('/:id/recover', async (c) => {
    requirePortalScope(c, 'webhooks:write')
    const hook = await load(c)
    const values = await readForm(c)
    try {
      const { since } = recoverSchema.parse({ since: apiTime(values, 'recover_since') ?? '' })
      const { recovered } = await recoverDeliveries(deps, c.get('access').namespaceId, hook.id, since)
      await auditPortal(deps, c, { resource: { type: 'webhook', id: hook.id } })
      return c.redirect(nsUrl(c, `/webhooks/${hook.id}?notice=recovered&count=${recovered}#deliveries`), 303)
    } catch (error) {
      const { state, status } = formFailure(error, values, { fields: ['recover_since'], rename: { since: 'recover_since' } })
      return hookPage(c, hook, { recover: state }, status)
    }
  })
  return app
}
