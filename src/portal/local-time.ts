/**
 * Date-and-time fields. The browser's picker (`<input type="datetime-local">`) sends a wall-clock
 * time without a zone (`2026-01-02T15:04`); the portal script puts that zone's UTC offset for
 * the picked time in a hidden field beside it (`<name>_tz_offset`, minutes as
 * `Date#getTimezoneOffset` counts them: UTC+2 → -120). Without an offset the time is UTC. A full
 * RFC 3339 time (an API-style value, a link's `?since=…`) is taken as it is. docs/portal/times.md
 */
import { z } from 'zod'

// What a datetime-local value looks like: minutes, or seconds with an optional fraction.
const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/
const OFFSET = /^[+-]?\d{1,4}$/
// ±18 hours: the widest offset ISO 8601 allows (real zones stay within -14:00 … +12:00).
const MAX_OFFSET_MINUTES = 18 * 60
const rfc3339 = z.iso.datetime({ offset: true })

/** The hidden field that carries the browser's UTC offset for the time in `name`. */
export const offsetField = (name: string) => `${name}_tz_offset`

/** A datetime-local value as milliseconds of its wall clock read as UTC, or undefined (not one, or no such day). */
function wallClockMs(value: string): number | undefined {
  const m = WALL_CLOCK.exec(value)
  if (!m) return undefined
  const [year, month, day, hour, minute, second = '0', fraction = '0'] = m.slice(1) as string[]
  const at = new Date(0)
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  at.setUTCFullYear(Number(year), Number(month) - 1, Number(day))
  at.setUTCHours(Number(hour), Number(minute), Number(second), Number(fraction.padEnd(3, '0')))
  // 2026-02-30 rolls over to March: refused, as is 24:00 or :60.
  const same = at.getUTCFullYear() === Number(year) && at.getUTCMonth() === Number(month) - 1 && at.getUTCDate() === Number(day) && at.getUTCHours() === Number(hour) && at.getUTCMinutes() === Number(minute) && at.getUTCSeconds() === Number(second)
  return same ? at.getTime() : undefined
}

/** The offset field's minutes: null when empty (UTC), undefined when it is not an offset. */
function offsetMinutes(raw: string | undefined): number | null | undefined {
  const text = raw?.trim()
  if (!text) return null
  if (!OFFSET.test(text)) return undefined
  const minutes = Number(text)
  return Math.abs(minutes) <= MAX_OFFSET_MINUTES ? minutes : undefined
}

/** The instant the field names (a picker's time with its offset, or RFC 3339), or undefined when it names none. */
export function fieldInstant(values: Record<string, string>, name: string): Date | undefined {
  const value = values[name]?.trim()
  if (!value) return undefined
  const wall = wallClockMs(value)
  let at: Date
  if (wall === undefined) {
    if (!rfc3339.safeParse(value).success) return undefined
    at = new Date(value)
  } else {
    const offset = offsetMinutes(values[offsetField(name)])
    if (offset === undefined) return undefined
    at = new Date(wall + (offset ?? 0) * 60_000)
  }
  return Number.isNaN(at.getTime()) ? undefined : at
}

/**
 * The field as the API takes it: a picker's time becomes RFC 3339 in UTC; anything else (RFC
 * 3339 already, or not a time at all) is left as typed, for the API's schema to accept or to
 * name the field. Undefined when the field is empty.
 */
export function apiTime(values: Record<string, string>, name: string): string | undefined {
  const value = values[name]?.trim()
  if (!value) return undefined
  if (!WALL_CLOCK.test(value)) return value
  return fieldInstant(values, name)?.toISOString() ?? value
}

/** Filter values as the API's query takes them: each picker time in RFC 3339, the offset fields gone. */
export function apiTimes(values: Record<string, string>, names: readonly string[]): Record<string, string> {
  const out = { ...values }
  for (const name of names) {
    delete out[offsetField(name)]
    const time = apiTime(values, name)
    if (time !== undefined) out[name] = time
  }
  return out
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0')

/** What a picker shows for the field: the wall-clock value, the offset it is at, and the instant. */
export interface PickerValue {
  /** `2026-01-02T15:04` (seconds and milliseconds only when set), or '' when there is no time to show. */
  value: string
  /** The offset field's value: the one sent with the time, or '' for UTC. */
  offset: string
  /** The instant in RFC 3339 (UTC), for the script to show in the browser's zone. */
  instant?: string
  /** What was typed, when it names no time (no picker can show it). */
  unreadable?: string
}

/** The field's time for a re-rendered picker: in the offset it came with, else in UTC. */
export function pickerValue(values: Record<string, string>, name: string): PickerValue {
  const raw = values[name]?.trim() ?? ''
  const at = fieldInstant(values, name)
  if (!at) return { value: '', offset: '', ...(raw ? { unreadable: raw } : {}) }
  const sent = WALL_CLOCK.test(raw) ? offsetMinutes(values[offsetField(name)]) : null
  const offset = sent ?? 0
  const wall = new Date(at.getTime() - offset * 60_000)
  const seconds = wall.getUTCSeconds()
  const ms = wall.getUTCMilliseconds()
  const value =
    `${pad(wall.getUTCFullYear(), 4)}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}T${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}` +
    (seconds || ms ? `:${pad(seconds)}` : '') +
    (ms ? `.${pad(ms, 3)}` : '')
  return { value, offset: sent === null || sent === undefined ? '' : String(sent), instant: at.toISOString() }
}
