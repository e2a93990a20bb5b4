/**
 * Building blocks every page uses: forms that carry the CSRF token, labelled fields with their
 * error message, empty states, status badges, times and pagination.
 */
import type { Child } from 'hono/jsx'
import { CSRF_FIELD } from './csrf'
import type { FormState } from './forms'
import { offsetField, pickerValue } from './local-time'

/** A POST form with its CSRF token; the `form-message` above it says what went wrong as a whole. */
export function PostForm(props: { action: string; csrf: string; state?: FormState; class?: string; label?: string; children?: Child }) {
  return (
    <form method="post" action={props.action} class={props.class} aria-label={props.label} novalidate>
      <input type="hidden" name={CSRF_FIELD} value={props.csrf} />
      {props.state?.message ? (
        <p class="form-message" role="alert">
          {props.state.message}
        </p>
      ) : null}
      {props.children}
    </form>
  )
}

/**
 * One button in a POST form of its own (cancel, sign out, delete). With `question`, the browser
 * asks it first (portal.client.js reads `data-confirm`); `aria` names the button for a screen
 * reader when its label alone is ambiguous in a table ("Remove" on every row).
 */
export function ActionButton(props: { action: string; csrf: string; label: string; class?: string; question?: string; aria?: string }) {
  return (
    <form method="post" action={props.action} class="inline-form" data-confirm={props.question}>
      <input type="hidden" name={CSRF_FIELD} value={props.csrf} />
      <button type="submit" class={props.class} aria-label={props.aria}>
        {props.label}
      </button>
    </form>
  )
}

interface FieldProps {
  name: string
  label: string
  state?: FormState
  type?: string
  hint?: string
  required?: boolean
  autocomplete?: string
  placeholder?: string
  /** Shown when the state holds no value (never for passwords: those are never sent back). */
  value?: string
}

const errorId = (name: string) => `${name}-error`
const hintId = (name: string) => `${name}-hint`

function describedBy(props: { name: string; hint?: string; state?: FormState }): string | undefined {
  const ids = [props.hint ? hintId(props.name) : null, props.state?.errors[props.name] ? errorId(props.name) : null].filter(Boolean)
  return ids.length > 0 ? ids.join(' ') : undefined
}

function FieldNotes(props: { name: string; hint?: string; state?: FormState }) {
  const error = props.state?.errors[props.name]
  return (
    <>
      {props.hint ? (
        <p class="hint" id={hintId(props.name)}>
          {props.hint}
        </p>
      ) : null}
      {error ? (
        <p class="field-error" id={errorId(props.name)}>
          {error}
        </p>
      ) : null}
    </>
  )
}

/** A labelled input; its error (from the state) right below it, tied by aria-describedby. */
export function Field(props: FieldProps) {
  const type = props.type ?? 'text'
  const value = type === 'password' ? undefined : (props.state?.values[props.name] ?? props.value)
  const invalid = props.state?.errors[props.name] !== undefined
  return (
    <div class={invalid ? 'field invalid' : 'field'}>
      <label for={props.name}>{props.label}</label>
      <input
        id={props.name}
        name={props.name}
        type={type}
        value={value}
        required={props.required}
        autocomplete={props.autocomplete}
        placeholder={props.placeholder}
        aria-invalid={invalid ? 'true' : undefined}
        aria-describedby={describedBy(props)}
      />
      <FieldNotes {...props} />
    </div>
  )
}

/**
 * A date-and-time picker (local-time.ts): portal.client.js shows the time in the browser's zone,
 * names that zone in the label and fills the hidden offset field; without script it is UTC, as
 * the label says. A value no picker can show (typed into a URL by hand) stays a text box with
 * that text, next to its error, so nothing typed is lost.
 */
export function DateTimeField(props: Omit<FieldProps, 'type' | 'autocomplete' | 'placeholder'>) {
  const shown = pickerValue(props.state?.values ?? (props.value ? { [props.name]: props.value } : {}), props.name)
  const error = props.state?.errors[props.name] ?? (shown.unreadable !== undefined ? 'is not a date and time' : undefined)
  const state: FormState = { values: {}, errors: error ? { [props.name]: error } : {} }
  return (
    <div class={error ? 'field invalid' : 'field'}>
      <label for={props.name}>
        {props.label} <span class="zone" data-zone="">(UTC)</span>
      </label>
      <input
        id={props.name}
        name={props.name}
        type={shown.unreadable !== undefined ? 'text' : 'datetime-local'}
        step={shown.unreadable !== undefined ? undefined : 'any'}
        value={shown.unreadable ?? shown.value}
        data-local-time=""
        data-instant={shown.instant}
        required={props.required}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={describedBy({ ...props, state })}
      />
      <input type="hidden" name={offsetField(props.name)} value={shown.offset} />
      <FieldNotes {...props} state={state} />
    </div>
  )
}

export function TextArea(props: FieldProps & { rows?: number }) {
  const invalid = props.state?.errors[props.name] !== undefined
  return (
    <div class={invalid ? 'field invalid' : 'field'}>
      <label for={props.name}>{props.label}</label>
      <textarea
        id={props.name}
        name={props.name}
        rows={props.rows ?? 4}
        required={props.required}
        placeholder={props.placeholder}
        aria-invalid={invalid ? 'true' : undefined}
        aria-describedby={describedBy(props)}
      >
        {props.state?.values[props.name] ?? props.value ?? ''}
      </textarea>
      <FieldNotes {...props} />
    </div>
  )
}

export function Select(props: FieldProps & { options: readonly (string | { value: string; label: string })[] }) {
  const current = props.state?.values[props.name] ?? props.value ?? ''
  const invalid = props.state?.errors[props.name] !== undefined
  return (
    <div class={invalid ? 'field invalid' : 'field'}>
      <label for={props.name}>{props.label}</label>
      <select id={props.name} name={props.name} aria-invalid={invalid ? 'true' : undefined} aria-describedby={describedBy(props)}>
        {props.options.map((o) => {
          const { value, label } = typeof o === 'string' ? { value: o, label: o } : o
          return (
            <option value={value} selected={value === current}>
              {label}
            </option>
          )
        })}
      </select>
      <FieldNotes {...props} />
    </div>
  )
}

/** What a list shows when it has nothing: what is missing and what to do about it. */
export function EmptyState(props: { title: string; children?: Child }) {
  return (
    <div class="empty">
      <p class="empty-title">{props.title}</p>
      {props.children}
    </div>
  )
}

/** A status as a coloured badge (the text says it; colour only helps). */
export function StatusBadge(props: { status: string }) {
  return <span class={`badge status-${props.status.replace(/[^a-z_-]/g, '')}`}>{props.status}</span>
}

/** A time in UTC, machine-readable in `datetime`. */
export function Time(props: { at: string | number | null | undefined }) {
  if (props.at === null || props.at === undefined) return <span class="muted">—</span>
  const iso = new Date(props.at).toISOString()
  return <time datetime={iso}>{iso.replace('T', ' ').slice(0, 19)} UTC</time>
}

/** A page of a cursor-paginated list: "Newer" back to the first page, "Older" to the next. */
export function Pager(props: { firstUrl: string | null; nextUrl: string | null }) {
  if (!props.firstUrl && !props.nextUrl) return null
  return (
    <nav class="pager" aria-label="Pages">
      {props.firstUrl ? <a href={props.firstUrl}>Newest</a> : null}
      {props.nextUrl ? <a href={props.nextUrl}>Older</a> : null}
    </nav>
  )
}
