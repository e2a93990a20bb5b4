/**
 * Channels: the list with each channel's health (as `GET …/channels`), and creating one from
 * the form generated for its type (`createChannel`, as `POST …/channels`). One channel's page,
 * its edit form, test, pause/resume and delete are in channels-detail.tsx; its terminals in
 * channels-terminals.tsx.
 */
import { Hono, type Context } from 'hono'
import { connectorTypes } from '../../connectors/registry'
import { type ChannelWithHealth, createChannel, listChannels } from '../../domain/channels'
import type { Deps } from '../../domain/deps'
import { can, nsUrl, requirePortalScope } from '../access'
import { auditPortal } from '../audit'
import { EmptyState, Select, StatusBadge, Time } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, type FormState, formFailure, readForm } from '../forms'
import { render } from '../layout'
import { channelDetailPages } from './channels-detail'
import { ChannelEditor, channelCreateSchema, editorFields, percent, readAll, readLimits } from './channels-editor'
import { type ChannelForm, channelForm, defaultValues, readConfig } from './channels-form'

function TypeChooser(props: { c: Context<PortalEnv>; state: FormState }) {
  return (
    <form method="get" action={nsUrl(props.c, '/channels/new')} class="panel" aria-label="Choose a channel type">
      <Select name="type" label="Type" state={props.state} options={connectorTypes()} hint="The provider this channel connects to; the next step asks for its settings." />
      <button type="submit">Continue</button>
    </form>
  )
}

function ChannelTable(props: { c: Context<PortalEnv>; rows: ChannelWithHealth[] }) {
  const { c } = props
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            <th>Status</th>
            <th>Success (last hour)</th>
            <th>Last error</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((ch) => (
            <tr>
              <td>
                <a href={nsUrl(c, `/channels/${ch.id}`)}>{ch.name}</a>
              </td>
              <td>{ch.type}</td>
              <td>
                <StatusBadge status={ch.status} />
              </td>
              <td>{percent(ch.successRate1h)}</td>
              <td>
                {ch.lastErrorCode ? (
                  <>
                    <code>{ch.lastErrorCode}</code> {ch.lastErrorMessage ?? ''} <span class="muted">(<Time at={ch.lastErrorAt} />)</span>
                  </>
                ) : (
                  <span class="muted">none</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

export function channelsPages(deps: Deps) {
  const newPage = (c: Context<PortalEnv>, form: ChannelForm | null, state: FormState, status = 200) =>
    render(
      c,
      { title: 'New channel', section: 'channels', status: status as 200 },
      <>
        <h1>New channel</h1>
        <p>
          <a href={nsUrl(c, '/channels')}>All channels</a>
        </p>
        {form ? <ChannelEditor c={c} form={form} state={state} /> : <TypeChooser c={c} state={state} />}
      </>,
    )

  const app = new Hono<PortalEnv>()
  app.get('/', async (c) => {
    requirePortalScope(c, 'channels:read')
    const rows = await listChannels(deps, c.get('access').namespaceId)
    const deleted = c.req.query('notice') === 'deleted'
    return render(
      c,
      { title: `Channels · ${c.get('access').namespaceSlug}`, section: 'channels' },
      <>
        <h1>Channels</h1>
        {deleted ? <p class="notice" role="status">The channel is deleted.</p> : null}
        {can(c, 'channels:write') ? (
          <p class="actions">
            <a class="button" href={nsUrl(c, '/channels/new')}>
              Add a channel
            </a>
          </p>
        ) : null}
        {rows.length === 0 ? (
          <EmptyState title="No channels yet">
            {can(c, 'channels:write') ? (
              <p>
                <a href={nsUrl(c, '/channels/new')}>Add one</a> to send messages through a provider.
              </p>
            ) : (
              <p>A developer or admin of this namespace can add one.</p>
            )}
          </EmptyState>
        ) : (
          <ChannelTable c={c} rows={rows} />
        )}
      </>,
    )
  })

  app.get('/new', async (c) => {
    requirePortalScope(c, 'channels:write')
    const type = c.req.query('type')
    if (type === undefined || type === '') return newPage(c, null, emptyForm())
    const form = channelForm(type)
    if (!form) return newPage(c, null, { values: {}, errors: { type: `unknown channel type "${type.slice(0, 40)}"` } }, 422)
    return newPage(c, form, emptyForm(defaultValues(form)))
  })

  app.post('/', async (c) => {
    requirePortalScope(c, 'channels:write')
    const values = await readForm(c)
    const form = channelForm(values.type ?? '')
    if (!form) return newPage(c, null, { values: {}, errors: { type: `unknown channel type "${(values.type ?? '').slice(0, 40)}"` } }, 422)
    try {
      const [config, limits] = readAll(() => readConfig(form, values), () => readLimits(values, undefined))
      const input = channelCreateSchema.parse({ name: values.name?.trim() ?? '', type: form.type, config, ...limits })
      const channel = await createChannel(deps, c.get('access').namespaceId, input)
      await auditPortal(deps, c, { resource: { type: 'channel', id: channel.id } })
      return c.redirect(nsUrl(c, `/channels/${channel.id}?notice=created`), 303)
    } catch (error) {
      const { state, status } = formFailure(error, values, editorFields(form))
      return newPage(c, form, state, status)
    }
  })

  app.route('/', channelDetailPages(deps))
  return app
}
