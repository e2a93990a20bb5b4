/**
 * Forms: read a posted form, and turn what went wrong (a zod error, or an AppError from the
 * domain with its field list) into a message next to each bad field for the re-rendered form.
 */
import type { Context } from 'hono'
import { ZodError } from 'zod'
import { AppError } from '../domain/errors'
import { zodFieldErrors } from '../lib/zod-errors'
import { CSRF_FIELD } from './csrf'

/** What a form shows: the values typed (never a password), a message per field, and one for the form. */
export interface FormState {
  values: Record<string, string>
  errors: Record<string, string>
  /** A message about the whole form (shown above it), e.g. a wrong password or a conflict. */
  message?: string
}

export const emptyForm = (values: Record<string, string> = {}): FormState => ({ values, errors: {} })

/**
 * The entry of a fixed table chosen by a query parameter (`?notice=saved`, `?range=24h`), or
 * undefined: only the table's own keys count, so `?notice=constructor` finds nothing.
 */
export function fixedEntry<T>(table: Readonly<Record<string, T>>, key: string | undefined): T | undefined {
  return key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined
}

/** The posted fields as text (files and the CSRF token left out). */
export async function readForm(c: Context): Promise<Record<string, string>> {
  const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>)
  const values: Record<string, string> = {}
  for (const [key, value] of Object.entries(body)) if (key !== CSRF_FIELD && typeof value === 'string') values[key] = value
  return values
}

export interface FormErrorOptions {
  /** The fields the form shows; an error about another field goes to the form's message. */
  fields: readonly string[]
  /** Domain field paths renamed to the form's fields (`content.text` → `text`); a key also renames the paths below it (`options` → `options.sandbox.outcome`). */
  rename?: Record<string, string>
  /** Values never sent back to the browser (passwords). */
  secret?: readonly string[]
}

function renamed(field: string, rename: Record<string, string> | undefined): string {
  if (!rename) return field
  if (rename[field] !== undefined) return rename[field]
  const prefix = Object.keys(rename)
    .filter((key) => field.startsWith(`${key}.`))
    .sort((a, b) => b.length - a.length)[0]
  return prefix !== undefined ? rename[prefix]! : field
}

/**
 * The form state after a failure: each field error next to its field, the rest as the form's
 * message. Anything but a validation or domain error is rethrown (the generic error page).
 */
export function formFailure(error: unknown, values: Record<string, string>, opts: FormErrorOptions): { state: FormState; status: number } {
  const kept = Object.fromEntries(Object.entries(values).filter(([k]) => !opts.secret?.includes(k)))
  let list: { field: string; message: string }[]
  let status: number
  let detail: string | undefined
  if (error instanceof ZodError) {
    list = zodFieldErrors(error)
    status = 422
  } else if (error instanceof AppError) {
    list = error.errors
    status = error.status
    detail = error.detail
  } else {
    throw error
  }
  const errors: Record<string, string> = {}
  const other: string[] = []
  for (const e of list) {
    const name = renamed(e.field, opts.rename)
    if (opts.fields.includes(name)) errors[name] ??= e.message
    else other.push(`${e.field}: ${e.message}`)
  }
  // A domain error's detail already reads as a sentence; zod issues are listed.
  const message = other.length > 0 ? (detail ?? other.join('; ')) : Object.keys(errors).length === 0 ? detail : undefined
  return { state: { values: kept, errors, ...(message ? { message } : {}) }, status }
}
