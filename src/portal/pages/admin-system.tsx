/**
 * The instance at a glance: its users (`listUsers`, as `GET /v1/users`; disable and enable, as
 * `PATCH /v1/users/{id}`), plans
 * (`listPlans`, `GET /v1/plans`), scheduled jobs with their last and next runs (as
 * `GET /v1/jobs` and `omnigate jobs list`) and system health (`systemStatus`, `GET /v1/system`).
 */
import { Hono, type Context } from 'hono'
import type { Deps } from '../../domain/deps'
import { listPlans } from '../../domain/instance/plans'
import { systemStatus } from '../../domain/instance/status'
import { listUsers, setUserDisabled } from '../../domain/instance/users'
import { jobsOverview } from '../../http/routes/jobs-admin'
import { userListQuery } from '../../http/routes/users'
import { currentUser } from '../access'
import { auditPortal } from '../audit'
import { ActionButton, EmptyState, Field, Pager, StatusBadge, Time } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, fixedEntry, formFailure } from '../forms'
import { limitText, renderAdmin } from './admin-frame'

const USERS_PAGE_SIZE = 50
const USER_NOTICES: Record<string, string> = {
  disabled: 'The account is disabled: it cannot sign in, and its sessions have ended.',
  enabled: 'The account is enabled again: its owner can sign in.',
}
const yesNo = (value: boolean) => (value ? 'yes' : 'no')

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86_400)
  const h = Math.floor((seconds % 86_400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  return d > 0 ? `${d} d ${h} h ${m} min` : h > 0 ? `${h} h ${m} min` : `${m} min ${seconds % 60} s`
}

async function usersPage(deps: Deps, c: Context<PortalEnv>) {
  const email = c.req.query('email')?.trim().slice(0, 254) || undefined
  const cursor = c.req.query('cursor')?.slice(0, 100) || undefined
  const values: Record<string, string> = email ? { email } : {}
  let state = emptyForm(values)
  let page: Awaited<ReturnType<typeof listUsers>> = { data: [], next_cursor: null }
  let status = 200
  try {
    page = await listUsers(deps, userListQuery.parse({ limit: USERS_PAGE_SIZE, ...values, ...(cursor ? { cursor } : {}) }))
  } catch (error) {
    ;({ state, status } = formFailure(error, values, { fields: ['email'] }))
  }
  const url = (q: Record<string, string>) => `/portal/admin/users${Object.keys(q).length ? `?${new URLSearchParams(q)}` : ''}`
  const notice = fixedEntry(USER_NOTICES, c.req.query('notice'))
  const csrf = c.get('csrfToken')
  const me = currentUser(c).userId
  return renderAdmin(
    c,
    { title: 'Users', current: '/users', status },
    <>
      <h1>Users</h1>
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <form class="panel filters" method="get" action="/portal/admin/users" aria-label="Find users">
        <Field name="email" label="Email contains" state={state} />
        <button type="submit">Find</button>
      </form>
      {page.data.length === 0 ? (
        <EmptyState title={email ? 'No user matches' : 'No users yet'}>
          <p>People get an account by accepting an invitation (Members page of a namespace), by signing up, or with omnigate admin create.</p>
        </EmptyState>
      ) : (
        <div class="table-wrap">
          <table aria-label="Users">
            <thead>
              <tr>
                <th>Email</th>
                <th>Name</th>
                <th>Verified</th>
                <th>Instance admin</th>
                <th>Disabled</th>
                <th>Namespaces</th>
                <th>Created</th>
                <th>
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.data.map((u) => (
                <tr>
                  <td>{u.email}</td>
                  <td>{u.display_name || <span class="muted">—</span>}</td>
                  <td>{yesNo(u.verified)}</td>
                  <td>{yesNo(u.instance_admin)}</td>
                  <td>{yesNo(u.disabled)}</td>
                  <td>
                    {u.namespaces.length === 0 ? (
                      <span class="muted">none</span>
                    ) : (
                      <ul class="plain">
                        {u.namespaces.map((m) => (
                          <li>
                            <a href={`/portal/ns/${encodeURIComponent(m.namespace)}/members`}>{m.namespace}</a> <span class="muted">({m.role})</span>
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td>
                    <Time at={u.created_at} />
                  </td>
                  <td>
                    {u.id === me ? null : u.disabled ? (
                      <ActionButton action={`/portal/admin/users/${encodeURIComponent(u.id)}/enable`} csrf={csrf} label="Enable" class="secondary" aria={`Enable ${u.email}`} />
                    ) : (
                      <ActionButton action={`/portal/admin/users/${encodeURIComponent(u.id)}/disable`} csrf={csrf} label="Disable" class="danger" question={`Disable ${u.email}? They cannot sign in, and their sessions end now.`} aria={`Disable ${u.email}`} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager firstUrl={cursor ? url(values) : null} nextUrl={page.next_cursor ? url({ ...values, cursor: page.next_cursor }) : null} />
    </>,
  )
}

export function adminSystemPages(deps: Deps) {
  const listJobs = jobsOverview(deps)
  const app = new Hono<PortalEnv>()

  app.get('/users', (c) => usersPage(deps, c))
  for (const [action, disabled] of [['disable', true], ['enable', false]] as const) {
    app.post(`/users/:id/${action}`, async (c) => {
      const user = await setUserDisabled(deps, currentUser(c).userId, c.req.param('id'), disabled)
      await auditPortal(deps, c, { namespaceId: null, resource: { type: 'user', id: user.id } })
      return c.redirect(`/portal/admin/users?notice=${disabled ? 'disabled' : 'enabled'}`, 303)
    })
  }

  app.get('/plans', async (c) => {
    const plans = await listPlans(deps)
    return renderAdmin(
      c,
      { title: 'Plans', current: '/plans' },
      <>
        <h1>Plans</h1>
        <p class="hint">Plans come from [[plans]] in the configuration file; change them there and restart. A namespace gets its plan's quotas when it is provisioned.</p>
        <div class="table-wrap">
          <table aria-label="Plans">
            <thead>
              <tr>
                <th>Name</th>
                <th>Messages a day</th>
                <th>Messages a month</th>
                <th>API requests a second</th>
                <th>Namespaces</th>
              </tr>
            </thead>
            <tbody>
              {plans.map((p) => (
                <tr>
                  <td>
                    {p.name}
                    {p.default ? <span class="muted"> (signup default)</span> : null}
                  </td>
                  <td>{limitText(p.messages_per_day)}</td>
                  <td>{limitText(p.messages_per_month)}</td>
                  <td>{limitText(p.requests_per_second)}</td>
                  <td>{p.namespaces}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </>,
    )
  })

  app.get('/jobs', async (c) => {
    const jobs = await listJobs()
    return renderAdmin(
      c,
      { title: 'Jobs', current: '/jobs' },
      <>
        <h1>Jobs</h1>
        <p class="hint">Scheduled jobs run once across instances. Run one now with omnigate jobs run NAME.</p>
        <div class="table-wrap">
          <table aria-label="Jobs">
            <thead>
              <tr>
                <th>Name</th>
                <th>Schedule</th>
                <th>Status</th>
                <th>Last run</th>
                <th>Finished</th>
                <th>Next run</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr>
                  <td class="mono">{j.name}</td>
                  <td class="mono">{j.schedule}</td>
                  <td>
                    {j.status === 'never run' ? <span class="muted">never run</span> : <StatusBadge status={j.status === 'error' ? 'failed' : j.status === 'ok' ? 'succeeded' : j.status} />}
                    {j.last_error ? <div class="field-error">{j.last_error}</div> : null}
                  </td>
                  <td>
                    <Time at={j.last_started_at} />
                  </td>
                  <td>
                    <Time at={j.last_finished_at} />
                  </td>
                  <td>
                    <Time at={j.next_run} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </>,
    )
  })

  app.get('/system', async (c) => {
    const s = await systemStatus(deps)
    return renderAdmin(
      c,
      { title: 'System', current: '/system' },
      <>
        <h1>System</h1>
        <section class="panel">
          <dl class="meta">
            <dt>Version</dt>
            <dd>omnigate {s.version}</dd>
            <dt>Runtime</dt>
            <dd>{s.runtime}</dd>
            <dt>Started</dt>
            <dd>
              <Time at={s.started_at} />
            </dd>
            <dt>Uptime</dt>
            <dd>{duration(s.uptime_seconds)}</dd>
            <dt>Store driver</dt>
            <dd>{s.store.driver}</dd>
            <dt>Store size</dt>
            <dd>
              {bytes(s.store.bytes)} <span class="muted">({bytes(s.store.free_bytes)} free)</span>
            </dd>
            <dt>Migrations</dt>
            <dd>{s.store.migrated ? 'all applied' : 'NOT all applied: run omnigate migrate'}</dd>
            {s.store.checkpoints && (
              <>
                <dt>WAL checkpoints</dt>
                <dd>
                  {s.store.checkpoints.thread === 'failed'
                    ? `thread failed (${s.store.checkpoints.error}); the writer checkpoints by itself`
                    : s.store.checkpoints.thread === 'running'
                      ? `on their own thread, ${s.store.checkpoints.runs} so far`
                      : 'not started yet (starts under write load)'}
                </dd>
              </>
            )}
            <dt>Namespaces</dt>
            <dd>{Object.entries(s.namespaces).map(([status, n]) => `${n} ${status}`).join(', ') || 'none'}</dd>
            <dt>Users</dt>
            <dd>{s.users}</dd>
          </dl>
        </section>
      </>,
    )
  })
  return app
}
