/**
 * Every namespace of the instance: provision one with a plan and an owner (`provisionByOperator`,
 * as `POST /v1/provisioning` and `omnigate namespace create --plan --owner`), delete one
 * (`disableNamespace`, as `DELETE /v1/namespaces/{ns}`: disabled at once, purged after the grace
 * period) and restore it meanwhile (`restoreNamespace`, as `POST /v1/namespaces/{ns}/restore`).
 */
import { Hono, type Context } from 'hono'
import { z } from 'zod'
import type { Deps } from '../../domain/deps'
import { listNamespaces, getNamespace, type Namespace } from '../../domain/namespaces'
import { disableNamespace, restoreNamespace } from '../../domain/provisioning/deprovision'
import { provisioningView } from '../../domain/provisioning/jobs'
import { provisionByOperator } from '../../domain/provisioning/provision'
import { PROVISION_REQUEST_WAIT_MS, provisionInput } from '../../http/routes/provision-admin'
import { auditPortal } from '../audit'
import { ActionButton, EmptyState, Field, PostForm, Select, StatusBadge, Time } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, fixedEntry, type FormState, formFailure, readForm } from '../forms'
import { renderAdmin } from './admin-frame'

const FIELDS = ['slug', 'plan', 'owner'] as const
/** The API's body, with messages for a person. */
const createForm = provisionInput.extend({ slug: z.string().trim().min(1, 'is required').max(63) })
const NOTICES: Record<string, string> = {
  deleted: 'The namespace is disabled: its keys, tokens and members are refused and nothing is sent. Its data is purged after the grace period unless you restore it.',
  restored: 'The namespace is active again.',
}

type Provisioned = ReturnType<typeof provisioningView> & { invited: string | null }

function NamespaceTable(props: { c: Context<PortalEnv>; rows: Namespace[] }) {
  const { c, rows } = props
  const csrf = c.get('csrfToken')
  if (rows.length === 0) return <EmptyState title="No namespaces yet">Create one with the form below.</EmptyState>
  return (
    <div class="table-wrap">
      <table aria-label="Namespaces">
        <thead>
          <tr>
            <th>Slug</th>
            <th>Name</th>
            <th>Plan</th>
            <th>Status</th>
            <th>Created</th>
            <th>
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((ns) => (
            <tr>
              <td>
                <a href={`/portal/ns/${encodeURIComponent(ns.slug)}/dashboard`}>{ns.slug}</a>
              </td>
              <td>{ns.name}</td>
              <td>{ns.plan ?? <span class="muted">—</span>}</td>
              <td>
                <StatusBadge status={ns.status} />
                {ns.purgeAfter !== null ? (
                  <div class="muted">
                    purged after <Time at={ns.purgeAfter} />
                  </div>
                ) : null}
              </td>
              <td>
                <Time at={ns.createdAt} />
              </td>
              <td>
                {ns.status === 'active' ? (
                  <ActionButton action={`/portal/admin/namespaces/${encodeURIComponent(ns.slug)}/delete`} csrf={csrf} label="Delete" class="danger" question={`Delete the namespace ${ns.slug}? It is disabled now and all its data is purged after the grace period.`} aria={`Delete ${ns.slug}`} />
                ) : ns.status === 'disabled' ? (
                  <ActionButton action={`/portal/admin/namespaces/${encodeURIComponent(ns.slug)}/restore`} csrf={csrf} label="Restore" class="secondary" aria={`Restore ${ns.slug}`} />
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function CreateForm(props: { c: Context<PortalEnv>; deps: Deps; state: FormState }) {
  const { state, deps } = props
  return (
    <PostForm action="/portal/admin/namespaces" csrf={props.c.get('csrfToken')} state={state} class="panel" label="New namespace">
      <h2>New namespace</h2>
      <p class="hint">Provisioned as a signup is: a sandbox channel, an application with an API key (shown once), the plan's quotas.</p>
      <Field name="slug" label="Slug" state={state} hint="Lowercase letters, digits and dashes, e.g. acme." />
      <Select name="plan" label="Plan" state={state} value={deps.config.signup.default_plan} options={deps.config.plans.map((p) => p.name)} />
      <Field name="owner" label="Owner email" type="email" state={state} autocomplete="off" hint={`Optional. An existing user becomes owner; anyone else ${deps.mailer ? 'is invited by mail' : 'needs an account first (this instance cannot mail)'}.`} />
      <button type="submit">Create namespace</button>
    </PostForm>
  )
}

function ProvisionResult(props: { result: Provisioned }) {
  const r = props.result
  if (r.status === 'failed') {
    return (
      <p class="form-message" role="alert">
        Provisioning {r.namespace} failed after step {r.step}: {r.error}. See omnigate provisioning list (job {r.id}).
      </p>
    )
  }
  return (
    <section class="panel secret-once" aria-labelledby="provisioned-heading" data-replace-url="/portal/admin/namespaces">
      <h2 id="provisioned-heading">{r.status === 'ready' ? `Namespace ${r.namespace} is ready` : `Namespace ${r.namespace} is being provisioned`}</h2>
      {r.status === 'ready' ? null : <p>The engine finishes it in the background (job {r.id}, after step {r.step}).</p>}
      {r.invited ? <p>{r.invited} is invited as owner; the link was mailed.</p> : null}
      {r.api_key ? (
        <>
          <p>
            <strong>Its API key, shown only this once:</strong> <code id="new-secret">{r.api_key}</code>{' '}
            <button type="button" class="secondary" data-copy="new-secret">
              Copy
            </button>
          </p>
        </>
      ) : null}
      <p>
        <a href={`/portal/ns/${encodeURIComponent(r.namespace)}/dashboard`}>Open {r.namespace}</a>
      </p>
    </section>
  )
}

export function adminNamespacePages(deps: Deps) {
  const page = async (c: Context<PortalEnv>, opts: { state?: FormState; result?: Provisioned; status?: number } = {}) => {
    const rows = [...(await listNamespaces(deps))].sort((a, b) => a.slug.localeCompare(b.slug))
    const notice = fixedEntry(NOTICES, c.req.query('notice'))
    return renderAdmin(
      c,
      { title: 'Namespaces', current: '/namespaces', status: opts.status },
      <>
        <h1>Namespaces</h1>
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        {opts.result ? <ProvisionResult result={opts.result} /> : null}
        <NamespaceTable c={c} rows={rows} />
        <CreateForm c={c} deps={deps} state={opts.state ?? emptyForm()} />
      </>,
    )
  }

  const app = new Hono<PortalEnv>()
  app.get('/', (c) => page(c))

  app.post('/', async (c) => {
    const values = await readForm(c)
    try {
      const { slug, plan, owner, ...rest } = values
      const input = createForm.parse({ ...rest, slug: slug?.trim() ?? '', ...(plan ? { plan } : {}), ...(owner?.trim() ? { owner: owner.trim() } : {}) })
      const result = await provisionByOperator(deps, { slug: input.slug, plan: input.plan, ownerEmail: input.owner }, PROVISION_REQUEST_WAIT_MS)
      await auditPortal(deps, c, { namespaceId: result.job.namespaceId, resource: { type: 'provisioning', id: result.job.id } })
      c.header('Cache-Control', 'no-store')
      return page(c, { result: { ...provisioningView(result.job, result.apiKey), invited: result.invited } })
    } catch (error) {
      const { state, status } = formFailure(error, values, { fields: FIELDS, rename: { 'signup.default_plan': 'plan' } })
      // "No such user, and no mail to invite them with" is about the owner field.
      if (status === 404 && state.message) return page(c, { state: { ...state, errors: { owner: state.message.replace(/^owner: /, '') }, message: undefined }, status })
      return page(c, { state, status })
    }
  })

  const lifecycle = (action: 'delete' | 'restore') => async (c: Context<PortalEnv>) => {
    const namespace = await getNamespace(deps, c.req.param('ns') ?? '')
    if (action === 'delete') await disableNamespace(deps, namespace.id)
    else await restoreNamespace(deps, namespace.id)
    await auditPortal(deps, c, { namespaceId: namespace.id, resource: { type: 'namespace', id: namespace.id } })
    return c.redirect(`/portal/admin/namespaces?notice=${action === 'delete' ? 'deleted' : 'restored'}`, 303)
  }
  app.post('/:ns/delete', lifecycle('delete'))
  app.post('/:ns/restore', lifecycle('restore'))
  return app
}
