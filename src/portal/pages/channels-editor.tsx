/**
 * The channel form as a whole (name, type, the generated settings, delivery limits), shared by
 * the create page (channels.tsx) and the edit page (channels-detail.tsx), and the API's request
 * schemas for what it sends.
 */
import type { Context } from 'hono'
import { z } from 'zod'
import type { channelView } from '../../domain/channels'
import { AppError, errors, type FieldError } from '../../domain/errors'
import { nsUrl } from '../access'
import { Field, PostForm } from '../components'
import type { PortalEnv } from '../env'
import type { FormState } from '../forms'
import { type ChannelForm, ConfigFields, formFieldNames, secretNames } from './channels-form'

// The API's request schemas (src/http/routes/channels.ts), for the fields the portal's forms send.
const limitsSchema = {
  max_attempts: z.int().min(1).max(100).nullable().optional(),
  max_age_seconds: z.int().min(1).nullable().optional(),
  rate_limit: z.int().min(1).max(10_000).nullable().optional(),
}
export const channelCreateSchema = z.strictObject({ name: z.string().min(1).max(63), type: z.string().min(1), config: z.record(z.string(), z.unknown()).optional(), ...limitsSchema })
export const channelPatchSchema = z.strictObject({ config: z.record(z.string(), z.unknown()).optional(), status: z.enum(['active', 'paused']).optional(), ...limitsSchema })

export const LIMIT_FIELDS = ['max_attempts', 'max_age_seconds', 'rate_limit'] as const

/** The limits as the API takes them: blank is "no limit" (null), a non-number names its field. */
export function readLimits(values: Record<string, string>, blank: null | undefined): Record<string, number | null | undefined> {
  const limits: Record<string, number | null | undefined> = {}
  const problems: FieldError[] = []
  for (const name of LIMIT_FIELDS) {
    const raw = values[name]?.trim() ?? ''
    if (raw === '') limits[name] = blank
    else if (/^\d+$/.test(raw)) limits[name] = Number(raw)
    else problems.push({ field: name, message: 'must be a whole number' })
  }
  if (problems.length > 0) throw errors.validation('invalid limits', problems)
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined))
}

export const percent = (rate: number | null | undefined) => (rate === null || rate === undefined ? '—' : `${Math.round(rate * 1000) / 10} %`)

/** The fields of the create and edit forms, for `formFailure`. */
export function editorFields(form: ChannelForm) {
  const { fields, rename } = formFieldNames(form)
  return { fields: ['name', 'type', ...LIMIT_FIELDS, ...fields], rename, secret: secretNames(form) }
}

/** The create form (no `channel`) or the edit form of a channel (its masked config as the API shows it). */
export function ChannelEditor(props: { c: Context<PortalEnv>; form: ChannelForm; state: FormState; channel?: ReturnType<typeof channelView> }) {
  const { c, form, state, channel } = props
  const action = channel ? nsUrl(c, `/channels/${channel.id}/edit`) : nsUrl(c, '/channels')
  return (
    <PostForm action={action} csrf={c.get('csrfToken')} state={state} class="panel" label={channel ? 'Edit channel' : 'New channel'}>
      {channel ? (
        <p>
          Name <strong>{channel.name}</strong> · type <strong>{channel.type}</strong>
        </p>
      ) : (
        <>
          <Field name="name" label="Name" state={state} required hint="Lowercase letters, digits and dashes; messages name the channel by it." />
          <input type="hidden" name="type" value={form.type} />
          <p>
            Type <strong>{form.type}</strong> · <a href={nsUrl(c, '/channels/new')}>choose another type</a>
          </p>
          {state.errors.type ? (
            <p class="field-error" id="type-error">
              {state.errors.type}
            </p>
          ) : null}
        </>
      )}
      <ConfigFields form={form} state={state} masked={channel?.config} />
      <fieldset>
        <legend>Delivery limits</legend>
        <Field name="max_attempts" label="Max attempts" type="number" state={state} hint="Attempts per message before it fails (1–100). Blank: the gateway's default." />
        <Field name="max_age_seconds" label="Max age (seconds)" type="number" state={state} hint="A message still unsent after this long fails. Blank: the gateway's default." />
        <Field name="rate_limit" label="Rate limit (messages per second)" type="number" state={state} hint="At most this many sends per second (1–10000, per instance). Blank: no limit." />
      </fieldset>
      <button type="submit">{channel ? 'Save channel' : 'Create channel'}</button>
    </PostForm>
  )
}

/** Runs the steps that read a form, and throws one 422 naming every field any of them refused. */
export function readAll<T extends unknown[]>(...steps: { [K in keyof T]: () => T[K] }): T {
  const problems: FieldError[] = []
  const results = steps.map((step) => {
    try {
      return step()
    } catch (error) {
      if (!(error instanceof AppError) || error.status !== 422) throw error
      problems.push(...error.errors)
      return undefined
    }
  })
  if (problems.length > 0) throw errors.validation('the form has errors', problems)
  return results as T
}
