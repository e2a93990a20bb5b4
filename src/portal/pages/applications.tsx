/**
 * Applications: the namespace's client programs — the list and a new one (`listApplications`,
 * `createApplication`, as `GET|POST …/apps`). One application's page, its API keys and OAuth
 * clients are in applications-detail.tsx.
 */
import { Hono, type Context } from 'hono'
import type { Deps } from '../../domain/deps'
import { listApiKeys } from '../../domain/identity/api-keys'
import { applicationView, createApplication, listApplications } from '../../domain/identity/applications'
import { listClients } from '../../domain/identity/clients'
import { can, nsUrl, requirePortalScope } from '../access'
import { auditPortal } from '../audit'
import { EmptyState, Field, PostForm, Time } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, type FormState, formFailure, readForm } from '../forms'
import { render } from '../layout'
import { APP_FIELDS, applicationDetailPages, Notice, readApplicationForm } from './applications-detail'


type Row = ReturnType<typeof applicationView> & { keys: number; clients: number }

function AppList(props: { c: Context<PortalEnv>; rows: Row[] }) {
  const { c, rows } = props
  if (rows.length === 0) {
    return (
      <EmptyState title="No applications yet">
        <p>{can(c, 'apps:write') ? 'Add one below: an application holds the API keys and OAuth clients your programs use.' : 'A developer or admin of this namespace can add one.'}</p>
      </EmptyState>
    )
  }
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Description</th>
            <th>Active API keys</th>
            <th>Active OAuth clients</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((a) => (
            <tr>
              <td>
                <a href={nsUrl(c, `/applications/${a.id}`)}>{a.name}</a>
              </td>
              <td>{a.description || <span class="muted">—</span>}</td>
              <td>{a.keys}</td>
              <td>{a.clients}</td>
              <td>
                <Time at={a.created_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function NewApplicationForm(props: { c: Context<PortalEnv>; state: FormState }) {
  return (
    <PostForm action={nsUrl(props.c, '/applications')} csrf={props.c.get('csrfToken')} state={props.state} class="panel" label="New application">
      <h2>New application</h2>
      <Field name="name" label="Name" state={props.state} hint="Unique in this namespace, e.g. billing-service." />
      <Field name="description" label="Description" state={props.state} hint="Optional: what it is for." />
      <button type="submit">Create application</button>
    </PostForm>
  )
}

export function applicationsPages(deps: Deps) {
  const listPage = async (c: Context<PortalEnv>, state: FormState, status = 200) => {
    const namespaceId = c.get('access').namespaceId
    const [apps, keys, clients] = [await listApplications(deps, namespaceId), await listApiKeys(deps, namespaceId), await listClients(deps, namespaceId)]
    const active = (rows: { applicationId: string; revokedAt: number | null }[], id: string) => rows.filter((r) => r.applicationId === id && r.revokedAt === null).length
    const rows = apps.map((a) => ({ ...applicationView(a), keys: active(keys, a.id), clients: active(clients, a.id) }))
    return render(
      c,
      { title: `Applications · ${c.get('access').namespaceSlug}`, section: 'applications', status: status as 200 },
      <>
        <h1>Applications</h1>
        <Notice c={c} />
        <AppList c={c} rows={rows} />
        {can(c, 'apps:write') ? <NewApplicationForm c={c} state={state} /> : null}
      </>,
    )
  }

  const app = new Hono<PortalEnv>()
  app.get('/', (c) => {
    requirePortalScope(c, 'apps:read')
    return listPage(c, emptyForm())
  })

  app.post('/', async (c) => {
    requirePortalScope(c, 'apps:write')
    const values = await readForm(c)
    try {
      const input = readApplicationForm(values)
      const row = await createApplication(deps, c.get('access').namespaceId, input)
      await auditPortal(deps, c, { resource: { type: 'application', id: row.id } })
      return c.redirect(nsUrl(c, `/applications/${row.id}`), 303)
    } catch (error) {
      const { state, status } = formFailure(error, values, { fields: APP_FIELDS })
      // A taken name is a conflict about the name: say so next to it.
      if (status === 409 && state.message) return listPage(c, { ...state, errors: { name: state.message }, message: undefined }, status)
      return listPage(c, state, status)
    }
  })

  app.route('/', applicationDetailPages(deps))
  return app
}
