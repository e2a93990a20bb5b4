/**
 * One webhook endpoint: its filters and state, its delivery log; edit (`updateWebhook`, as
 * `PATCH …/webhooks/{id}`), enable or disable, rotate the secret (`rotateWebhookSecret`: the
 * new one shown once) and delete (`deleteWebhook`).
 */
import { Hono, type Context } from 'hono'
import type { Deps } from '../../domain/deps'
import { deleteWebhook, getWebhook, openSecrets, rotateWebhookSecret, updateWebhook, type Webhook } from '../../domain/webhooks/endpoints'
import { can, nsUrl, requirePortalScope } from '../access'
import { auditPortal } from '../audit'
import { ActionButton, StatusBadge, Time } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, fixedEntry, type FormState, formFailure } from '../forms'
import { render } from '../layout'
import { DeliveryLog, type HookPageState, loadDeliveryLog, webhookDeliveryPages } from './webhooks-deliveries'
import { readListForm, readWebhookInput, WEBHOOK_FIELDS, WEBHOOK_RENAME, WebhookForm, webhookPatchSchema } from './webhooks-form'
import { channelChoices, eventsText, SecretOnce } from './webhooks-parts'

const NOTICES: Record<string, string> = {
  saved: 'The webhook is saved.',
  enabled: 'The webhook is enabled: new events are delivered again.',
  disabled: 'The webhook is disabled: no deliveries are made until it is enabled.',
  retried: 'The delivery is queued to be sent again now.',
}

function Actions(props: { c: Context<PortalEnv>; hook: Webhook }) {
  const { c, hook } = props
  if (!can(c, 'webhooks:write')) return null
  const base = nsUrl(c, `/webhooks/${hook.id}`)
  const csrf = c.get('csrfToken')
  return (
    <div class="actions">
      <a class="button secondary" href={`${base}/edit`}>
        Edit
      </a>
      {hook.enabled ? <ActionButton action={`${base}/disable`} csrf={csrf} label="Disable" class="secondary" /> : <ActionButton action={`${base}/enable`} csrf={csrf} label="Enable" class="secondary" />}
      <ActionButton action={`${base}/rotate`} csrf={csrf} label="Rotate secret" class="secondary" question="Rotate the signing secret? The current one keeps signing beside the new one for 24 hours." />
      <ActionButton action={`${base}/delete`} csrf={csrf} label="Delete" class="danger" question="Delete this webhook and its delivery log? This cannot be undone." />
    </div>
  )
}

export function webhookDetailPages(deps: Deps) {
  const ns = (c: Context<PortalEnv>) => c.get('access').namespaceId
  const load = (c: Context<PortalEnv>) => getWebhook(deps, ns(c), c.req.param('id') ?? '')
  const channelNames = async (c: Context<PortalEnv>) => new Map((await channelChoices(deps, c))?.map((ch) => [ch.id, ch.name]) ?? [])

  async function hookPage(c: Context<PortalEnv>, hook: Webhook, page: HookPageState = {}, status = 200) {
    const log = await loadDeliveryLog(deps, c, hook.id)
    const names = await channelNames(c)
    const headers = Object.keys(openSecrets(deps, hook).headers)
    const query = c.req.query('notice')
    const notice = page.notice ?? (query === 'recovered' ? `${Number.parseInt(c.req.query('count') ?? '0', 10) || 0} failed deliveries queued again.` : fixedEntry(NOTICES, query))
    return render(
      c,
      { title: 'Webhook', section: 'webhooks', status: (status === 200 ? log.status : status) as 200 },
      <>
        <p>
          <a href={nsUrl(c, '/webhooks')}>All webhooks</a>
        </p>
        <h1>
          Webhook <StatusBadge status={hook.enabled ? 'enabled' : 'disabled'} />
        </h1>
        <p class="mono">{hook.url}</p>
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        {page.message ? (
          <p class="form-message" role="alert">
            {page.message}
          </p>
        ) : null}
        {!hook.enabled && hook.disabledReason ? <p class="form-message">Disabled: {hook.disabledReason}.</p> : null}
        <Actions c={c} hook={hook} />
        <section class="panel">
          <h2>Settings</h2>
          <dl class="meta">
            <dt>ID</dt>
            <dd class="mono">{hook.id}</dd>
            <dt>Description</dt>
            <dd>{hook.description || <span class="muted">—</span>}</dd>
            <dt>Events</dt>
            <dd>{eventsText(hook.eventTypes)}</dd>
            <dt>Channels</dt>
            <dd>{hook.channelIds.length === 0 ? 'every channel' : hook.channelIds.map((id) => names.get(id) ?? id).join(', ')}</dd>
            <dt>Custom headers</dt>
            <dd>{headers.length === 0 ? <span class="muted">none</span> : headers.map((h) => `${h}: ••••`).join(', ')}</dd>
            <dt>Rate limit</dt>
            <dd>{hook.rateLimit !== null ? `${hook.rateLimit} per second` : <span class="muted">none</span>}</dd>
            <dt>Failing since</dt>
            <dd>
              <Time at={hook.failingSince} />
            </dd>
            <dt>Created</dt>
            <dd>
              <Time at={hook.createdAt} />
            </dd>
          </dl>
          <p class="muted">The signing secret was shown once, when the webhook was created or its secret rotated.</p>
        </section>
        <DeliveryLog c={c} hook={hook} log={log} recover={page.recover} />
      </>,
    )
  }

  const editPage = async (c: Context<PortalEnv>, hook: Webhook, state: FormState, status = 200) =>
    render(
      c,
      { title: 'Edit webhook', section: 'webhooks', status: status as 200 },
      <>
        <p>
          <a href={nsUrl(c, `/webhooks/${hook.id}`)}>Back to the webhook</a>
        </p>
        <h1>Edit webhook</h1>
        <WebhookForm c={c} action={nsUrl(c, `/webhooks/${hook.id}/edit`)} state={state} channels={await channelChoices(deps, c)} storedHeaders={Object.keys(openSecrets(deps, hook).headers)} submit="Save webhook" />
      </>,
    )

  const app = new Hono<PortalEnv>()
  app.get('/:id', async (c) => {
    requirePortalScope(c, 'webhooks:read')
    return hookPage(c, await load(c))
  })

  app.get('/:id/edit', async (c) => {
    requirePortalScope(c, 'webhooks:write')
    const hook = await load(c)
    const names = await channelChoices(deps, c)
    const values: Record<string, string> = { url: hook.url, description: hook.description }
    if (!hook.eventTypes.includes('*')) values.event_types = hook.eventTypes.join('\n')
    if (hook.channelIds.length > 0) {
      if (names) values.channel_ids = hook.channelIds.join('\n')
      else values.channels = hook.channelIds.join(', ')
    }
    if (hook.rateLimit !== null) values.rate_limit = String(hook.rateLimit)
    return editPage(c, hook, emptyForm(values))
  })

  app.post('/:id/edit', async (c) => {
    requirePortalScope(c, 'webhooks:write')
    const hook = await load(c)
    const posted = await readListForm(c)
    try {
      const updated = await updateWebhook(deps, ns(c), hook.id, readWebhookInput(posted, true))
      await auditPortal(deps, c, { resource: { type: 'webhook', id: updated.id } })
      return c.redirect(nsUrl(c, `/webhooks/${updated.id}?notice=saved`), 303)
    } catch (error) {
      const { state, status } = formFailure(error, posted.values, { fields: WEBHOOK_FIELDS, rename: WEBHOOK_RENAME, secret: ['headers'] })
      return editPage(c, hook, state, status)
    }
  })

  for (const [action, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post(`/:id/${action}`, async (c) => {
      requirePortalScope(c, 'webhooks:write')
      const hook = await load(c)
      await updateWebhook(deps, ns(c), hook.id, webhookPatchSchema.parse({ enabled }))
      await auditPortal(deps, c, { resource: { type: 'webhook', id: hook.id } })
      return c.redirect(nsUrl(c, `/webhooks/${hook.id}?notice=${enabled ? 'enabled' : 'disabled'}`), 303)
    })
  }

  app.post('/:id/rotate', async (c) => {
    requirePortalScope(c, 'webhooks:write')
    const hook = await load(c)
    const rotated = await rotateWebhookSecret(deps, ns(c), hook.id)
    await auditPortal(deps, c, { resource: { type: 'webhook', id: hook.id } })
    return render(c, { title: 'New signing secret', section: 'webhooks' }, <SecretOnce c={c} hook={rotated.webhook} secret={rotated.secret} heading="New signing secret" note="The previous secret keeps signing beside the new one for 24 hours, so your receiver can switch without missing a delivery." />)
  })

  app.post('/:id/delete', async (c) => {
    requirePortalScope(c, 'webhooks:write')
    const hook = await load(c)
    await deleteWebhook(deps, ns(c), hook.id)
    await auditPortal(deps, c, { resource: { type: 'webhook', id: hook.id } })
    return c.redirect(nsUrl(c, '/webhooks?notice=deleted'), 303)
  })

  app.route('/', webhookDeliveryPages(deps, hookPage))
  return app
}
