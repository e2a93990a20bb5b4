/**
 * One channel: health, the inbound callback URL to paste into the provider's console, its
 * settings as the API shows them (secrets masked), and its terminals; edit (`updateChannel`, as
 * `PATCH …/channels/{channel}`), test the credentials (`testChannel`, as `POST …/test`), pause
 * or resume, delete (`deleteChannel`, as `DELETE …`).
 */
import { Hono, type Context } from 'hono'
import { type ChannelWithHealth, channelView, deleteChannel, getChannel, openChannelConfig, testChannel, updateChannel } from '../../domain/channels'
import { listTerminals, type Terminal } from '../../domain/channels/terminals'
import type { Deps } from '../../domain/deps'
import { AppError } from '../../domain/errors'
import { can, nsUrl, requirePortalScope } from '../access'
import { auditPortal } from '../audit'
import { ActionButton, StatusBadge, Time } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, fixedEntry, type FormState, formFailure, readForm } from '../forms'
import { render } from '../layout'
import { ChannelEditor, channelPatchSchema, editorFields, percent, readAll, readLimits } from './channels-editor'
import { channelForm, currentValues, labelOf, readConfig } from './channels-form'
import { channelTerminalPages, TerminalsSection } from './channels-terminals'

type ChannelView = ReturnType<typeof channelView>

const NOTICES: Record<string, string> = {
  created: 'The channel is created. Add a terminal if the provider needs a sender, and paste the callback URL into its console.',
  saved: 'The channel is saved.',
  paused: 'The channel is paused: messages for it wait until it is resumed.',
  resumed: 'The channel is active again.',
  'terminal-added': 'The terminal is added.',
  'terminal-saved': 'The terminal is saved.',
  'terminal-removed': 'The terminal is removed.',
}

/** What a channel's page shows besides the channel: a notice, a test result, an error, the terminal form. */
export interface ChannelPageState {
  notice?: string
  test?: { ok: boolean; detail?: string }
  message?: string
  terminal?: FormState
}

const configText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value))

function Actions(props: { c: Context<PortalEnv>; ch: ChannelView }) {
  const { c, ch } = props
  if (!can(c, 'channels:write')) return null
  const base = nsUrl(c, `/channels/${ch.id}`)
  const csrf = c.get('csrfToken')
  return (
    <div class="actions">
      <a class="button secondary" href={`${base}/edit`}>
        Edit
      </a>
      <ActionButton action={`${base}/test`} csrf={csrf} label="Test credentials" class="secondary" />
      {ch.status === 'paused' ? <ActionButton action={`${base}/resume`} csrf={csrf} label="Resume" class="secondary" /> : <ActionButton action={`${base}/pause`} csrf={csrf} label="Pause" class="secondary" />}
      <ActionButton action={`${base}/delete`} csrf={csrf} label="Delete" class="danger" question={`Delete the channel ${ch.name}? This cannot be undone.`} />
    </div>
  )
}

function Health(props: { ch: ChannelView }) {
  const { ch } = props
  const last = ch.health.last_error
  return (
    <section class="panel">
      <h2>Health</h2>
      {ch.status === 'failing' ? <p class="form-message">Most recent attempts through this channel failed: check its credentials and the provider's status.</p> : null}
      <dl class="meta">
        <dt>Status</dt>
        <dd>
          <StatusBadge status={ch.status} />
        </dd>
        <dt>Success (last hour)</dt>
        <dd>{percent(ch.health.success_rate_1h)}</dd>
        <dt>Last error</dt>
        <dd>
          {last ? (
            <>
              <code>{last.code}</code> {last.message ?? ''} <span class="muted">(<Time at={last.at} />)</span>
            </>
          ) : (
            <span class="muted">none</span>
          )}
        </dd>
      </dl>
    </section>
  )
}

function Inbound(props: { ch: ChannelView }) {
  const { ch } = props
  return (
    <section class="panel">
      <h2>Inbound callback URL</h2>
      {ch.inbound_url ? (
        <>
          <p>Paste this into the provider's console as the webhook or status-callback URL:</p>
          <p class="copy-line">
            <code id="inbound-url">{ch.inbound_url}</code>{' '}
            <button type="button" class="secondary" data-copy="inbound-url">
              Copy
            </button>
          </p>
        </>
      ) : (
        <p class="muted">A {ch.type} channel takes no callbacks from its provider.</p>
      )}
    </section>
  )
}

function Settings(props: { ch: ChannelView }) {
  const { ch } = props
  const entries = Object.entries(ch.config)
  return (
    <section class="panel">
      <h2>Settings</h2>
      <dl class="meta">
        {entries.map(([key, value]) => (
          <>
            <dt>{labelOf(key)}</dt>
            <dd class="mono">{configText(value)}</dd>
          </>
        ))}
        <dt>Max attempts</dt>
        <dd>{ch.max_attempts ?? <span class="muted">default</span>}</dd>
        <dt>Max age</dt>
        <dd>{ch.max_age_seconds !== null ? `${ch.max_age_seconds} s` : <span class="muted">default</span>}</dd>
        <dt>Rate limit</dt>
        <dd>{ch.rate_limit !== null ? `${ch.rate_limit} per second` : <span class="muted">none</span>}</dd>
        <dt>Capabilities</dt>
        <dd>{ch.capabilities.join(', ')}</dd>
        <dt>Created</dt>
        <dd>
          <Time at={ch.created_at} />
        </dd>
      </dl>
      <p class="muted">Secret values are masked and URLs shown as their origin: the portal never sends them back.</p>
    </section>
  )
}

export function channelDetailPages(deps: Deps) {
  const load = (c: Context<PortalEnv>) => getChannel(deps, c.get('access').namespaceId, c.req.param('channel') ?? '')

  /** The channel's page (status: 200, or the status of what failed on it). */
  async function channelPage(c: Context<PortalEnv>, channel: ChannelWithHealth, page: ChannelPageState = {}, status = 200) {
    const ch = channelView(deps, channel)
    const terminals: Terminal[] = await listTerminals(deps, c.get('access').namespaceId, ch.id)
    const notice = page.notice ?? fixedEntry(NOTICES, c.req.query('notice'))
    return render(
      c,
      { title: `Channel ${ch.name}`, section: 'channels', status: status as 200 },
      <>
        <p>
          <a href={nsUrl(c, '/channels')}>All channels</a>
        </p>
        <h1>
          Channel {ch.name} <StatusBadge status={ch.status} />
        </h1>
        <p class="muted">
          {ch.type} · <code>{ch.id}</code>
        </p>
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
        {page.test ? (
          <p class={page.test.ok ? 'notice' : 'form-message'} role="status" id="test-result">
            {page.test.ok ? 'The credentials work' : 'The test failed'}
            {page.test.detail ? `: ${page.test.detail}` : '.'}
          </p>
        ) : null}
        <Actions c={c} ch={ch} />
        <div class="grid-2">
          <Health ch={ch} />
          <Inbound ch={ch} />
        </div>
        <TerminalsSection c={c} channelId={ch.id} terminals={terminals} state={page.terminal ?? emptyForm()} />
        <Settings ch={ch} />
      </>,
    )
  }

  const editPage = async (c: Context<PortalEnv>, channel: ChannelWithHealth, state: FormState | null, status = 200) => {
    const form = channelForm(channel.type)
    const view = channelView(deps, channel)
    if (!form) return channelPage(c, channel, { message: `channel type "${channel.type}" is not supported by this omnigate` }, 422)
    const limits = { max_attempts: view.max_attempts, max_age_seconds: view.max_age_seconds, rate_limit: view.rate_limit }
    const shownLimits = Object.fromEntries(Object.entries(limits).flatMap(([k, v]) => (v === null ? [] : [[k, String(v)]])))
    const initial = state ?? emptyForm({ ...currentValues(form, view.config), ...shownLimits })
    return render(
      c,
      { title: `Edit channel ${channel.name}`, section: 'channels', status: status as 200 },
      <>
        <p>
          <a href={nsUrl(c, `/channels/${channel.id}`)}>Back to the channel</a>
        </p>
        <h1>Edit channel {channel.name}</h1>
        <ChannelEditor c={c} form={form} state={initial} channel={view} />
      </>,
    )
  }

  const app = new Hono<PortalEnv>()
  app.get('/:channel', async (c) => {
    requirePortalScope(c, 'channels:read')
    return channelPage(c, await load(c))
  })

  app.get('/:channel/edit', async (c) => {
    requirePortalScope(c, 'channels:write')
    return editPage(c, await load(c), null)
  })

  app.post('/:channel/edit', async (c) => {
    requirePortalScope(c, 'channels:write')
    const channel = await load(c)
    const values = await readForm(c)
    const form = channelForm(channel.type)
    if (!form) return editPage(c, channel, null)
    try {
      // A blank secret keeps the stored one: the API replaces a config whole, so it is filled in here.
      const [config, limits] = readAll(() => readConfig(form, values, openChannelConfig(deps, channel)), () => readLimits(values, null))
      const patch = channelPatchSchema.parse({ config, ...limits })
      const updated = await updateChannel(deps, c.get('access').namespaceId, channel.id, patch)
      await auditPortal(deps, c, { resource: { type: 'channel', id: updated.id } })
      return c.redirect(nsUrl(c, `/channels/${updated.id}?notice=saved`), 303)
    } catch (error) {
      const { state, status } = formFailure(error, values, editorFields(form))
      return editPage(c, channel, state, status)
    }
  })

  app.post('/:channel/test', async (c) => {
    requirePortalScope(c, 'channels:write')
    const channel = await load(c)
    const result = await testChannel(deps, c.get('access').namespaceId, channel.id)
    // As the API's audit middleware records POST …/channels/{channel}/test.
    await auditPortal(deps, c, { resource: { type: 'channel', id: channel.id } })
    return channelPage(c, channel, { test: { ok: result.ok, ...(result.detail ? { detail: result.detail } : {}) } })
  })

  for (const [action, status] of [['pause', 'paused'], ['resume', 'active']] as const) {
    app.post(`/:channel/${action}`, async (c) => {
      requirePortalScope(c, 'channels:write')
      const channel = await load(c)
      await updateChannel(deps, c.get('access').namespaceId, channel.id, channelPatchSchema.parse({ status }))
      await auditPortal(deps, c, { resource: { type: 'channel', id: channel.id } })
      return c.redirect(nsUrl(c, `/channels/${channel.id}?notice=${action === 'pause' ? 'paused' : 'resumed'}`), 303)
    })
  }

  app.post('/:channel/delete', async (c) => {
    requirePortalScope(c, 'channels:write')
    const channel = await load(c)
    try {
      await deleteChannel(deps, c.get('access').namespaceId, channel.id)
    } catch (error) {
      // A channel with messages cannot go (409): say so on its page.
      if (error instanceof AppError && error.status === 409) return channelPage(c, channel, { message: `${error.detail}.` }, 409)
      throw error
    }
    await auditPortal(deps, c, { resource: { type: 'channel', id: channel.id } })
    return c.redirect(nsUrl(c, '/channels?notice=deleted'), 303)
  })

  app.route('/', channelTerminalPages(deps, channelPage))
  return app
}
