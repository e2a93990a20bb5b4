/**
 * Messages: the filterable, paginated list (the same query as `GET …/messages`) and the form
 * that sends a test message (the same `sendMessage` as `POST …/messages`). The detail page,
 * its live updates and cancel are in message-detail.tsx.
 */
import { Hono, type Context } from 'hono'
import { listChannels } from '../../domain/channels'
import type { Deps } from '../../domain/deps'
import { invalidField } from '../../domain/errors'
import type { Logger } from '../../lib/log'
import { listMessagesSchema, MESSAGE_STATUSES, sendMessageSchema } from '../../domain/messages/input'
import { listMessages } from '../../domain/messages/query'
import { sendMessage } from '../../domain/messages/send'
import { can, nsUrl, requirePortalScope } from '../access'
import { DateTimeField, EmptyState, Field, Pager, PostForm, Select, StatusBadge, TextArea, Time } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, fixedEntry, type FormState, formFailure, readForm } from '../forms'
import { fragment, render } from '../layout'
import { apiTime, apiTimes, offsetField } from '../local-time'
import { messageDetailPages } from './message-detail'

const PAGE_SIZE = 25
const FILTERS = ['status', 'channel', 'direction', 'recipient', 'range', 'since', 'until'] as const
const TIME_FILTERS = ['since', 'until']
// The query parameters the filter form sends: each time comes with its browser's offset.
const QUERY = [...FILTERS, ...TIME_FILTERS.map(offsetField)]
const RANGES: Record<string, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 }
const SEND_FIELDS = ['channel', 'to', 'subject', 'text', 'send_at', 'options'] as const

type MessageRow = Awaited<ReturnType<typeof listMessages>>['data'][number]

const recipientText = (to: unknown) => (typeof to === 'string' ? to : JSON.stringify(to))
function preview(m: MessageRow): string {
  const content = m.content as { subject?: string; text?: string; html?: string }
  const text = content.subject ?? content.text ?? content.html?.replace(/<[^>]*>/g, ' ') ?? ''
  return text.length > 60 ? `${text.slice(0, 59)}…` : text
}

function Filters(props: { c: Context<PortalEnv>; state: FormState }) {
  const { c, state } = props
  return (
    <form class="panel filters" method="get" action={nsUrl(c, '/messages')} hx-get={nsUrl(c, '/messages')} hx-target="#messages-body" hx-swap="outerHTML" hx-push-url="true" aria-label="Filter messages">
      {state.message ? (
        <p class="form-message" role="alert">
          {state.message}
        </p>
      ) : null}
      <Select name="status" label="Status" state={state} options={[{ value: '', label: 'any' }, ...MESSAGE_STATUSES]} />
      <Select name="direction" label="Direction" state={state} options={[{ value: '', label: 'any' }, 'outbound', 'inbound']} />
      <Field name="channel" label="Channel" state={state} placeholder="name or id" />
      <Field name="recipient" label="Recipient" state={state} />
      <Select name="range" label="Time range" state={state} options={[{ value: '', label: 'all time' }, { value: '1h', label: 'last hour' }, { value: '24h', label: 'last 24 hours' }, { value: '7d', label: 'last 7 days' }, { value: '30d', label: 'last 30 days' }]} />
      <DateTimeField name="since" label="Since" state={state} />
      <DateTimeField name="until" label="Until" state={state} />
      <button type="submit">Filter</button>
    </form>
  )
}

function Results(props: { c: Context<PortalEnv>; rows: MessageRow[]; pageUrl: (cursor: string | null) => string; cursor: string | null; next: string | null; filtered: boolean }) {
  const { c, rows } = props
  return (
    <div id="message-results">
      {rows.length === 0 ? (
        <EmptyState title={props.filtered ? 'No messages match these filters' : 'No messages yet'}>
          {!props.filtered && can(c, 'messages:send') ? (
            <p>
              <a href={nsUrl(c, '/messages/new')}>Send a test message</a>
            </p>
          ) : null}
        </EmptyState>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Created</th>
                <th>Status</th>
                <th>Direction</th>
                <th>Channel</th>
                <th>To</th>
                <th>Content</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((m) => (
                <tr>
                  <td>
                    <a href={nsUrl(c, `/messages/${m.id}`)} aria-label={`Message ${m.id}`}>
                      <Time at={m.created_at} />
                    </a>
                  </td>
                  <td>
                    <StatusBadge status={m.status} />
                  </td>
                  <td>{m.direction}</td>
                  <td>{m.channel.name}</td>
                  <td class="mono">{recipientText(m.to)}</td>
                  <td>{preview(m)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager firstUrl={props.cursor ? props.pageUrl(null) : null} nextUrl={props.next ? props.pageUrl(props.next) : null} />
    </div>
  )
}

function SendForm(props: { c: Context<PortalEnv>; state: FormState; channels: string[] | null }) {
  const { c, state, channels } = props
  return (
    <PostForm action={nsUrl(c, '/messages')} csrf={c.get('csrfToken')} state={state} class="panel" label="Send a test message">
      {channels && channels.length > 0 ? <Select name="channel" label="Channel" state={state} options={channels} /> : <Field name="channel" label="Channel" state={state} hint="The channel's name or id." />}
      <Field name="to" label="To" state={state} hint="The recipient: an e-mail address, a phone number, a chat id… as the channel expects." />
      <Field name="subject" label="Subject" state={state} hint="Optional; e-mail only." />
      <TextArea name="text" label="Text" state={state} rows={5} />
      <DateTimeField name="send_at" label="Send at" state={state} hint="Optional: schedule it. Empty sends now." />
      <TextArea name="options" label="Options (JSON)" state={state} rows={2} placeholder='{"sandbox": {"delay_ms": 2000}}' hint="Optional connector options, as the API's options field." />
      <button type="submit">Send message</button>
    </PostForm>
  )
}

/** The form's text fields as the API's send request (empty fields left out), and whether the options are not JSON. */
function sendInput(values: Record<string, string>): { input: Record<string, unknown> & { channel: string; to: string }; optionsError?: string } {
  const text = (name: string) => (values[name]?.trim() ? values[name]!.trim() : undefined)
  let options: unknown
  let optionsError: string | undefined
  const sendAt = apiTime(values, 'send_at')
  const optionsText = text('options')
  if (optionsText !== undefined) {
    try {
      options = JSON.parse(optionsText)
    } catch {
      optionsError = 'must be a JSON object, e.g. {"sandbox": {"delay_ms": 2000}}'
    }
  }
  return {
    input: {
      channel: values.channel?.trim() ?? '',
      to: values.to?.trim() ?? '',
      content: { ...(text('subject') ? { subject: text('subject') } : {}), ...(values.text?.trim() ? { text: values.text } : {}) },
      ...(sendAt ? { send_at: sendAt } : {}),
      ...(options !== undefined ? { options } : {}),
    },
    ...(optionsError ? { optionsError } : {}),
  }
}

export function messagesPages(deps: Deps, log: Logger) {
  const channelNames = async (c: Context<PortalEnv>) =>
    can(c, 'channels:read') ? (await listChannels(deps, c.get('access').namespaceId)).map((ch) => ch.name).sort() : null
  const sendPage = async (c: Context<PortalEnv>, state: FormState, status = 200) =>
    render(
      c,
      { title: 'Send a test message', section: 'messages', status: status as 200 },
      <>
        <h1>Send a test message</h1>
        <p>
          <a href={nsUrl(c, '/messages')}>All messages</a>
        </p>
        <SendForm c={c} state={state} channels={await channelNames(c)} />
      </>,
    )

  const app = new Hono<PortalEnv>()
  app.get('/', async (c) => {
    requirePortalScope(c, 'messages:read')
    const values: Record<string, string> = {}
    for (const name of QUERY) {
      const v = c.req.query(name)?.trim()
      if (v) values[name] = v.slice(0, 512)
    }
    const cursor = c.req.query('cursor')?.slice(0, 100) || null
    const pageUrl = (next: string | null) => {
      const q = new URLSearchParams(values)
      if (next) q.set('cursor', next)
      const query = q.toString()
      return nsUrl(c, `/messages${query ? `?${query}` : ''}`)
    }
    let state = emptyForm(values)
    let page: Awaited<ReturnType<typeof listMessages>> = { data: [], next_cursor: null }
    let status = 200
    try {
      const range = fixedEntry(RANGES, values.range)
      if (values.range && range === undefined) throw invalidField('range', `must be one of ${Object.keys(RANGES).join(', ')}`)
      const { range: _range, ...filters } = apiTimes(values, TIME_FILTERS)
      const since = filters.since ?? (range !== undefined ? new Date(Date.now() - range).toISOString() : undefined)
      const input = listMessagesSchema.parse({ ...filters, ...(since ? { since } : {}), limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) })
      page = await listMessages(deps, c.get('access').namespaceId, input)
    } catch (error) {
      const failed = formFailure(error, values, { fields: FILTERS })
      state = failed.state
      status = failed.status
    }
    // The filters and the results, together: htmx swaps them as one, so a bad filter shows next to its field.
    const body = (
      <div id="messages-body">
        <Filters c={c} state={state} />
        <Results c={c} rows={page.data} pageUrl={pageUrl} cursor={cursor} next={page.next_cursor} filtered={FILTERS.some((name) => values[name] !== undefined)} />
      </div>
    )
    if (c.req.header('hx-request')) return c.html(await fragment(body), status as 200)
    return render(
      c,
      { title: `Messages · ${c.get('access').namespaceSlug}`, section: 'messages', status: status as 200 },
      <>
        <h1>Messages</h1>
        {can(c, 'messages:send') ? (
          <p class="actions">
            <a class="button" href={nsUrl(c, '/messages/new')}>
              Send a test message
            </a>
          </p>
        ) : null}
        {body}
      </>,
    )
  })

  app.get('/new', async (c) => {
    requirePortalScope(c, 'messages:send')
    return sendPage(c, emptyForm())
  })

  app.post('/', async (c) => {
    requirePortalScope(c, 'messages:send')
    const values = await readForm(c)
    const rename = { 'content.text': 'text', 'content.subject': 'subject', content: 'text', options: 'options' }
    try {
      const { input: draft, optionsError } = sendInput(values)
      const missing: Record<string, string> = Object.fromEntries((['channel', 'to'] as const).filter((f) => draft[f] === '').map((f) => [f, 'is required']))
      if (optionsError) missing.options = optionsError
      if (Object.keys(missing).length > 0) {
        // The API's own validation still runs for the other fields: one answer names every bad field.
        const rest = sendMessageSchema.safeParse({ ...draft, channel: draft.channel || '-', to: draft.to || '-' })
        const others = rest.success ? {} : formFailure(rest.error, values, { fields: SEND_FIELDS, rename }).state.errors
        return sendPage(c, { values, errors: { ...others, ...missing } }, 422)
      }
      const input = sendMessageSchema.parse(draft)
      const accepted = await sendMessage(deps, c.get('access').namespaceId, input, { applicationId: null })
      const id = (accepted.body as { id: string }).id
      return c.redirect(nsUrl(c, `/messages/${id}`), 303)
    } catch (error) {
      const { state, status } = formFailure(error, values, { fields: SEND_FIELDS, rename })
      return sendPage(c, state, status)
    }
  })

  app.route('/', messageDetailPages(deps, log))
  return app
}
