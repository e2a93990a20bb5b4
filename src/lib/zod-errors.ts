import type { z } from 'zod'
import type { FieldError } from '../domain/errors'

/**
 * Zod issues as `{field, message}` with dotted paths (`messages.3.to`); an unknown key becomes
 * one error per key, named by its full path.
 */
export function zodFieldErrors(error: z.ZodError, prefix: (string | number)[] = []): FieldError[] {
  const out: FieldError[] = []
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))]
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: [...path, key].join('.'), message: 'unknown field' })
    } else {
      out.push({ field: path.join('.') || '(body)', message: issue.message })
    }
  }
  return out
}
