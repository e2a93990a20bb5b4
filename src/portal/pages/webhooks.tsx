/**
 * Webhooks: the namespace's endpoints (as `GET …/webhooks`) and adding one (`createWebhook`, as
 * `POST …/webhooks`), whose signing secret is shown once, on the answer to that post. One
 * endpoint's page, edit, enable/disable, rotate and delete are in webhooks-detail.tsx; its
 * delivery log, retry and recover in webhooks-deliveries.tsx.
 */
import { Hono, type Context } from 'hono'
import type { Deps } from '../../domain/deps'
import { createWebhook, listWebhooks, type Webhook } from '../../domain/webhooks/endpoints'
import { can, nsUrl, requirePortalScope } from '../access'
import { auditPortal } from '../audit'
import { EmptyState, StatusBadge, Time } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, type FormState, formFailure } from '../forms'
import { render } from '../layout'
import { webhookDetailPages } from './webhooks-detail'
import { channelChoices, eventsText, SecretOnce } from './webhooks-parts'
import { readListForm, readWebhookInput, WEBHOOK_FIELDS, WEBHOOK_RENAME, WebhookForm } from './webhooks-form'

function WebhookTable(props: { c: Context<PortalEnv>; rows: Webhook[] }) {
  const { c } = props
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th>URL</th>
            <th>Events</th>
            <th>Status</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((w) => (
            <tr>
              <td>
                <a href={nsUrl(c, `/webhooks/${w.id}`)} class="mono">
                  {w.url}
                </a>
                {w.description ? <div class="muted">{w.description}</div> : null}
              </td>
              <td>{eventsText(w.eventTypes)}</td>
              <td>
                <StatusBadge status={w.enabled ? 'enabled' : 'disabled'} />
                {w.failingSince ? (
                  <div class="muted">
                    failing since <Time at={w.failingSince} />
                  </div>
                ) : null}
              </td>
              <td>
                <Time at={w.createdAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

export function webhooksPages(deps: Deps) {
  const newPage = async (c: Context<PortalEnv>, state: FormState, status = 200) =>
    render(
      c,
      { title: 'New webhook', section: 'webhooks', status: status as 200 },
      <>
        <p>
          <a href={nsUrl(c, '/webhooks')}>All webhooks</a>
        </p>
        <h1>New webhook</h1>
        <WebhookForm c={c} action={nsUrl(c, '/webhooks')} state={state} channels={await channelChoices(deps, c)} submit="Create webhook" />
      </>,
    )

  const app = new Hono<PortalEnv>()
  app.get('/', async (c) => {
    requirePortalScope(c, 'webhooks:read')
    const rows = await listWebhooks(deps, c.get('access').namespaceId)
    const write = can(c, 'webhooks:write')
    return render(
      c,
      { title: `Webhooks · ${c.get('access').namespaceSlug}`, section: 'webhooks' },
      <>
        <h1>Webhooks</h1>
        {c.req.query('notice') === 'deleted' ? (
          <p class="notice" role="status">
            The webhook is deleted.
          </p>
        ) : null}
        {write ? (
          <p class="actions">
            <a class="button" href={nsUrl(c, '/webhooks/new')}>
              Add a webhook
            </a>
          </p>
        ) : null}
        {rows.length === 0 ? (
          <EmptyState title="No webhooks yet">
            {write ? (
              <p>
                <a href={nsUrl(c, '/webhooks/new')}>Add one</a> to have message and channel events POSTed to your own server.
              </p>
            ) : (
              <p>A developer or admin of this namespace can add one.</p>
            )}
          </EmptyState>
        ) : (
          <WebhookTable c={c} rows={rows} />
        )}
      </>,
    )
  })

  app.get('/new', async (c) => {
    requirePortalScope(c, 'webhooks:write')
    return newPage(c, emptyForm())
  })

  app.post('/', async (c) => {
    requirePortalScope(c, 'webhooks:write')
    const posted = await readListForm(c)
    try {
      const created = await createWebhook(deps, c.get('access').namespaceId, readWebhookInput(posted, false) as Parameters<typeof createWebhook>[2])
      await auditPortal(deps, c, { resource: { type: 'webhook', id: created.webhook.id } })
      return render(c, { title: 'Webhook created', section: 'webhooks', status: 201 }, <SecretOnce c={c} hook={created.webhook} secret={created.secret} heading="Webhook created" />)
    } catch (error) {
      const { state, status } = formFailure(error, posted.values, { fields: WEBHOOK_FIELDS, rename: WEBHOOK_RENAME, secret: ['headers'] })
      return newPage(c, state, status)
    }
  })

  app.route('/', webhookDetailPages(deps))
  return app
}
