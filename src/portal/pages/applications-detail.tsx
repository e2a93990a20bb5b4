/**
 * One application: its API keys and OAuth clients — created with scopes (the secret shown once,
 * on the answer to the POST, with a copy button), listed, revoked — and deleting it. The same
 * domain functions and scopes as `…/apps/{app}/keys|clients` (src/http/routes/apps.ts).
 */
import { Hono, type Context } from 'hono'
import { z } from 'zod'
import { type Deps, now } from '../../domain/deps'
import { invalidField } from '../../domain/errors'
import { type ApiKey, apiKeyView, createApiKey, listApiKeys, revokeApiKey } from '../../domain/identity/api-keys'
import { type Application, deleteApplication, getApplication, updateApplication } from '../../domain/identity/applications'
import { clientView, createClient, listClients, type OAuthClient, revokeClient } from '../../domain/identity/clients'
import { ALL_SCOPES } from '../../domain/identity/scopes'
import { can, nsUrl, requirePortalScope } from '../access'
import { auditPortal } from '../audit'
import { ActionButton, DateTimeField, EmptyState, Field, PostForm, Time } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, fixedEntry, type FormState, formFailure, readForm } from '../forms'
import { render } from '../layout'
import { apiTime, offsetField } from '../local-time'

/** Fixed notices a redirect may ask for (never text from the URL). */
export const APP_NOTICES: Record<string, string> = {
  'app-deleted': 'The application is deleted; its keys and clients no longer work.',
  'app-saved': 'The application is saved.',
  'key-revoked': 'The API key is revoked: it no longer works.',
  'client-revoked': 'The OAuth client is revoked: it gets no new tokens, and its tokens no longer work.',
}

export function Notice(props: { c: Context<PortalEnv> }) {
  const text = fixedEntry(APP_NOTICES, props.c.req.query('notice'))
  return text ? (
    <p class="notice" role="status">
      {text}
    </p>
  ) : null
}

type Kind = 'key' | 'client'
const KIND = {
  key: { title: 'API key', plural: 'API keys', path: 'keys', resource: 'api_key' },
  client: { title: 'OAuth client', plural: 'OAuth clients', path: 'clients', resource: 'oauth_client' },
} as const

/** The API's credential body (apps.ts `credentialInput`); the portal asks for at least one scope. */
const credentialForm = z.strictObject({
  name: z.string().trim().max(100).optional(),
  scopes: z.array(z.string()).min(1, 'choose at least one scope').max(ALL_SCOPES.length * 2),
  expires_at: z.iso.datetime({ offset: true, message: 'must be an RFC 3339 time with an offset, e.g. 2027-01-01T00:00:00Z' }).optional(),
})
const fieldsOf = (kind: Kind) => [`${kind}_name`, `${kind}_scopes`, `${kind}_expires_at`]
const renameOf = (kind: Kind) => ({ name: `${kind}_name`, scopes: `${kind}_scopes`, expires_at: `${kind}_expires_at` })

/** What was just created: shown on this answer only. */
interface Created {
  kind: Kind
  id: string
  secret: string
}

interface Forms {
  app?: FormState
  key?: FormState
  client?: FormState
  scopes?: { key?: string[]; client?: string[] }
}

/** The scope checkboxes: only the scopes the user holds here (the most a credential may get). */
function ScopeChecks(props: { c: Context<PortalEnv>; kind: Kind; state?: FormState; checked: string[] }) {
  const name = `${props.kind}_scopes`
  const error = props.state?.errors[name]
  const held = ALL_SCOPES.filter((s) => can(props.c, s))
  return (
    <fieldset class={error ? 'field scope-checks invalid' : 'field scope-checks'} aria-describedby={error ? `${name}-error` : `${name}-hint`}>
      <legend>Scopes</legend>
      <p class="hint" id={`${name}-hint`}>
        Only what the program needs. You can grant only scopes you hold yourself.
      </p>
      <ul>
        {held.map((scope) => (
          <li>
            <input type="checkbox" id={`${name}-${scope}`} name={name} value={scope} checked={props.checked.includes(scope)} />
            <label for={`${name}-${scope}`}>{scope}</label>
          </li>
        ))}
      </ul>
      {error ? (
        <p class="field-error" id={`${name}-error`}>
          {error}
        </p>
      ) : null}
    </fieldset>
  )
}

/** The API's rules for an application's name and description (src/http/routes/apps.ts `appInput`). */
export const applicationInput = z.strictObject({
  name: z.string().trim().min(1, 'is required').max(100),
  description: z.string().max(500).optional(),
})
export const APP_FIELDS = ['name', 'description'] as const

/** `name` and `description` of a posted form, checked as the API checks them. */
export function readApplicationForm(values: Record<string, string>) {
  const { description, ...rest } = values
  // Every posted field goes to the schema: an unknown one is refused, as by the API.
  return applicationInput.parse({ ...rest, name: values.name ?? '', ...(description?.trim() ? { description: description.trim() } : {}) })
}

function EditForm(props: { c: Context<PortalEnv>; app: Application; state?: FormState }) {
  const state = props.state ?? emptyForm({ name: props.app.name, description: props.app.description })
  return (
    <PostForm action={nsUrl(props.c, `/applications/${props.app.id}/edit`)} csrf={props.c.get('csrfToken')} state={state} class="panel" label="Application settings">
      <h2>Settings</h2>
      <Field name="name" label="Name" state={state} hint="Unique in this namespace." />
      <Field name="description" label="Description" state={state} hint="Optional: what it is for." />
      <button type="submit">Save</button>
    </PostForm>
  )
}

function CredentialForm(props: { c: Context<PortalEnv>; app: Application; kind: Kind; state?: FormState; checked: string[] }) {
  const { c, kind } = props
  const k = KIND[kind]
  return (
    <PostForm action={nsUrl(c, `/applications/${props.app.id}/${k.path}`)} csrf={c.get('csrfToken')} state={props.state} class="panel" label={`New ${k.title}`}>
      <h3>New {k.title}</h3>
      <Field name={`${kind}_name`} label="Name" state={props.state} hint="Optional: a label, e.g. production." />
      <ScopeChecks c={c} kind={kind} state={props.state} checked={props.checked} />
      <DateTimeField name={`${kind}_expires_at`} label="Expires at" state={props.state} hint="Optional. Empty: never expires." />
      <button type="submit">Create {k.title}</button>
    </PostForm>
  )
}

function credentialStatus(row: { revokedAt: number | null; expiresAt: number | null }, at: number) {
  if (row.revokedAt !== null) return <span class="badge status-failed">revoked</span>
  if (row.expiresAt !== null && row.expiresAt <= at) return <span class="badge status-expired">expired</span>
  return <span class="badge status-active">active</span>
}

function CredentialTable(props: { c: Context<PortalEnv>; app: Application; kind: Kind; rows: (ApiKey | OAuthClient)[]; at: number }) {
  const { c, kind, rows } = props
  const k = KIND[kind]
  if (rows.length === 0) return <EmptyState title={`No ${k.plural} yet`}>{can(c, 'apps:write') ? <p>Create one with the form below.</p> : null}</EmptyState>
  return (
    <div class="table-wrap">
      <table aria-label={k.plural}>
        <thead>
          <tr>
            <th>{kind === 'key' ? 'Key' : 'Client id'}</th>
            <th>Name</th>
            <th>Scopes</th>
            <th>Created</th>
            <th>Expires</th>
            {kind === 'key' ? <th>Last used</th> : null}
            <th>Status</th>
            <th>
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const label = kind === 'key' ? apiKeyView(row as ApiKey).prefix : row.id
            return (
              <tr>
                <td class="mono">{label}</td>
                <td>{row.name || <span class="muted">—</span>}</td>
                <td class="scopes">{row.scopes.length === ALL_SCOPES.length ? 'all scopes' : row.scopes.join(', ')}</td>
                <td>
                  <Time at={row.createdAt} />
                </td>
                <td>{row.expiresAt === null ? <span class="muted">never</span> : <Time at={row.expiresAt} />}</td>
                {kind === 'key' ? <td>{(row as ApiKey).lastUsedAt === null ? <span class="muted">never</span> : <Time at={(row as ApiKey).lastUsedAt!} />}</td> : null}
                <td>{credentialStatus(row, props.at)}</td>
                <td>
                  {row.revokedAt === null && can(c, 'apps:write') ? (
                    <ActionButton
                      class="danger"
                      action={nsUrl(c, `/applications/${props.app.id}/${k.path}/${row.id}/revoke`)}
                      csrf={c.get('csrfToken')}
                      label="Revoke"
                      aria={`Revoke ${k.title} ${row.name || label}`}
                      question={`Revoke this ${k.title}? Programs using it stop working at once.`}
                    />
                  ) : null}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

/** The secret on the POST's answer; the address bar gets the application's page (portal.client.js `data-replace-url`), so a reload neither posts again nor shows it. */
function CreatedSecret(props: { deps: Deps; created: Created; pageUrl: string }) {
  const { created } = props
  return (
    <section class="panel secret-once" aria-labelledby="secret-heading" data-replace-url={props.pageUrl}>
      <h2 id="secret-heading">{created.kind === 'key' ? 'Your new API key' : 'Your new OAuth client'}</h2>
      <p>
        <strong>Copy it now: it is shown only this once.</strong> omnigate keeps only a hash of it.
      </p>
      {created.kind === 'client' ? (
        <p>
          Client id: <code id="new-client-id">{created.id}</code>{' '}
          <button type="button" class="secondary" data-copy="new-client-id">
            Copy
          </button>
        </p>
      ) : null}
      <p>
        {created.kind === 'key' ? 'Key' : 'Client secret'}: <code id="new-secret">{created.secret}</code>{' '}
        <button type="button" class="secondary" data-copy="new-secret">
          Copy
        </button>
      </p>
      <p class="hint">
        {created.kind === 'key' ? 'Send it as "Authorization: Bearer <key>".' : `Exchange the id and secret for an access token at ${props.deps.publicUrl}/oauth/token (grant_type=client_credentials).`}
      </p>
    </section>
  )
}

/** The posted credential form as the API's body (empty fields left out). */
async function credentialInput(c: Context<PortalEnv>, kind: Kind, values: Record<string, string>) {
  const all = await c.req.parseBody({ all: true }).catch(() => ({}) as Record<string, unknown>)
  const raw = all[`${kind}_scopes`]
  const scopes = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((s): s is string => typeof s === 'string')
  const text = (name: string) => (values[`${kind}_${name}`]?.trim() ? values[`${kind}_${name}`]!.trim() : undefined)
  const expiresAt = apiTime(values, `${kind}_expires_at`)
  // Fields this form does not have are refused, as the API refuses unknown fields.
  const known = [...fieldsOf(kind), offsetField(`${kind}_expires_at`)]
  const unknown = Object.fromEntries(Object.keys(values).filter((k) => !known.includes(k)).map((k) => [k, values[k]]))
  return { scopes, parsed: () => credentialForm.parse({ ...unknown, scopes, ...(text('name') ? { name: text('name') } : {}), ...(expiresAt ? { expires_at: expiresAt } : {}) }) }
}

export function applicationDetailPages(deps: Deps) {
  const detailPage = async (c: Context<PortalEnv>, app: Application, extra: { created?: Created; forms?: Forms; status?: number } = {}) => {
    const namespaceId = c.get('access').namespaceId
    const [keys, clients] = [await listApiKeys(deps, namespaceId, app.id), await listClients(deps, namespaceId, app.id)]
    const at = now(deps)
    const writable = can(c, 'apps:write')
    const forms = extra.forms ?? {}
    return render(
      c,
      { title: `${app.name} · Applications`, section: 'applications', status: (extra.status ?? 200) as 200 },
      <>
        <p>
          <a href={nsUrl(c, '/applications')}>All applications</a>
        </p>
        <h1>{app.name}</h1>
        {app.description ? <p>{app.description}</p> : null}
        <p class="muted">
          Id <code>{app.id}</code> · created <Time at={app.createdAt} />
        </p>
        <Notice c={c} />
        {extra.created ? <CreatedSecret deps={deps} created={extra.created} pageUrl={nsUrl(c, `/applications/${app.id}`)} /> : null}
        <h2>API keys</h2>
        <CredentialTable c={c} app={app} kind="key" rows={keys} at={at} />
        {writable ? <CredentialForm c={c} app={app} kind="key" state={forms.key} checked={forms.scopes?.key ?? []} /> : null}
        <h2>OAuth clients</h2>
        <p class="hint">Client credentials (RFC 6749 §4.4): a program exchanges its id and secret for short-lived access tokens.</p>
        <CredentialTable c={c} app={app} kind="client" rows={clients} at={at} />
        {writable ? <CredentialForm c={c} app={app} kind="client" state={forms.client} checked={forms.scopes?.client ?? []} /> : null}
        {writable ? <EditForm c={c} app={app} state={forms.app} /> : null}
        {writable ? (
          <section class="panel danger-zone">
            <h2>Delete this application</h2>
            <p>Its API keys and OAuth clients stop working at once.</p>
            <ActionButton class="danger" action={nsUrl(c, `/applications/${app.id}/delete`)} csrf={c.get('csrfToken')} label="Delete application" question={`Delete the application ${app.name} and all its credentials?`} />
          </section>
        ) : null}
      </>,
    )
  }
  const appOf = (c: Context<PortalEnv>) => getApplication(deps, c.get('access').namespaceId, c.req.param('app') ?? '')

  const app = new Hono<PortalEnv>()
  app.get('/:app', async (c) => {
    requirePortalScope(c, 'apps:read')
    return detailPage(c, await appOf(c))
  })

  for (const kind of ['key', 'client'] as const) {
    const k = KIND[kind]
    app.post(`/:app/${k.path}`, async (c) => {
      requirePortalScope(c, 'apps:write')
      const application = await appOf(c)
      const values = await readForm(c)
      const { scopes, parsed } = await credentialInput(c, kind, values)
      try {
        const input = parsed()
        const expiresAt = input.expires_at === undefined ? null : Date.parse(input.expires_at)
        // As the API: a credential dead on arrival is a mistake.
        if (expiresAt !== null && expiresAt <= now(deps)) throw invalidField('expires_at', 'must be in the future')
        const namespaceId = c.get('access').namespaceId
        // What the user holds here is the most they can hand on.
        const request = { applicationId: application.id, name: input.name, scopes: input.scopes, expiresAt, grantable: c.get('access').scopes }
        const created =
          kind === 'key'
            ? await createApiKey(deps, namespaceId, request).then((r) => ({ id: r.key.id, secret: r.secret }))
            : await createClient(deps, namespaceId, request).then((r) => ({ id: clientView(r.client).client_id, secret: r.secret }))
        await auditPortal(deps, c, { resource: { type: k.resource, id: created.id } })
        c.header('Cache-Control', 'no-store')
        return detailPage(c, application, { created: { kind, ...created } })
      } catch (error) {
        const { state, status } = formFailure(error, values, { fields: fieldsOf(kind), rename: renameOf(kind) })
        return detailPage(c, application, { forms: { [kind]: state, scopes: { [kind]: scopes } }, status })
      }
    })

    app.post(`/:app/${k.path}/:credential/revoke`, async (c) => {
      requirePortalScope(c, 'apps:write')
      const application = await appOf(c)
      const namespaceId = c.get('access').namespaceId
      const id = c.req.param('credential')
      if (kind === 'key') await revokeApiKey(deps, namespaceId, id, application.id)
      else await revokeClient(deps, namespaceId, id, application.id)
      await auditPortal(deps, c, { resource: { type: k.resource, id } })
      return c.redirect(nsUrl(c, `/applications/${application.id}?notice=${kind}-revoked`), 303)
    })
  }

  app.post('/:app/edit', async (c) => {
    requirePortalScope(c, 'apps:write')
    const application = await appOf(c)
    const values = await readForm(c)
    try {
      const input = readApplicationForm(values)
      // An emptied description is cleared, as the form shows it.
      await updateApplication(deps, c.get('access').namespaceId, application.id, { name: input.name, description: input.description ?? '' })
      await auditPortal(deps, c, { resource: { type: 'application', id: application.id } })
      return c.redirect(nsUrl(c, `/applications/${application.id}?notice=app-saved`), 303)
    } catch (error) {
      const { state, status } = formFailure(error, values, { fields: APP_FIELDS })
      // A taken name is a conflict about the name: say so next to it.
      const named = status === 409 && state.message ? { ...state, errors: { name: state.message }, message: undefined } : state
      return detailPage(c, application, { forms: { app: named }, status })
    }
  })

  app.post('/:app/delete', async (c) => {
    requirePortalScope(c, 'apps:write')
    const deleted = await deleteApplication(deps, c.get('access').namespaceId, (await appOf(c)).id)
    await auditPortal(deps, c, { resource: { type: 'application', id: deleted.id } })
    return c.redirect(nsUrl(c, '/applications?notice=app-deleted'), 303)
  })
  return app
}
