/**
 * A channel's terminals (its sender numbers, From addresses, bots): listed on the channel's
 * page, added (`createTerminal`, as `POST …/terminals`), renamed or made the default
 * (`updateTerminal`, as `PATCH …/terminals/{terminal}`) and removed (`deleteTerminal`).
 */
import { Hono, type Context } from 'hono'
import { z } from 'zod'
import type { ChannelWithHealth } from '../../domain/channels'
import { getChannel } from '../../domain/channels'
import { createTerminal, deleteTerminal, listTerminals, type Terminal, updateTerminal } from '../../domain/channels/terminals'
import type { Deps } from '../../domain/deps'
import { errors } from '../../domain/errors'
import { can, nsUrl, requirePortalScope } from '../access'
import { auditPortal } from '../audit'
import { ActionButton, EmptyState, Field, PostForm } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, type FormState, formFailure, readForm } from '../forms'
import { render } from '../layout'
import type { ChannelPageState } from './channels-detail'

// The API's request schemas (src/http/routes/channels.ts).
const terminalCreateSchema = z.strictObject({ address: z.string().min(1).max(512), name: z.string().max(200).optional(), default: z.boolean().optional() })
const terminalPatchSchema = terminalCreateSchema.omit({ address: true })
const FIELDS = ['address', 'name', 'default']

function DefaultBox(props: { state: FormState }) {
  return (
    <div class="field checkbox">
      <input type="checkbox" id="default" name="default" checked={props.state.values.default === 'on'} />
      <label for="default">Default terminal</label>
      <p class="hint">Messages that name no sender go out from the default terminal.</p>
    </div>
  )
}

export function TerminalsSection(props: { c: Context<PortalEnv>; channelId: string; terminals: Terminal[]; state: FormState }) {
  const { c, terminals, state } = props
  const write = can(c, 'channels:write')
  const base = nsUrl(c, `/channels/${props.channelId}/terminals`)
  const csrf = c.get('csrfToken')
  return (
    <section class="panel" id="terminals">
      <h2>Terminals</h2>
      {terminals.length === 0 ? (
        <EmptyState title="No terminals yet">
          <p>A terminal is an address the channel sends from and receives on: a phone number, a From e-mail address, a bot.{write ? ' Add one below.' : ''}</p>
        </EmptyState>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Address</th>
                <th>Name</th>
                <th>Default</th>
                {write ? <th>Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {terminals.map((t) => (
                <tr>
                  <td class="mono">{t.address}</td>
                  <td>{t.name || <span class="muted">—</span>}</td>
                  <td>{t.isDefault ? 'default' : ''}</td>
                  {write ? (
                    <td class="row-actions">
                      <a href={`${base}/${t.id}/edit`} aria-label={`Edit terminal ${t.address}`}>
                        Edit
                      </a>{' '}
                      {!t.isDefault ? <ActionButton action={`${base}/${t.id}/default`} csrf={csrf} label="Make default" class="secondary" /> : null}{' '}
                      <ActionButton action={`${base}/${t.id}/delete`} csrf={csrf} label="Remove" class="secondary" question={`Remove the terminal ${t.address}?`} aria={`Remove terminal ${t.address}`} />
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {write ? (
        <PostForm action={base} csrf={csrf} state={state} label="Add a terminal">
          <h3>Add a terminal</h3>
          <Field name="address" label="Address" state={state} required hint="As the provider knows it: +15551234567, alerts@example.com, a bot name." />
          <Field name="name" label="Name" state={state} hint="Optional: a label for people." />
          <DefaultBox state={state} />
          <button type="submit">Add terminal</button>
        </PostForm>
      ) : null}
    </section>
  )
}

type ChannelPage = (c: Context<PortalEnv>, channel: ChannelWithHealth, page?: ChannelPageState, status?: number) => Promise<Response>

export function channelTerminalPages(deps: Deps, channelPage: ChannelPage) {
  const ns = (c: Context<PortalEnv>) => c.get('access').namespaceId
  const load = (c: Context<PortalEnv>) => getChannel(deps, ns(c), c.req.param('channel') ?? '')
  async function terminalOf(c: Context<PortalEnv>, channel: ChannelWithHealth): Promise<Terminal> {
    const ref = c.req.param('terminal')
    const terminal = (await listTerminals(deps, ns(c), channel.id)).find((t) => t.id === ref)
    if (!terminal) throw errors.terminalNotFound(`terminal "${ref}" does not exist on channel "${channel.name}"`)
    return terminal
  }
  const back = (c: Context<PortalEnv>, channel: ChannelWithHealth, notice: string) => c.redirect(nsUrl(c, `/channels/${channel.id}?notice=${notice}#terminals`), 303)

  const editPage = (c: Context<PortalEnv>, channel: ChannelWithHealth, terminal: Terminal, state: FormState, status = 200) =>
    render(
      c,
      { title: `Terminal ${terminal.address}`, section: 'channels', status: status as 200 },
      <>
        <p>
          <a href={nsUrl(c, `/channels/${channel.id}`)}>Back to the channel {channel.name}</a>
        </p>
        <h1>
          Terminal <span class="mono">{terminal.address}</span>
        </h1>
        <PostForm action={nsUrl(c, `/channels/${channel.id}/terminals/${terminal.id}/edit`)} csrf={c.get('csrfToken')} state={state} class="panel" label="Edit terminal">
          <Field name="name" label="Name" state={state} hint="A label for people; blank for none." />
          <DefaultBox state={state} />
          <button type="submit">Save terminal</button>
        </PostForm>
      </>,
    )

  const app = new Hono<PortalEnv>()
  app.post('/:channel/terminals', async (c) => {
    requirePortalScope(c, 'channels:write')
    const channel = await load(c)
    const values = await readForm(c)
    try {
      const input = terminalCreateSchema.parse({ address: values.address?.trim() ?? '', ...(values.name?.trim() ? { name: values.name.trim() } : {}), ...(values.default === 'on' ? { default: true } : {}) })
      const terminal = await createTerminal(deps, ns(c), channel.id, input)
      await auditPortal(deps, c, { resource: { type: 'terminal', id: terminal.id } })
      return back(c, channel, 'terminal-added')
    } catch (error) {
      const { state, status } = formFailure(error, values, { fields: FIELDS })
      return channelPage(c, channel, { terminal: state }, status)
    }
  })

  app.get('/:channel/terminals/:terminal/edit', async (c) => {
    requirePortalScope(c, 'channels:write')
    const channel = await load(c)
    const terminal = await terminalOf(c, channel)
    return editPage(c, channel, terminal, emptyForm({ name: terminal.name, ...(terminal.isDefault ? { default: 'on' } : {}) }))
  })

  app.post('/:channel/terminals/:terminal/edit', async (c) => {
    requirePortalScope(c, 'channels:write')
    const channel = await load(c)
    const terminal = await terminalOf(c, channel)
    const values = await readForm(c)
    try {
      // Unticking "default" leaves the channel without one, as the API's `default: false` does.
      const patch = terminalPatchSchema.parse({ name: values.name?.trim() ?? '', default: values.default === 'on' })
      await updateTerminal(deps, ns(c), channel.id, terminal.id, patch)
      await auditPortal(deps, c, { resource: { type: 'terminal', id: terminal.id } })
      return back(c, channel, 'terminal-saved')
    } catch (error) {
      const { state, status } = formFailure(error, values, { fields: FIELDS })
      return editPage(c, channel, terminal, state, status)
    }
  })

  app.post('/:channel/terminals/:terminal/default', async (c) => {
    requirePortalScope(c, 'channels:write')
    const channel = await load(c)
    const terminal = await terminalOf(c, channel)
    await updateTerminal(deps, ns(c), channel.id, terminal.id, terminalPatchSchema.parse({ default: true }))
    await auditPortal(deps, c, { resource: { type: 'terminal', id: terminal.id } })
    return back(c, channel, 'terminal-saved')
  })

  app.post('/:channel/terminals/:terminal/delete', async (c) => {
    requirePortalScope(c, 'channels:write')
    const channel = await load(c)
    const terminal = await terminalOf(c, channel)
    await deleteTerminal(deps, ns(c), channel.id, terminal.id)
    await auditPortal(deps, c, { resource: { type: 'terminal', id: terminal.id } })
    return back(c, channel, 'terminal-removed')
  })
  return app
}
