/**
 * Message analytics kept incrementally: each counted status change adds to the minute and hour
 * rows of `message_rollups` (and to the latency and failure histograms) in the same transaction
 * as the change itself, so a count can never be lost or doubled by a crash or a retry. No job
 * folds events later: nothing to lag, no watermark to keep.
 *
 * What is counted (docs/operations/analytics.md): each message once per status it reached —
 * its creation status (`queued`, `scheduled`, `received`) when the row is inserted, then every
 * change that moves it (the events raised as `message.<status>`). `sending` is not counted (one
 * per attempt, and never a result); a retry's `queued` event is counted as `retried` (one per
 * failed attempt that will be tried again); a shutdown release or a rate-limit deferral is not
 * counted at all; a status report that does not move the message (a late `sent`, a duplicate)
 * is history only and not counted.
 */
import { and, eq, sql } from 'drizzle-orm'
import { channels, type failureRollups, type latencyRollups, messageEvents, messageRollups, namespaces } from '../../store/schema'
import { insertRows, type Param } from '../../store/raw'
import { type CommitBatch, commitBatch, type Db } from '../../store/store'
import { type Deps, now } from '../deps'
import type { Message } from '../messages/views'
import { countMessageStatuses, StatusCounts } from '../../lib/metrics'

export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000

/**
 * Rollup levels. `minute` and `hour` rows carry the whole key (channel, application, direction,
 * status). `hour:channel` rows sum an hour's applications per channel (application_id `*`), and
 * latency rows of channel `*` sum the namespace's channels: a long by-channel or whole-namespace
 * query reads three to four times fewer rows (docs/operations/analytics.md has the figures).
 * Written in the same statement as the others, so they cost the hot path a row, not a statement.
 */
export const HOUR_BY_CHANNEL = 'hour:channel'
/** The `application_id` of `hour:channel` rows and the `channel_id` of namespace-wide latency rows. */
export const ALL = '*'
/**
 * Minute rollups are kept a week (hours forever): enough for minute charts of the last days,
 * channel health and half-hour time zones over 48 h, without 1,440 rows per key and day forever.
 */
export const MINUTE_ROLLUP_RETENTION_MS = 7 * 24 * HOUR_MS
/** Rows deleted per write when pruning: each write holds the lock for a few milliseconds only. */
const PRUNE_BATCH = 1000

/** Every status a rollup can hold, in the order tables and CSV columns show them. */
export const COUNTED_STATUSES = ['scheduled', 'queued', 'retried', 'sent', 'delivered', 'read', 'failed', 'cancelled', 'expired', 'received'] as const
export type CountedStatus = (typeof COUNTED_STATUSES)[number]

/** The `le` value of the last latency bucket: larger than any latency (SQLite integers are 64-bit). */
export const LATENCY_INF = Number.MAX_SAFE_INTEGER
/** Upper bounds (ms) of the latency buckets: log-scale, from 5 ms to an hour, then +inf. */
export const LATENCY_BOUNDS_MS = [
  5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, LATENCY_INF,
] as const
export type LatencyKind = 'accept_to_sent' | 'sent_to_delivered'

/** The start (UTC, ms) of the `unit`-long bucket a time falls in. */
export const floorTo = (at: number, unit: number) => Math.floor(at / unit) * unit

export function latencyBound(ms: number): number {
  for (const le of LATENCY_BOUNDS_MS) if (ms <= le) return le
  return LATENCY_INF
}

type RollupRow = typeof messageRollups.$inferInsert
type LatencyRow = typeof latencyRollups.$inferInsert
type FailureRow = typeof failureRollups.$inferInsert
type ChannelError = { namespaceId: string; channelId: string; code: string; message: string | null; at: number }

/**
 * Increments gathered in memory and written with one upsert per table, one row per distinct key
 * (`count = count + excluded.count`), so a batch of a hundred alike messages costs three rows.
 */
export class RollupBatch implements CommitBatch {
  private readonly counts = new Map<string, RollupRow>()
  private readonly latencies = new Map<string, LatencyRow>()
  private readonly failures = new Map<string, FailureRow>()
  private readonly channelErrors = new Map<string, ChannelError>()

  /** One message (or `n`) reached `status` at `at`. */
  count(m: Pick<Message, 'namespaceId' | 'channelId' | 'applicationId' | 'direction'>, status: CountedStatus, at: number, n = 1): void {
    const applicationId = m.applicationId ?? ''
    const hour = floorTo(at, HOUR_MS)
    this.add(m.namespaceId, 'minute', floorTo(at, MINUTE_MS), m.channelId, applicationId, m.direction, status, n)
    this.add(m.namespaceId, 'hour', hour, m.channelId, applicationId, m.direction, status, n)
    this.add(m.namespaceId, HOUR_BY_CHANNEL, hour, m.channelId, ALL, m.direction, status, n)
  }

  private add(namespaceId: string, granularity: string, bucketStart: number, channelId: string, applicationId: string, direction: string, status: string, n: number): void {
    const key = `${namespaceId}|${granularity}|${bucketStart}|${channelId}|${applicationId}|${direction}|${status}`
    const row = this.counts.get(key)
    if (row) row.count! += n
    else this.counts.set(key, { namespaceId, granularity, bucketStart, channelId, applicationId, direction, status, count: n })
  }

  /** One latency sample, in its channel's histogram and in the namespace's (channel `*`). */
  latency(namespaceId: string, channelId: string, kind: LatencyKind, ms: number, at: number): void {
    const bucketStart = floorTo(at, HOUR_MS)
    const le = latencyBound(Math.max(0, ms))
    for (const channel of [channelId, ALL]) {
      const key = `${namespaceId}|${bucketStart}|${channel}|${kind}|${le}`
      const row = this.latencies.get(key)
      if (row) row.count! += 1
      else this.latencies.set(key, { namespaceId, bucketStart, channelId: channel, kind, le, count: 1 })
    }
  }

  failure(namespaceId: string, channelId: string, errorCode: string, at: number): void {
    const bucketStart = floorTo(at, HOUR_MS)
    const key = `${namespaceId}|${bucketStart}|${channelId}|${errorCode}`
    const row = this.failures.get(key)
    if (row) row.count! += 1
    else this.failures.set(key, { namespaceId, bucketStart, channelId, errorCode, count: 1 })
  }

  /** The channel's last provider error (health): the latest one of the batch wins. */
  channelError(error: ChannelError): void {
    const seen = this.channelErrors.get(error.channelId)
    if (!seen || seen.at <= error.at) this.channelErrors.set(error.channelId, error)
  }

  /** Adds another batch's increments (a write of the same group commit that succeeded). */
  absorb(other: RollupBatch): void {
    mergeCounts(this.counts, other.counts)
    mergeCounts(this.latencies, other.latencies)
    mergeCounts(this.failures, other.failures)
    for (const error of other.channelErrors.values()) this.channelError(error)
  }

  get empty(): boolean {
    return this.counts.size === 0 && this.latencies.size === 0 && this.failures.size === 0 && this.channelErrors.size === 0
  }

  /**
   * Writes everything gathered, inside the caller's transaction: one upsert per table in
   * hand-written SQL (src/store/raw.ts), `count = count + excluded.count`.
   */
  async flush(tx: Db): Promise<void> {
    const errors = [...this.channelErrors.values()]
    await insertRows(tx, COUNTS.head, 8, [...this.counts.values()], COUNTS.values, COUNTS.tail)
    await insertRows(tx, LATENCIES.head, 6, [...this.latencies.values()], LATENCIES.values, LATENCIES.tail)
    await insertRows(tx, FAILURES.head, 5, [...this.failures.values()], FAILURES.values, FAILURES.tail)
    this.counts.clear()
    this.latencies.clear()
    this.failures.clear()
    this.channelErrors.clear()
    for (const e of errors) {
      // Never replace a newer error with an older one (a late provider report).
      await tx
        .update(channels)
        .set({ lastErrorCode: e.code, lastErrorMessage: e.message, lastErrorAt: e.at })
        .where(
          and(
            eq(channels.id, e.channelId),
            eq(channels.namespaceId, e.namespaceId),
            sql`(${channels.lastErrorAt} IS NULL OR ${channels.lastErrorAt} <= ${e.at})`,
          ),
        )
    }
  }
}

/** Adds `from`'s rows to `into`'s, key by key. */
function mergeCounts<R extends { count?: number }>(into: Map<string, R>, from: Map<string, R>): void {
  for (const [key, row] of from) {
    const mine = into.get(key)
    if (mine) mine.count! += row.count!
    else into.set(key, row)
  }
}

type Upsert<R> = { head: string; tail: string; values: (r: R) => Param[] }

const COUNTS: Upsert<RollupRow> = {
  head: 'INSERT INTO message_rollups (namespace_id, granularity, bucket_start, channel_id, application_id, direction, status, count)',
  tail: ' ON CONFLICT (namespace_id, granularity, bucket_start, channel_id, application_id, direction, status) DO UPDATE SET count = count + excluded.count',
  values: (r) => [r.namespaceId, r.granularity, r.bucketStart, r.channelId, r.applicationId!, r.direction, r.status, r.count!],
}
const LATENCIES: Upsert<LatencyRow> = {
  head: 'INSERT INTO latency_rollups (namespace_id, bucket_start, channel_id, kind, le, count)',
  tail: ' ON CONFLICT (namespace_id, bucket_start, channel_id, kind, le) DO UPDATE SET count = count + excluded.count',
  values: (r) => [r.namespaceId, r.bucketStart, r.channelId, r.kind, r.le, r.count!],
}
const FAILURES: Upsert<FailureRow> = {
  head: 'INSERT INTO failure_rollups (namespace_id, bucket_start, channel_id, error_code, count)',
  tail: ' ON CONFLICT (namespace_id, bucket_start, channel_id, error_code) DO UPDATE SET count = count + excluded.count',
  values: (r) => [r.namespaceId, r.bucketStart, r.channelId, r.errorCode, r.count!],
}

/**
 * The rollup batch of the open store transaction, written once at its commit (a group commit's
 * writes share it), or null outside one (the caller writes its own batch at once).
 */
const commitRollups = (tx: Db) => commitBatch(tx, 'rollups', () => new RollupBatch())

/**
 * Status changes for omnigate_messages_total: counted when the open store transaction commits
 * (a rolled-back write adds nothing), or at once outside one.
 */
export function countStatuses(tx: Db, changes: readonly { channelId: string; status: string }[]): void {
  const atCommit = commitBatch(tx, 'status-counts', () => new StatusCounts())
  if (atCommit) for (const c of changes) atCommit.add(c.channelId, c.status)
  else countMessageStatuses(changes)
}

/** The status a new message is counted under: its implicit first event. */
function creationStatus(m: Pick<Message, 'direction' | 'status'>): CountedStatus | null {
  if (m.direction === 'inbound') return 'received'
  return m.status === 'scheduled' || m.status === 'queued' ? m.status : null
}

/** Counts newly inserted messages under their creation status; call in the inserting transaction. */
export function countNewMessages(tx: Db, rows: Message[]): Promise<void> {
  // The Prometheus counter sees creation statuses too (queued, scheduled, received), at commit.
  countStatuses(tx, rows)
  const scoped = commitRollups(tx)
  const batch = scoped ?? new RollupBatch()
  // A batch's messages mostly share channel, application and status: count each kind once.
  let last: Message | null = null
  let lastStatus: CountedStatus | null = null
  let n = 0
  for (const m of rows) {
    const status = creationStatus(m)
    if (last && status === lastStatus && m.namespaceId === last.namespaceId && m.channelId === last.channelId && m.applicationId === last.applicationId && m.direction === last.direction && m.createdAt === last.createdAt) {
      n++
      continue
    }
    if (last && lastStatus) batch.count(last, lastStatus, last.createdAt, n)
    ;[last, lastStatus, n] = [m, status, 1]
  }
  if (last && lastStatus) batch.count(last, lastStatus, last.createdAt, n)
  return scoped || batch.empty ? Promise.resolve() : batch.flush(tx)
}

type EventRow = typeof messageEvents.$inferInsert

/** The counted status of an event, or null when it is not counted (see the top of this file). */
export function countedStatusOf(e: Pick<EventRow, 'status' | 'errorCode' | 'errorClass'>): CountedStatus | null {
  switch (e.status) {
    case 'queued':
      // A retry carries the attempt's error and its class; a release or deferral has no class.
      if (e.errorCode) return e.errorClass ? 'retried' : null
      return 'queued'
    case 'scheduled':
    case 'sent':
    case 'delivered':
    case 'read':
    case 'failed':
    case 'cancelled':
    case 'expired':
    case 'received':
      return e.status
    default:
      return null
  }
}

/** When the message could first be sent: acceptance, or its send_at when it was scheduled. */
const dueAt = (m: Pick<Message, 'createdAt' | 'sendAt'>) => (m.sendAt !== null && m.sendAt > m.createdAt ? m.sendAt : m.createdAt)

/**
 * Counts the status changes of `events` that moved one of `messages` (the events raised as
 * namespace events), with latencies, failure reasons and the channel's last error. Called by
 * `appendEvents`, in its transaction.
 */
export function countStatusChanges(tx: Db, events: EventRow[], messages: Message[]): Promise<void> {
  if (messages.length === 0) return Promise.resolve()
  let byId: Map<string, Message> | null = null
  const scoped = commitRollups(tx)
  const batch = scoped ?? new RollupBatch()
  const delivered: [EventRow, Message][] = []
  for (const e of events) {
    const status = countedStatusOf(e)
    // A claim's `sending` events, the commonest batch, end here.
    if (!status) continue
    if (messages.length > 1) byId ??= new Map(messages.map((m) => [m.id, m]))
    const m = byId ? byId.get(e.messageId) : messages[0]!.id === e.messageId ? messages[0] : undefined
    if (!m) continue
    batch.count(m, status, e.createdAt)
    if (status === 'sent') {
      batch.latency(m.namespaceId, m.channelId, 'accept_to_sent', e.createdAt - dueAt(m), e.createdAt)
    } else if (status === 'delivered') {
      const sent = events.find((s) => s.messageId === e.messageId && s.status === 'sent')
      if (sent) batch.latency(m.namespaceId, m.channelId, 'sent_to_delivered', e.createdAt - sent.createdAt, e.createdAt)
      else delivered.push([e, m])
    }
    if (status === 'failed' || status === 'retried') {
      const code = e.errorCode ?? m.errorCode ?? 'unknown'
      if (status === 'failed') batch.failure(m.namespaceId, m.channelId, code, e.createdAt)
      batch.channelError({ namespaceId: m.namespaceId, channelId: m.channelId, code, message: e.errorMessage ?? m.errorMessage ?? null, at: e.createdAt })
    }
  }
  if (delivered.length > 0) return withReportedLatencies(tx, batch, delivered, scoped !== null)
  return scoped || batch.empty ? Promise.resolve() : batch.flush(tx)
}

/** A delivery reported after the send (a provider callback): its sent time is in the history. */
async function withReportedLatencies(tx: Db, batch: RollupBatch, delivered: [EventRow, Message][], scoped: boolean): Promise<void> {
  for (const [e, m] of delivered) {
    const [sent] = await tx
      .select({ at: messageEvents.createdAt })
      .from(messageEvents)
      .where(and(eq(messageEvents.messageId, e.messageId), eq(messageEvents.status, 'sent')))
      .limit(1)
    if (sent) batch.latency(m.namespaceId, m.channelId, 'sent_to_delivered', e.createdAt - sent.at, e.createdAt)
  }
  if (!scoped) await batch.flush(tx)
}

/**
 * Deletes minute rollups older than MINUTE_ROLLUP_RETENTION_MS, namespace by namespace in
 * batches (the `analytics-prune` job). Returns how many rows went.
 */
export async function pruneMinuteRollups(deps: Deps, opts: { signal?: AbortSignal } = {}): Promise<number> {
  const cutoff = floorTo(now(deps) - MINUTE_ROLLUP_RETENTION_MS, MINUTE_MS)
  let deleted = 0
  for (const { id } of await deps.store.read.select({ id: namespaces.id }).from(namespaces)) {
    for (;;) {
      if (opts.signal?.aborted) return deleted
      const gone = await deps.store.write((tx) =>
        tx
          .delete(messageRollups)
          // By the primary key (the table is WITHOUT ROWID): the batch is a range of its B-tree.
          .where(
            sql`(namespace_id, granularity, bucket_start, channel_id, application_id, direction, status) IN (
              SELECT namespace_id, granularity, bucket_start, channel_id, application_id, direction, status FROM message_rollups
              WHERE namespace_id = ${id} AND granularity = 'minute' AND bucket_start < ${cutoff} LIMIT ${PRUNE_BATCH})`,
          )
          .returning({ one: sql<number>`1` }),
      )
      deleted += gone.length
      if (gone.length < PRUNE_BATCH) break
    }
  }
  return deleted
}
