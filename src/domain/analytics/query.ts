/**
 * Message analytics over any range, answered from the rollups alone (never by scanning
 * messages): counts by status in minute, hour or day buckets of a time zone, optionally per
 * channel, channel type, application or direction; rates, latency percentiles and top failures.
 */
import { and, eq, inArray, type SQL, sql } from 'drizzle-orm'
import { applications, channels, namespaces } from '../../store/schema'
import type { Db } from '../../store/store'
import { resolveChannel } from '../channels/resolve'
import { type Deps, now } from '../deps'
import { invalidField } from '../errors'
import { getNamespace } from '../namespaces'
import { ALL, COUNTED_STATUSES, type CountedStatus, floorTo, HOUR_BY_CHANNEL, HOUR_MS, LATENCY_INF, MINUTE_MS, MINUTE_ROLLUP_RETENTION_MS } from './rollups'

const DAY_MS = 24 * HOUR_MS
export const INTERVALS = ['minute', 'hour', 'day'] as const
export type Interval = (typeof INTERVALS)[number]
export const GROUP_BYS = ['channel', 'channel_type', 'application', 'direction'] as const
/** Instance admins may also group by namespace. */
export const ADMIN_GROUP_BYS = [...GROUP_BYS, 'namespace'] as const
export type GroupBy = (typeof ADMIN_GROUP_BYS)[number]

/** Buckets one answer may hold: a day of minutes, about three months of hours, two years of days. */
export const MAX_BUCKETS: Record<Interval, number> = { minute: 1440, hour: 2232, day: 732 }
/** With no `from`, the last day. */
export const DEFAULT_RANGE_MS = DAY_MS
/** A zone whose offset is not whole hours (Asia/Kolkata) is answered exactly from minute rollups up to this range. */
export const MINUTE_RESOLUTION_MAX_RANGE_MS = 48 * HOUR_MS
/** How many failure reasons `top_failures` lists. */
const TOP_FAILURES = 10
/** Offsets are sampled this often to find a zone's transitions (two are always months apart). */
const OFFSET_PROBE_MS = 6 * HOUR_MS

export interface AnalyticsInput {
  from?: string
  to?: string
  interval?: Interval
  tz?: string
  group_by?: GroupBy
  channel?: string
  /** Instance-wide queries only: one namespace (slug or id). */
  namespace?: string
}

export type Counts = Partial<Record<CountedStatus, number>>
export interface Percentiles {
  count: number
  p50: number | null
  p95: number | null
  p99: number | null
}
export interface AnalyticsReport {
  interval: Interval
  from: string
  to: string
  tz: string
  group_by: GroupBy | null
  /** Which rollups answered; `approximate` when hour rollups had to stand in for a zone's half hours. */
  resolution: 'minute' | 'hour'
  approximate: boolean
  totals: Record<CountedStatus, number>
  buckets: { start: string; group?: string | null; counts: Counts }[]
  delivery_rate: number | null
  failure_rate: number | null
  latency_ms: { accept_to_sent: Percentiles; sent_to_delivered: Percentiles }
  top_failures: { code: string; count: number }[]
}

/** A time zone: its UTC offset at any instant, and local times written with their offset. */
class Zone {
  private static readonly cache = new Map<string, Zone>()
  private readonly format: Intl.DateTimeFormat | null

  private constructor(readonly name: string) {
    this.format =
      name === 'UTC'
        ? null
        : new Intl.DateTimeFormat('en-US', { timeZone: name, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
  }

  static of(tz: string): Zone {
    let name: string
    try {
      name = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone
    } catch {
      throw invalidField('tz', `"${tz}" is not an IANA time zone (e.g. UTC, Europe/Paris, America/New_York)`)
    }
    if (name === 'Etc/UTC' || name === 'Etc/GMT' || name === 'GMT') name = 'UTC'
    let zone = Zone.cache.get(name)
    if (!zone) Zone.cache.set(name, (zone = new Zone(name)))
    return zone
  }

  /** Local time minus UTC, in ms (whole minutes). */
  offset(at: number): number {
    if (!this.format) return 0
    const p: Record<string, number> = {}
    for (const part of this.format.formatToParts(at)) if (part.type !== 'literal') p[part.type] = Number(part.value)
    const local = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!)
    return Math.round((local - floorTo(at, 1000)) / MINUTE_MS) * MINUTE_MS
  }

  /** Pieces of constant offset covering [from, to): each starts at a transition (to the minute). */
  segments(from: number, to: number): { start: number; offset: number }[] {
    let last = floorTo(from, MINUTE_MS)
    let current = this.offset(last)
    const pieces = [{ start: last, offset: current }]
    if (!this.format) return pieces
    for (let probe = last + OFFSET_PROBE_MS; last < to; probe += OFFSET_PROBE_MS) {
      const at = Math.min(probe, Math.ceil(to / MINUTE_MS) * MINUTE_MS)
      const o = this.offset(at)
      if (o !== current) {
        let [lo, hi] = [last, at]
        while (hi - lo > MINUTE_MS) {
          const mid = floorTo(lo + (hi - lo) / 2, MINUTE_MS)
          if (this.offset(mid) === current) lo = mid
          else hi = mid
        }
        pieces.push({ start: hi, offset: o })
        current = o
      }
      last = at
    }
    return pieces
  }

  /** `2026-03-08T03:00:00-04:00`, or `…Z` in UTC. */
  label(at: number, offset: number): string {
    const local = new Date(at + offset).toISOString().slice(0, 19)
    if (this.name === 'UTC') return `${local}Z`
    const sign = offset < 0 ? '-' : '+'
    const minutes = Math.abs(offset) / MINUTE_MS
    return `${local}${sign}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`
  }
}

/** The buckets of a range: their UTC starts (the last entry is the range's end) and offsets. */
interface Layout {
  starts: number[]
  offsets: number[]
  resolution: 'minute' | 'hour'
  approximate: boolean
}

function tooMany(interval: Interval, n: number): never {
  throw invalidField('from', `the range holds ${n} ${interval} buckets, at most ${MAX_BUCKETS[interval]}: shorten it or use a larger interval`)
}

/**
 * Bucket starts: every local hour or day boundary (k·unit in local time, so 23- and 25-hour days
 * across DST come out right), plus each transition inside an hour bucket; `from` is rounded down
 * and `to` up to whole buckets.
 */
function layout(zone: Zone, interval: Interval, from: number, to: number, at: number): Layout {
  const unit = interval === 'minute' ? MINUTE_MS : interval === 'hour' ? HOUR_MS : DAY_MS
  const estimate = Math.ceil((to - from) / unit)
  if (estimate > MAX_BUCKETS[interval] + 2) tooMany(interval, estimate)
  const segments = zone.segments(from - 2 * DAY_MS, to + 2 * DAY_MS)
  const boundaries: number[] = []
  if (interval === 'minute') {
    for (let t = floorTo(from, MINUTE_MS); t < to + MINUTE_MS; t += MINUTE_MS) boundaries.push(t)
  } else {
    segments.forEach((seg, i) => {
      const end = segments[i + 1]?.start ?? to + 2 * DAY_MS
      for (let local = Math.ceil((seg.start + seg.offset) / unit) * unit; local < end + seg.offset; local += unit) boundaries.push(local - seg.offset)
      const before = segments[i - 1]
      if (before && (interval === 'hour' || Math.floor((seg.start + seg.offset) / unit) !== Math.floor((seg.start - 1 + before.offset) / unit))) {
        boundaries.push(seg.start)
      }
    })
    boundaries.sort((a, b) => a - b)
  }
  const first = boundaries.findLastIndex((b) => b <= from)
  const last = boundaries.findIndex((b) => b >= to)
  const starts = [...new Set(boundaries.slice(first, last + 1))]
  // One more than the limit when the range does not start on a bucket boundary (the last 24 hours in minutes).
  if (starts.length - 1 > MAX_BUCKETS[interval] + 1) tooMany(interval, starts.length - 1)
  let s = 0
  const offsets = starts.map((t) => {
    while (s + 1 < segments.length && segments[s + 1]!.start <= t) s++
    return segments[s]!.offset
  })
  const [start, end] = [starts[0]!, starts.at(-1)!]
  // Hour rollups answer exactly when every offset in the range is whole hours and every transition falls on one.
  const hourAligned = segments.every(
    (seg, i) => (segments[i + 1]?.start ?? Infinity) <= start || seg.start >= end || (seg.offset % HOUR_MS === 0 && (i === 0 || seg.start % HOUR_MS === 0)),
  )
  const minutesKept = start >= floorTo(at - MINUTE_ROLLUP_RETENTION_MS, MINUTE_MS)
  if (interval === 'minute') {
    if (!minutesKept) throw invalidField('from', `minute buckets are kept for ${MINUTE_ROLLUP_RETENTION_MS / DAY_MS} days; use interval=hour for older ranges`)
    return { starts, offsets, resolution: 'minute', approximate: false }
  }
  if (hourAligned) return { starts, offsets, resolution: 'hour', approximate: false }
  if (end - start <= MINUTE_RESOLUTION_MAX_RANGE_MS && minutesKept) return { starts, offsets, resolution: 'minute', approximate: false }
  return { starts, offsets, resolution: 'hour', approximate: true }
}

function parseTime(field: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const t = Date.parse(value)
  if (Number.isNaN(t)) throw invalidField(field, 'must be an RFC 3339 time such as 2026-11-25T00:00:00Z')
  return t
}

/** Where the rollups are read: one namespace, or every namespace (instance admins). */
export type AnalyticsScope = { namespaceId: string } | { namespaceId: null }

/** The analytics report for a namespace (or, with `namespaceId: null`, the whole instance). */
export async function messageAnalytics(deps: Deps, scope: AnalyticsScope, input: AnalyticsInput): Promise<AnalyticsReport> {
  const at = now(deps)
  const interval = input.interval ?? 'hour'
  const zone = Zone.of(input.tz ?? 'UTC')
  const to = parseTime('to', input.to, at)
  const from = parseTime('from', input.from, to - DEFAULT_RANGE_MS)
  if (from >= to) throw invalidField('from', 'must be before to')
  if (input.group_by === 'namespace' && scope.namespaceId !== null) throw invalidField('group_by', 'namespace grouping is for instance-wide analytics')

  let namespaceId = scope.namespaceId
  if (namespaceId === null && input.namespace) namespaceId = (await getNamespace(deps, input.namespace)).id
  let channelId: string | null = null
  if (input.channel) {
    const found =
      namespaceId !== null
        ? await resolveChannel(deps.store, namespaceId, input.channel)
        : (await deps.store.read.select({ id: channels.id }).from(channels).where(eq(channels.id, input.channel)))[0]
    if (!found) throw invalidField('channel', `no channel "${input.channel}"${namespaceId !== null ? ' in this namespace' : ' (give its id)'}`)
    channelId = found.id
  }

  const grid = layout(zone, interval, from, to, at)
  const start = grid.starts[0]!
  const end = grid.starts.at(-1)!
  const db = deps.store.read
  const nsFilter = namespaceId !== null ? sql`namespace_id = ${namespaceId}` : sql`namespace_id IN (SELECT id FROM namespaces)`
  const channelFilter = channelId !== null ? sql` AND channel_id = ${channelId}` : sql``

  // The rows in the primary key's own order (it leads with namespace, granularity and
  // bucket_start, so ORDER BY costs nothing in one namespace) and summed here: SQL's GROUP BY
  // would build a temp B-tree. Across namespaces the order restarts per namespace.
  const groupColumn = input.group_by ? GROUP_COLUMNS[input.group_by] : sql.raw("''")
  // Hours are read from the per-channel level unless applications are asked for.
  const granularity = grid.resolution === 'hour' && input.group_by !== 'application' ? HOUR_BY_CHANNEL : grid.resolution
  const rows = await db.values<[number, string, string, number]>(sql`
    SELECT bucket_start, ${groupColumn}, status, count FROM message_rollups
    WHERE ${nsFilter} AND granularity = ${granularity} AND bucket_start >= ${start} AND bucket_start < ${end}${channelFilter}
    ${namespaceId !== null ? sql`ORDER BY bucket_start` : sql``}`)

  let labels: Map<string | null, string | null> | null = null
  if (input.group_by) {
    const ids = new Set<string>()
    for (const r of rows) ids.add(r[1])
    labels = await groupLabels(db, input.group_by, [...ids], namespaceId === null)
  }
  // Cells keyed by group number × bucket index (numbers: string keys cost more than the SQL),
  // each holding a count per status. Several ids can share a label (channels of one type).
  const bucketCount = grid.starts.length - 1
  const groupLabelsByNumber: (string | null)[] = []
  const groupNumbers = new Map<string | null, number>()
  const cells = new Map<number, Float64Array>()
  let index = 0
  let lastBucket = -1
  let lastId: string | undefined
  let group = 0
  for (const [t, g, s, n] of rows) {
    if (t !== lastBucket) {
      // Rows come in bucket order per namespace; across namespaces (instance-wide) they restart.
      if (t < lastBucket) index = 0
      while (index + 1 < bucketCount && grid.starts[index + 1]! <= t) index++
      lastBucket = t
    }
    if (g !== lastId) {
      const label = labels ? (labels.has(g) ? labels.get(g)! : g) : null
      let number = groupNumbers.get(label)
      if (number === undefined) groupNumbers.set(label, (number = groupLabelsByNumber.push(label) - 1))
      group = number
      lastId = g
    }
    const status = STATUS_INDEX.get(s)
    if (status === undefined) continue
    const key = group * bucketCount + index
    let cell = cells.get(key)
    if (!cell) cells.set(key, (cell = new Float64Array(COUNTED_STATUSES.length)))
    cell[status]! += Number(n)
  }

  const totals = Object.fromEntries(COUNTED_STATUSES.map((s) => [s, 0])) as Record<CountedStatus, number>
  for (const cell of cells.values()) COUNTED_STATUSES.forEach((s, i) => (totals[s] += cell[i]!))
  const countsOf = (cell: Float64Array | undefined): Counts => {
    const counts: Counts = {}
    if (cell) COUNTED_STATUSES.forEach((s, i) => cell[i] !== 0 && (counts[s] = cell[i]))
    return counts
  }
  const startLabels = grid.starts.slice(0, -1).map((t, i) => zone.label(t, grid.offsets[i]!))
  const startLabel = (i: number) => startLabels[i]!
  const buckets: AnalyticsReport['buckets'] = []
  if (!labels) {
    // Without grouping every bucket of the range is listed, empty ones too, for charts.
    for (let i = 0; i < bucketCount; i++) buckets.push({ start: startLabel(i), counts: countsOf(cells.get(i)) })
  } else {
    const order = (g: string | null) => g ?? '\uffff'
    const sorted = groupLabelsByNumber.map((label, number) => ({ label, number })).sort((x, y) => order(x.label).localeCompare(order(y.label)))
    for (let i = 0; i < bucketCount; i++) {
      for (const { label, number } of sorted) {
        const cell = cells.get(number * bucketCount + i)
        if (cell) buckets.push({ start: startLabel(i), group: label, counts: countsOf(cell) })
      }
    }
  }

  // Latencies and failure reasons are kept per hour: the whole hours overlapping the range.
  const hourRange = sql`${nsFilter} AND bucket_start >= ${floorTo(start, HOUR_MS)} AND bucket_start < ${end}`
  // The namespace-wide histogram (channel `*`) unless one channel is asked for. Grouped by the
  // integer `le` alone, both kinds side by side: a cheaper sort than (kind, le).
  const histogram = await db.values<[number, number | null, number | null]>(
    sql`SELECT le, SUM(CASE kind WHEN 'accept_to_sent' THEN count END), SUM(CASE kind WHEN 'sent_to_delivered' THEN count END)
        FROM latency_rollups WHERE ${hourRange} AND channel_id = ${channelId ?? ALL} GROUP BY le`,
  )
  const failures = await db.all<{ code: string; n: number }>(
    sql`SELECT error_code AS code, SUM(count) AS n FROM failure_rollups WHERE ${hourRange}${channelFilter} GROUP BY error_code ORDER BY n DESC, error_code LIMIT ${TOP_FAILURES}`,
  )

  return {
    interval,
    from: zone.label(start, grid.offsets[0]!),
    to: zone.label(end, grid.offsets.at(-1)!),
    tz: zone.name,
    group_by: input.group_by ?? null,
    resolution: grid.resolution,
    approximate: grid.approximate,
    totals,
    buckets,
    delivery_rate: ratio(totals.delivered, totals.sent),
    failure_rate: ratio(totals.failed, totals.queued),
    latency_ms: {
      accept_to_sent: percentiles(histogram.map(([le, n]) => ({ le, n: n ?? 0 }))),
      sent_to_delivered: percentiles(histogram.map(([le, , n]) => ({ le, n: n ?? 0 }))),
    },
    top_failures: failures.map((f) => ({ code: f.code, count: Number(f.n) })),
  }
}

const GROUP_COLUMNS: Record<GroupBy, SQL> = {
  channel: sql.raw('channel_id'),
  channel_type: sql.raw('channel_id'),
  application: sql.raw('application_id'),
  direction: sql.raw('direction'),
  namespace: sql.raw('namespace_id'),
}

const STATUS_INDEX = new Map<string, number>(COUNTED_STATUSES.map((s, i) => [s, i]))

const ratio = (part: number, whole: number) => (whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000)

/** What a group is called in the answer: channel names (slug/name across namespaces), types, application names, slugs. */
async function groupLabels(db: Db, groupBy: GroupBy, ids: (string | null)[], instanceWide: boolean): Promise<Map<string | null, string | null>> {
  const keys = ids.filter((id): id is string => id !== null && id !== '')
  const labels = new Map<string | null, string | null>(ids.map((id) => [id, id === '' ? null : id]))
  if (keys.length === 0 || groupBy === 'direction') return labels
  if (groupBy === 'application') {
    for (const a of await db.select({ id: applications.id, name: applications.name }).from(applications).where(inArray(applications.id, keys))) labels.set(a.id, a.name)
    return labels
  }
  if (groupBy === 'namespace') {
    for (const n of await db.select({ id: namespaces.id, slug: namespaces.slug }).from(namespaces).where(inArray(namespaces.id, keys))) labels.set(n.id, n.slug)
    return labels
  }
  const found = await db
    .select({ id: channels.id, name: channels.name, type: channels.type, slug: namespaces.slug })
    .from(channels)
    .innerJoin(namespaces, eq(namespaces.id, channels.namespaceId))
    .where(inArray(channels.id, keys))
  for (const c of found) labels.set(c.id, groupBy === 'channel_type' ? c.type : instanceWide ? `${c.slug}/${c.name}` : c.name)
  return labels
}

/**
 * Percentiles from a histogram, interpolated within the bucket as Prometheus'
 * histogram_quantile does; a rank in the last (+inf) bucket answers its lower bound.
 */
export function percentiles(histogram: { le: number; n: number }[]): Percentiles {
  const sorted = histogram.map((h) => ({ le: Number(h.le), n: Number(h.n) })).sort((a, b) => a.le - b.le)
  const count = sorted.reduce((sum, h) => sum + h.n, 0)
  const quantile = (q: number): number | null => {
    if (count === 0) return null
    const rank = q * count
    let cumulative = 0
    let lower = 0
    for (const h of sorted) {
      if (cumulative + h.n >= rank && h.n > 0) {
        if (h.le >= LATENCY_INF) return lower
        return Math.round(lower + ((h.le - lower) * (rank - cumulative)) / h.n)
      }
      cumulative += h.n
      lower = h.le
    }
    return lower
  }
  return { count, p50: quantile(0.5), p95: quantile(0.95), p99: quantile(0.99) }
}
