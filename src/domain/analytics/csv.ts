/** Analytics as CSV for export. */
import type { AnalyticsReport } from './query'
import { COUNTED_STATUSES } from './rollups'

/**
 * A text that a spreadsheet would evaluate as a formula (`=`, `+`, `-`, `@`, or a tab or
 * carriage return first, OWASP's list). Group labels are tenants' free-text names (application
 * names): such a field gets a leading `'`, which spreadsheets read as "this is text".
 */
const FORMULA_START = /^[=+\-@\t\r]/

/** The report as CSV (RFC 4180: CRLF lines, a header row, fields quoted when they need it). */
export function analyticsCsv(report: AnalyticsReport): string {
  const field = (v: string | number | null | undefined) => {
    let s = v === null || v === undefined ? '' : String(v)
    // Counts are never negative and starts are ISO times: only labels can start like a formula.
    if (typeof v === 'string' && FORMULA_START.test(s)) s = `'${s}`
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
  }
  const grouped = report.group_by !== null
  const header = ['start', ...(grouped ? [report.group_by!] : []), ...COUNTED_STATUSES]
  const lines = [header.map(field).join(',')]
  for (const b of report.buckets) {
    lines.push([b.start, ...(grouped ? [b.group] : []), ...COUNTED_STATUSES.map((s) => b.counts[s] ?? 0)].map(field).join(','))
  }
  return `${lines.join('\r\n')}\r\n`
}
