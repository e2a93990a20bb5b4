/**
 * The webhook form (create and edit): URL, description, the event types from the catalogue,
 * a channel filter, custom headers (sealed like secrets: never shown again, blank keeps them on
 * edit) and a rate limit — read into the API's request body and checked with its schema.
 */
import type { Context } from 'hono'
import { z } from 'zod'
import { errors, type FieldError } from '../../domain/errors'
import { EVENT_TYPES } from '../../domain/webhooks/event-types'
import { Field, PostForm, TextArea } from '../components'
import { CSRF_FIELD } from '../csrf'
import type { PortalEnv } from '../env'
import type { FormState } from '../forms'

// The API's request schema (src/http/routes/webhooks.ts `webhookInput`).
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const RESERVED_HEADER = /^(host|content-length|content-type|transfer-encoding|connection|user-agent|webhook-.*)$/i
export const webhookInputSchema = z.strictObject({
  url: z.string().min(1).max(2048),
  description: z.string().max(500).optional(),
  event_types: z.array(z.string()).max(50).optional(),
  channels: z.array(z.string()).max(100).optional(),
  headers: z
    .record(
      z.string().regex(HEADER_NAME, 'must be a valid HTTP header name').refine((h) => !RESERVED_HEADER.test(h), 'is set by the gateway'),
      z.string().regex(/^[\t\x20-\x7e]*$/, 'must be printable text'),
    )
    .optional(),
  enabled: z.boolean().optional(),
  rate_limit: z.int().min(1).max(10_000).nullable().optional(),
})
export const webhookPatchSchema = webhookInputSchema.partial()

export const WEBHOOK_FIELDS = ['url', 'description', 'event_types', 'channels', 'headers', 'clear_headers', 'rate_limit'] as const
export const WEBHOOK_RENAME = { event_types: 'event_types', channels: 'channels', headers: 'headers' }

/** A posted form: single values, and the ticked boxes of each list (event types, channels). */
export interface PostedForm {
  values: Record<string, string>
  lists: Record<string, string[]>
}

/** Reads a form whose checkbox lists repeat a name (readForm keeps only the last value). */
export async function readListForm(c: Context): Promise<PostedForm> {
  const body = await c.req.parseBody({ all: true }).catch(() => ({}) as Record<string, unknown>)
  const values: Record<string, string> = {}
  const lists: Record<string, string[]> = {}
  for (const [key, value] of Object.entries(body)) {
    if (key === CSRF_FIELD) continue
    const all = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string')
    lists[key] = all
    if (all.length > 0) values[key] = all.join('\n')
  }
  return { values, lists }
}

/** "Name: value" lines as a header map; a line without a colon names the field. */
function parseHeaders(text: string, problems: FieldError[]): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (line.trim() === '') continue
    const colon = line.indexOf(':')
    if (colon <= 0) {
      problems.push({ field: 'headers', message: `line ${i + 1}: write one header per line as Name: value` })
      continue
    }
    const name = line.slice(0, colon).trim()
    // Checked here as well as by the schema, whose record-key errors do not say which header.
    if (!HEADER_NAME.test(name)) problems.push({ field: 'headers', message: `line ${i + 1}: "${name}" is not a valid HTTP header name` })
    else if (RESERVED_HEADER.test(name)) problems.push({ field: 'headers', message: `line ${i + 1}: ${name} is set by the gateway` })
    headers[name] = line.slice(colon + 1).trim()
  }
  return headers
}

/**
 * The API's body for a posted form. Creating, blank fields are left out; editing, every field
 * is sent (blank description and rate limit clear them, no ticked event = every event), except
 * the headers: blank keeps the stored ones unless "remove" is ticked.
 */
export function readWebhookInput(posted: PostedForm, editing: boolean) {
  const { values, lists } = posted
  const problems: FieldError[] = []
  const text = (name: string) => values[name]?.trim() ?? ''
  const body: Record<string, unknown> = { url: text('url') }
  if (text('description') !== '' || editing) body.description = text('description')
  const events = (lists.event_types ?? []).filter((t) => t !== '')
  if (events.length > 0 || editing) body.event_types = events
  const channels = lists.channel_ids ?? (values.channels ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  if (channels.length > 0 || editing) body.channels = channels
  if (text('headers') !== '') body.headers = parseHeaders(values.headers!, problems)
  else if (editing && values.clear_headers === 'on') body.headers = {}
  const rate = text('rate_limit')
  if (rate !== '') {
    if (/^\d+$/.test(rate)) body.rate_limit = Number(rate)
    else problems.push({ field: 'rate_limit', message: 'must be a whole number' })
  } else if (editing) body.rate_limit = null
  if (problems.length > 0) throw errors.validation('the form has errors', problems)
  return editing ? webhookPatchSchema.parse(body) : webhookInputSchema.parse(body)
}

function Checks(props: { name: string; legend: string; hint: string; options: { value: string; label: string }[]; checked: string[]; state: FormState; errorFor: string }) {
  const error = props.state.errors[props.errorFor]
  return (
    <fieldset class={error ? 'checks invalid' : 'checks'} aria-describedby={error ? `${props.errorFor}-error` : undefined}>
      <legend>{props.legend}</legend>
      <p class="hint">{props.hint}</p>
      {props.options.map((o) => {
        const id = `${props.name}-${o.value.replace(/[^A-Za-z0-9_-]/g, '-')}`
        return (
          <div class="check">
            <input type="checkbox" id={id} name={props.name} value={o.value} checked={props.checked.includes(o.value)} />
            <label for={id}>{o.label}</label>
          </div>
        )
      })}
      {error ? (
        <p class="field-error" id={`${props.errorFor}-error`}>
          {error}
        </p>
      ) : null}
    </fieldset>
  )
}

export interface WebhookFormProps {
  c: Context<PortalEnv>
  action: string
  state: FormState
  /** The namespace's channels (id, name), or null when the user may not list them (a text field then). */
  channels: { id: string; name: string }[] | null
  /** Editing: the names of the stored custom headers (their values are never shown). */
  storedHeaders?: string[]
  submit: string
}

export function WebhookForm(props: WebhookFormProps) {
  const { c, state } = props
  const editing = props.storedHeaders !== undefined
  const list = (name: string) => (state.values[name] ?? '').split('\n').filter(Boolean)
  const headerHint = editing && props.storedHeaders!.length > 0 ? `Stored: ${props.storedHeaders!.join(', ')} (values hidden). Leave blank to keep them; anything typed here replaces them all.` : 'Optional: one per line, as Name: value (e.g. Authorization: Bearer …). Stored encrypted; never shown again.'
  return (
    <PostForm action={props.action} csrf={c.get('csrfToken')} state={state} class="panel" label={props.submit}>
      <Field name="url" label="URL" type="url" state={state} required hint="Where the gateway POSTs signed events (Standard Webhooks)." />
      <Field name="description" label="Description" state={state} hint="Optional: what this endpoint is for." />
      <Checks name="event_types" legend="Events" hint="Tick none to receive every event." options={EVENT_TYPES.map((t) => ({ value: t, label: t }))} checked={list('event_types')} state={state} errorFor="event_types" />
      {props.channels === null ? (
        <Field name="channels" label="Channels" state={state} hint="Optional: channel names or ids, separated by commas; blank for every channel." />
      ) : props.channels.length > 0 ? (
        <Checks name="channel_ids" legend="Channels" hint="Tick none to receive events of every channel." options={props.channels.map((ch) => ({ value: ch.id, label: ch.name }))} checked={list('channel_ids')} state={state} errorFor="channels" />
      ) : null}
      <TextArea name="headers" label="Custom headers" state={state} rows={3} placeholder="X-Api-Key: …" hint={headerHint} />
      {editing && props.storedHeaders!.length > 0 ? (
        <div class="field checkbox">
          <input type="checkbox" id="clear_headers" name="clear_headers" checked={state.values.clear_headers === 'on'} />
          <label for="clear_headers">Remove the stored custom headers</label>
        </div>
      ) : null}
      <Field name="rate_limit" label="Rate limit (deliveries per second)" type="number" state={state} hint="Optional: at most this many deliveries per second (1–10000). Blank: no limit." />
      <button type="submit">{props.submit}</button>
    </PostForm>
  )
}
