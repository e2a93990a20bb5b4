/**
 * The namespace's audit log (`listAudit`, as `GET …/audit`, scope `audit:read`): who changed
 * what, when and from where, newest first, a page at a time, filtered by action, actor and time.
 */
import { Hono, type Context } from 'hono'
import { z } from 'zod'
import { listAudit } from '../../domain/audit'
import type { Deps } from '../../domain/deps'
import { listApplications } from '../../domain/identity/applications'
import { listMembers } from '../../domain/identity/members'
import { nsUrl, requirePortalScope } from '../access'
import { DateTimeField, EmptyState, Field, Pager, Time } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, type FormState, formFailure } from '../forms'
import { render } from '../layout'
import { apiTimes, offsetField } from '../local-time'

const PAGE_SIZE = 50
const FILTERS = ['action', 'actor_id', 'since', 'until'] as const
const TIME_FILTERS = ['since', 'until']
// The query parameters the filter form sends: each time comes with its browser's offset.
const QUERY = [...FILTERS, ...TIME_FILTERS.map(offsetField)]
const when = () => z.iso.datetime({ offset: true, message: 'must be an RFC 3339 time with an offset, e.g. 2026-01-02T15:04:05Z' }).optional()
/** The API's query (src/http/routes/audit.ts). */
const auditQuery = z.strictObject({
  limit: z.number().int().min(1).max(200),
  cursor: z.string().max(100).optional(),
  action: z.string().max(300).optional(),
  actor_id: z.string().max(100).optional(),
  since: when(),
  until: when(),
})

type Entry = Awaited<ReturnType<typeof listAudit>>['data'][number]

function Filters(props: { c: Context<PortalEnv>; state: FormState }) {
  const { c, state } = props
  return (
    <form class="panel filters" method="get" action={nsUrl(c, '/members/audit')} aria-label="Filter the audit log">
      {state.message ? (
        <p class="form-message" role="alert">
          {state.message}
        </p>
      ) : null}
      <Field name="action" label="Action" state={state} placeholder="DELETE /v1/namespaces/{ns}/channels/{channel}" />
      <Field name="actor_id" label="Actor id" state={state} placeholder="usr_… or app_…" />
      <DateTimeField name="since" label="Since" state={state} />
      <DateTimeField name="until" label="Until" state={state} />
      <button type="submit">Filter</button>
      <a href={nsUrl(props.c, '/members/audit')}>Clear</a>
    </form>
  )
}

function Entries(props: { c: Context<PortalEnv>; rows: Entry[]; names: Map<string, string>; filterUrl: (name: string, value: string) => string; filtered: boolean }) {
  const { rows, names } = props
  if (rows.length === 0) {
    return (
      <EmptyState title={props.filtered ? 'No entries match these filters' : 'No entries yet'}>
        <p>{props.filtered ? 'Try fewer filters or a wider time range.' : 'Changes made here, through the API or the CLI show up in this log.'}</p>
      </EmptyState>
    )
  }
  return (
    <div class="table-wrap">
      <table aria-label="Audit log">
        <thead>
          <tr>
            <th>Time</th>
            <th>Actor</th>
            <th>Action</th>
            <th>Resource</th>
            <th>IP</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((e) => (
            <tr>
              <td>
                <Time at={e.created_at} />
              </td>
              <td>
                {e.actor_id ? (
                  <a href={props.filterUrl('actor_id', e.actor_id)} title={`Only entries by ${e.actor_id}`}>
                    {names.get(e.actor_id) ?? e.actor_id}
                  </a>
                ) : (
                  e.actor_type
                )}
                <span class="muted"> ({e.actor_type})</span>
              </td>
              <td class="mono">
                <a href={props.filterUrl('action', e.action)} title="Only entries with this action">
                  {e.action}
                </a>
                {e.detail.via === 'portal' ? <span class="muted"> · portal</span> : null}
              </td>
              <td>
                {e.resource_type}
                {e.resource_id ? (
                  <>
                    {' '}
                    <code>{e.resource_id}</code>
                  </>
                ) : null}
              </td>
              <td class="mono">{e.ip ?? <span class="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

export function auditPages(deps: Deps) {
  const app = new Hono<PortalEnv>()
  app.get('/', async (c) => {
    requirePortalScope(c, 'audit:read')
    const namespaceId = c.get('access').namespaceId
    const values: Record<string, string> = {}
    for (const name of QUERY) {
      const v = c.req.query(name)?.trim()
      if (v) values[name] = v.slice(0, 512)
    }
    const cursor = c.req.query('cursor')?.slice(0, 100) || null
    const urlWith = (q: Record<string, string>) => {
      const query = new URLSearchParams(q).toString()
      return nsUrl(c, `/members/audit${query ? `?${query}` : ''}`)
    }
    let state = emptyForm(values)
    let page: Awaited<ReturnType<typeof listAudit>> = { data: [], next_cursor: null }
    let status = 200
    try {
      page = await listAudit(deps, namespaceId, auditQuery.parse({ ...apiTimes(values, TIME_FILTERS), limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) }))
    } catch (error) {
      ;({ state, status } = formFailure(error, values, { fields: FILTERS }))
    }
    // Members by e-mail and applications by name: what the namespace's own API also shows.
    const names = new Map<string, string>([
      ...(await listMembers(deps, namespaceId)).map((m) => [m.userId, m.email] as [string, string]),
      ...(await listApplications(deps, namespaceId)).map((a) => [a.id, a.name] as [string, string]),
    ])
    return render(
      c,
      { title: `Audit log · ${c.get('access').namespaceSlug}`, section: 'members', status: status as 200 },
      <>
        <p>
          <a href={nsUrl(c, '/members')}>Members</a>
        </p>
        <h1>Audit log</h1>
        <Filters c={c} state={state} />
        <Entries c={c} rows={page.data} names={names} filterUrl={(name, value) => urlWith({ ...values, [name]: value })} filtered={FILTERS.some((name) => values[name] !== undefined)} />
        <Pager firstUrl={cursor ? urlWith(values) : null} nextUrl={page.next_cursor ? urlWith({ ...values, cursor: page.next_cursor }) : null} />
      </>,
    )
  })
  return app
}
