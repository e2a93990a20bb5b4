/**
 * The channel form, generated from the connector's config schema (its JSON Schema, input side):
 * one labelled field per key — text, number, a checkbox, a choice, a fieldset for a nested
 * object, JSON for maps. Secret keys (`secretKeys`) are password inputs whose values never go
 * back to the browser; on edit a blank secret or URL keeps the stored value (the domain replaces
 * a config whole, so the portal fills them in from the stored config before calling it).
 */
import { z } from 'zod'
import { getConnector } from '../../connectors/registry'
import { errors, type FieldError } from '../../domain/errors'
import { Field, Select, TextArea } from '../components'
import type { FormState } from '../forms'

type JsonSchema = {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  enum?: unknown[]
  default?: unknown
}

export type FieldKind = 'text' | 'number' | 'boolean' | 'choice' | 'json'

/** One generated form field: `config.host`, or `config.dkim.private_key` inside a group. */
export interface ConfigField {
  name: string
  key: string
  /** The key inside the group (nested object), when in one. */
  sub?: string
  label: string
  kind: FieldKind
  options?: string[]
  required: boolean
  default?: unknown
  /** Under a secret key: never shown, blank keeps the stored value on edit. */
  secret: boolean
  /** A URL key: shown as its origin only, so on edit blank keeps it too. */
  url: boolean
  multiline: boolean
  /** In a group that may be left out: required only when the group is given. */
  optionalGroup?: string
}

export interface ConfigGroup {
  key: string
  label: string
  required: boolean
  secret: boolean
  fields: ConfigField[]
}

export interface ChannelForm {
  type: string
  /** Top-level items in schema order: a field or a group of fields. */
  items: (ConfigField | ConfigGroup)[]
  fields: ConfigField[]
}

// Words the plain "snake_case → Sentence case" label would get wrong.
const WORDS: Record<string, string> = { starttls: 'STARTTLS', url: 'URL', id: 'ID', sid: 'SID', api: 'API', dkim: 'DKIM', tls: 'TLS', vapid: 'VAPID', ttl: 'TTL', smtp: 'SMTP', http: 'HTTP', ms: '(ms)', seconds: '(seconds)' }
/** Secret strings that hold several lines (a PEM key): a text area, not a password input. */
const MULTILINE = new Set(['dkim.private_key'])

export function labelOf(key: string): string {
  const words = key.split('_').map((w) => WORDS[w] ?? w)
  const first = words[0]!
  words[0] = first === first.toLowerCase() ? first.charAt(0).toUpperCase() + first.slice(1) : first
  return words.join(' ')
}

function kindOf(s: JsonSchema): { kind: FieldKind; options?: string[] } {
  if (Array.isArray(s.enum) && s.enum.every((v) => typeof v === 'string')) return { kind: 'choice', options: s.enum as string[] }
  if (s.type === 'string') return { kind: 'text' }
  if (s.type === 'integer' || s.type === 'number') return { kind: 'number' }
  if (s.type === 'boolean') return { kind: 'boolean' }
  return { kind: 'json' }
}

const forms = new Map<string, ChannelForm>()

/** The form for a connector type (null for an unknown type), built once from its schema. */
export function channelForm(type: string): ChannelForm | null {
  const cached = forms.get(type)
  if (cached) return cached
  // Only known types are cached: the type comes from the URL.
  const connector = getConnector(type)
  let form: ChannelForm | null = null
  if (connector) {
    const schema = z.toJSONSchema(connector.configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema
    const secret = new Set(connector.secretKeys)
    const urls = new Set(connector.urlKeys ?? [])
    const items: ChannelForm['items'] = []
    const fields: ConfigField[] = []
    for (const [key, prop] of Object.entries(schema.properties ?? {})) {
      const required = schema.required?.includes(key) ?? false
      if (prop.type === 'object' && prop.properties && Object.keys(prop.properties).length > 0) {
        const group: ConfigGroup = { key, label: labelOf(key), required, secret: secret.has(key), fields: [] }
        for (const [sub, inner] of Object.entries(prop.properties)) {
          const field: ConfigField = {
            name: `config.${key}.${sub}`,
            key,
            sub,
            label: labelOf(sub),
            ...kindOf(inner),
            required: prop.required?.includes(sub) ?? false,
            default: inner.default,
            secret: secret.has(key),
            url: false,
            multiline: MULTILINE.has(`${key}.${sub}`),
            ...(required ? {} : { optionalGroup: labelOf(key) }),
          }
          group.fields.push(field)
          fields.push(field)
        }
        items.push(group)
        continue
      }
      const field: ConfigField = { name: `config.${key}`, key, label: labelOf(key), ...kindOf(prop), required, default: prop.default, secret: secret.has(key), url: urls.has(key), multiline: false }
      items.push(field)
      fields.push(field)
    }
    form = { type, items, fields }
    forms.set(type, form)
  }
  return form
}

const jsonText = (value: unknown) => JSON.stringify(value, null, 1).replace(/\n\s*/g, ' ')

/** A value as the form shows it ('on' for a ticked box). */
function shown(field: ConfigField, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (field.kind === 'boolean') return value === true ? 'on' : ''
  if (field.kind === 'json') return jsonText(value)
  return String(value)
}

/** The values a new channel's form starts with: the schema's defaults. */
export function defaultValues(form: ChannelForm): Record<string, string> {
  const values: Record<string, string> = {}
  for (const f of form.fields) {
    const v = shown(f, f.default)
    if (v !== undefined) values[f.name] = v
  }
  return values
}

/** The values an edit form starts with: the current config, minus secrets and URLs (never sent back). */
export function currentValues(form: ChannelForm, config: Record<string, unknown>): Record<string, string> {
  const values: Record<string, string> = {}
  for (const f of form.fields) {
    if (f.secret || f.url) continue
    const raw = f.sub ? (config[f.key] as Record<string, unknown> | undefined)?.[f.sub] : config[f.key]
    const v = shown(f, raw ?? f.default)
    if (v !== undefined) values[f.name] = v
  }
  return values
}

/** The names of the secret inputs: never echoed back after a failed post. */
export const secretNames = (form: ChannelForm) => form.fields.filter((f) => f.secret).map((f) => f.name)
export const clearName = (key: string) => `clear:config.${key}`

/** The form's field names, and the renames that put deeper errors (`config.headers.X-A`) on them. */
export function formFieldNames(form: ChannelForm): { fields: string[]; rename: Record<string, string> } {
  const fields = form.fields.map((f) => f.name)
  const rename: Record<string, string> = {}
  for (const f of form.fields) if (f.kind === 'json') rename[f.name] = f.name
  for (const item of form.items) if ('fields' in item) rename[`config.${item.key}`] = item.fields[0]!.name
  // Exact names win over the group's prefix rename above.
  for (const f of form.fields) if (f.sub) rename[f.name] = f.name
  return { fields, rename }
}

function convert(field: ConfigField, raw: string, problems: FieldError[]): unknown {
  if (field.kind === 'number') {
    if (!/^-?\d+(\.\d+)?$/.test(raw.trim())) {
      problems.push({ field: field.name, message: 'must be a number' })
      return undefined
    }
    return Number(raw.trim())
  }
  if (field.kind === 'json') {
    try {
      return JSON.parse(raw)
    } catch {
      problems.push({ field: field.name, message: 'must be JSON, e.g. {"Name": "value"}' })
      return undefined
    }
  }
  return field.secret ? raw : raw.trim()
}

/**
 * The config a posted form describes. Blank fields are left out (the schema's defaults apply);
 * with `previous` (an edit), a blank secret or URL keeps its stored value unless its
 * "remove" box is ticked. Values that cannot be read (a number that is none) throw a 422
 * naming their fields.
 */
export function readConfig(form: ChannelForm, values: Record<string, string>, previous?: Record<string, unknown>): Record<string, unknown> {
  const config: Record<string, unknown> = {}
  const problems: FieldError[] = []
  const keep = (key: string) => previous !== undefined && previous[key] !== undefined && values[clearName(key)] !== 'on'
  for (const item of form.items) {
    if ('fields' in item) {
      const stored = (keep(item.key) ? previous![item.key] : undefined) as Record<string, unknown> | undefined
      const group: Record<string, unknown> = {}
      let given = false
      for (const f of item.fields) {
        const raw = values[f.name] ?? ''
        if (f.kind === 'boolean') group[f.sub!] = raw === 'on'
        else if (raw.trim() !== '') {
          given = true
          group[f.sub!] = convert(f, raw, problems)
        } else if (stored?.[f.sub!] !== undefined && (f.secret || f.url)) group[f.sub!] = stored[f.sub!]
      }
      if (given) config[item.key] = group
      else if (stored !== undefined) config[item.key] = stored
      continue
    }
    const f = item
    const raw = values[f.name] ?? ''
    if (f.kind === 'boolean') config[f.key] = raw === 'on'
    else if (raw.trim() !== '') config[f.key] = convert(f, raw, problems)
    else if ((f.secret || f.url) && keep(f.key)) config[f.key] = previous![f.key]
  }
  if (problems.length > 0) throw errors.validation('invalid channel config', problems)
  return config
}

function hintOf(field: ConfigField, opts: { editing: boolean; masked?: unknown }): string | undefined {
  const parts: string[] = []
  if (field.required) parts.push(field.optionalGroup ? `Required with ${field.optionalGroup}.` : 'Required.')
  if (field.kind === 'json') parts.push('JSON, e.g. {"Name": "value"}.')
  if (field.default !== undefined && !field.secret && field.kind !== 'boolean') parts.push(`Default: ${shown(field, field.default)}.`)
  if (field.secret) parts.push(opts.editing && opts.masked !== undefined ? `Secret: stored (${typeof opts.masked === 'string' ? opts.masked : '••••'}); leave blank to keep it.` : 'Secret: stored encrypted, never shown again.')
  else if (field.url && opts.editing && opts.masked !== undefined) parts.push(`Current: ${String(opts.masked)}; leave blank to keep it.`)
  return parts.length > 0 ? parts.join(' ') : undefined
}

function Checkbox(props: { name: string; label: string; checked: boolean; hint?: string }) {
  return (
    <div class="field checkbox">
      <input type="checkbox" id={props.name} name={props.name} checked={props.checked} aria-describedby={props.hint ? `${props.name}-hint` : undefined} />
      <label for={props.name}>{props.label}</label>
      {props.hint ? (
        <p class="hint" id={`${props.name}-hint`}>
          {props.hint}
        </p>
      ) : null}
    </div>
  )
}

function ConfigInput(props: { field: ConfigField; state: FormState; editing: boolean; masked?: unknown }) {
  const { field: f, state } = props
  const hint = hintOf(f, { editing: props.editing, masked: props.masked })
  if (f.kind === 'boolean') {
    const error = state.errors[f.name]
    return (
      <>
        <Checkbox name={f.name} label={f.label} checked={state.values[f.name] === 'on'} hint={hint} />
        {error ? (
          <p class="field-error" id={`${f.name}-error`}>
            {error}
          </p>
        ) : null}
      </>
    )
  }
  if (f.kind === 'choice') {
    const options = f.required || f.default !== undefined ? f.options! : [{ value: '', label: '(not set)' }, ...f.options!]
    return <Select name={f.name} label={f.label} state={state} options={options} hint={hint} />
  }
  if (f.kind === 'json' || f.multiline) return <TextArea name={f.name} label={f.label} state={state} rows={f.multiline ? 6 : 2} hint={hint} />
  // A secret inside a group (DKIM's domain and selector) is typed in the open: only top-level secrets are credentials.
  const password = f.secret && !f.sub
  const type = password ? 'password' : f.kind === 'number' ? 'number' : f.url ? 'url' : 'text'
  const required = f.required && !f.optionalGroup && !(props.editing && (f.secret || f.url))
  return <Field name={f.name} label={f.label} type={type} state={state} hint={hint} required={required} autocomplete={password ? 'new-password' : 'off'} />
}

/**
 * The generated config fields. `masked` is the channel's config as the API shows it (secrets
 * masked, URLs cut to their origin) when editing; optional secrets that are set get a
 * "remove" box.
 */
export function ConfigFields(props: { form: ChannelForm; state: FormState; masked?: Record<string, unknown> }) {
  const { form, state, masked } = props
  const editing = masked !== undefined
  if (form.items.length === 0) return <p class="muted">A {form.type} channel needs no settings.</p>
  return (
    <fieldset class="config">
      <legend>Settings</legend>
      {form.items.map((item) => {
        const stored = masked?.[item.key]
        const removable = editing && stored !== undefined && !item.required && item.secret
        if ('fields' in item) {
          return (
            <fieldset class="group">
              <legend>{item.label}</legend>
              {!item.required ? <p class="hint">Optional: leave every field blank{editing && stored !== undefined ? ' to keep the stored one' : ' to go without'}.</p> : null}
              {item.fields.map((f) => (
                <ConfigInput field={f} state={state} editing={editing} masked={stored === undefined ? undefined : (stored as Record<string, unknown>)[f.sub!] ?? '••••'} />
              ))}
              {removable ? <Checkbox name={clearName(item.key)} label={`Remove the stored ${item.label}`} checked={state.values[clearName(item.key)] === 'on'} /> : null}
            </fieldset>
          )
        }
        return (
          <>
            <ConfigInput field={item} state={state} editing={editing} masked={stored} />
            {removable || (editing && stored !== undefined && item.url && !item.required && item.default === undefined) ? (
              <Checkbox name={clearName(item.key)} label={`Remove the stored ${item.label}`} checked={state.values[clearName(item.key)] === 'on'} />
            ) : null}
          </>
        )
      })}
    </fieldset>
  )
}
