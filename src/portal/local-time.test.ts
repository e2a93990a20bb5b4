import { describe, expect, test } from 'bun:test'
import { apiTime, apiTimes, pickerValue } from './local-time'

describe('apiTime', () => {
  test.each([
    // [value, offset field, what the API gets]
    ['2026-07-01T09:30', '240', '2026-07-01T13:30:00.000Z'], // New York in summer: UTC−4
    ['2026-01-01T00:30', '-60', '2025-12-31T23:30:00.000Z'], // Berlin in winter: UTC+1, the day before in UTC
    ['2026-01-02T15:04:05.5', '-330', '2026-01-02T09:34:05.500Z'], // India: UTC+5:30, seconds and a fraction
    ['2026-01-02T15:04', undefined, '2026-01-02T15:04:00.000Z'], // no script: UTC
    ['2026-01-02T15:04', '', '2026-01-02T15:04:00.000Z'],
    ['0050-06-01T12:00', '0', '0050-06-01T12:00:00.000Z'], // a two-digit year stays one
    // RFC 3339 is taken as it is, whatever the offset field says.
    ['2026-01-02T15:04:05+02:00', '240', '2026-01-02T15:04:05+02:00'],
    ['2026-01-02T15:04:05Z', undefined, '2026-01-02T15:04:05Z'],
    // Not a time, or an offset that is not one: left as typed, for the schema to name the field.
    ['yesterday', '0', 'yesterday'],
    ['2026-02-30T10:00', '0', '2026-02-30T10:00'],
    ['2026-01-02T24:00', '0', '2026-01-02T24:00'],
    ['2026-01-02T15:04', 'Europe/Berlin', '2026-01-02T15:04'],
    ['2026-01-02T15:04', '6000', '2026-01-02T15:04'],
  ] as [string, string | undefined, string][])('%p with offset %p → %p', (value, offset, expected) => {
    expect(apiTime({ t: value, ...(offset !== undefined ? { t_tz_offset: offset } : {}) }, 't')).toBe(expected)
  })

  test('an empty field is no time', () => {
    expect(apiTime({ t: '  ', t_tz_offset: '60' }, 't')).toBeUndefined()
    expect(apiTime({}, 't')).toBeUndefined()
  })

  test('apiTimes converts the named fields and drops their offset fields', () => {
    expect(apiTimes({ since: '2026-01-02T15:04', since_tz_offset: '-120', until: '2026-01-03T00:00:00Z', until_tz_offset: '', status: 'failed' }, ['since', 'until'])).toEqual({
      since: '2026-01-02T13:04:00.000Z',
      until: '2026-01-03T00:00:00Z',
      status: 'failed',
    })
  })
})

describe('pickerValue', () => {
  test('a picked time comes back as it was picked, with its offset', () => {
    expect(pickerValue({ t: '2026-07-01T09:30', t_tz_offset: '240' }, 't')).toEqual({ value: '2026-07-01T09:30', offset: '240', instant: '2026-07-01T13:30:00.000Z' })
  })

  test('RFC 3339, or a time without an offset, is shown in UTC', () => {
    expect(pickerValue({ t: '2026-01-02T15:04:05+02:00' }, 't')).toEqual({ value: '2026-01-02T13:04:05', offset: '', instant: '2026-01-02T13:04:05.000Z' })
    expect(pickerValue({ t: '2026-01-02T15:04:05.250Z', t_tz_offset: '-60' }, 't')).toEqual({ value: '2026-01-02T15:04:05.250', offset: '', instant: '2026-01-02T15:04:05.250Z' })
    expect(pickerValue({ t: '2026-01-02T15:04' }, 't')).toEqual({ value: '2026-01-02T15:04', offset: '', instant: '2026-01-02T15:04:00.000Z' })
  })

  test('what names no time is kept aside, and the picker is empty', () => {
    expect(pickerValue({ t: 'tomorrow' }, 't')).toEqual({ value: '', offset: '', unreadable: 'tomorrow' })
    expect(pickerValue({ t: '2026-01-02T15:04', t_tz_offset: 'x' }, 't')).toEqual({ value: '', offset: '', unreadable: '2026-01-02T15:04' })
    expect(pickerValue({}, 't')).toEqual({ value: '', offset: '' })
  })
})
