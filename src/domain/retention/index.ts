/**
 * Retention: message content older than `message_days` is replaced by a `{"purged": true}`
 * marker (the row, its status, metadata, addresses, events and the analytics rollups stay), and
 * finished webhook deliveries older than that are deleted with their attempts (their payloads
 * carry the content, and a retry would send it again); message events older than `event_days`
 * are deleted. Defaults come from `[retention]`, a
 * namespace overrides them in `settings.retention` (`{"message_days": 30, "event_days": 90}`,
 * 0 = keep forever), set by `[[namespaces]] retention = {…}` in the config or by an instance
 * admin through `PUT /v1/namespaces/{ns}/retention`.
 *
 * The work is done in small batches: the rows of a batch are found on the reader connection
 * (no lock held while scanning), then changed in one short transaction of at most `batchSize`
 * rows, and the event loop turns between batches so API writes go first.
 */
import { and, eq, inArray, isNull, lt, sql } from 'drizzle-orm'
import { type NamespaceRetention, namespaceRetentionSchema } from '../../config/operations-schema'
import { messageEvents, type MessageContent, messages, namespaces, webhookDeliveries } from '../../store/schema'
import type { Db, Store } from '../../store/store'
import { type Deps, now } from '../deps'
import { errors } from '../errors'

/** Rows changed per transaction: a few milliseconds of write lock. */
export const RETENTION_BATCH = 500
const DAY_MS = 86_400_000

/** What purged content becomes. */
export const PURGED_CONTENT = { purged: true } as const
const PURGED_JSON = JSON.stringify(PURGED_CONTENT)

export interface RetentionPolicy {
  /** 0 = keep forever. */
  messageDays: number
  eventDays: number
}

export interface RetentionReport {
  contentPurged: number
  eventsDeleted: number
  /** Finished webhook deliveries (with their attempts) past `message_days`. */
  deliveriesDeleted: number
  /** Write transactions used. */
  batches: number
  /** The most rows one transaction changed. */
  largestBatch: number
  /** Namespaces whose `settings.retention` is not valid (the defaults apply to them). */
  invalidOverrides: { namespace: string; problem: string }[]
}

type Defaults = { message_days: number; event_days: number }

/** A namespace's policy: its `settings.retention` over the `[retention]` defaults. */
export function retentionPolicy(defaults: Defaults, settings: Record<string, unknown>): { policy: RetentionPolicy; problem?: string } {
  const base = { messageDays: defaults.message_days, eventDays: defaults.event_days }
  if (settings.retention === undefined) return { policy: base }
  const parsed = namespaceRetentionSchema.safeParse(settings.retention)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    return { policy: base, problem: `settings.retention${issue.path.map((p) => `.${String(p)}`).join('')}: ${issue.message}` }
  }
  return {
    policy: {
      messageDays: parsed.data.message_days ?? base.messageDays,
      eventDays: parsed.data.event_days ?? base.eventDays,
    },
  }
}

/** The overrides as stored, keys in a fixed order (so two equal overrides compare equal as JSON); `{}` when none or invalid. */
export function retentionOverrides(settings: Record<string, unknown>): NamespaceRetention {
  const parsed = namespaceRetentionSchema.safeParse(settings.retention ?? {})
  if (!parsed.success) return {}
  const out: NamespaceRetention = {}
  if (parsed.data.message_days !== undefined) out.message_days = parsed.data.message_days
  if (parsed.data.event_days !== undefined) out.event_days = parsed.data.event_days
  return out
}

/**
 * `settings` with `retention` replaced by `overrides` (removed when empty): what the API and
 * the config reconciliation store.
 */
export function withRetention(settings: Record<string, unknown>, overrides: NamespaceRetention): Record<string, unknown> {
  const { retention: _, ...rest } = settings
  const normalized = retentionOverrides({ retention: overrides })
  return Object.keys(normalized).length === 0 ? rest : { ...rest, retention: normalized }
}

/** What `GET /v1/namespaces/{ns}/retention` shows: the effective days, the namespace's own, the defaults. */
export interface RetentionView {
  namespace: string
  message_days: number
  event_days: number
  overrides: NamespaceRetention
  defaults: Defaults
}

function retentionView(defaults: Defaults, ns: { slug: string; settings: Record<string, unknown> }): RetentionView {
  const { policy } = retentionPolicy(defaults, ns.settings)
  return {
    namespace: ns.slug,
    message_days: policy.messageDays,
    event_days: policy.eventDays,
    overrides: retentionOverrides(ns.settings),
    defaults: { message_days: defaults.message_days, event_days: defaults.event_days },
  }
}

async function namespaceRow(db: Db, namespaceId: string) {
  const [ns] = await db.select({ slug: namespaces.slug, settings: namespaces.settings }).from(namespaces).where(eq(namespaces.id, namespaceId))
  if (!ns) throw errors.namespaceNotFound('the namespace does not exist')
  return ns
}

/** A namespace's retention: effective days, its overrides and the defaults. */
export async function getNamespaceRetention(deps: Pick<Deps, 'store' | 'config'>, namespaceId: string): Promise<RetentionView> {
  return retentionView(deps.config.retention, await namespaceRow(deps.store.read, namespaceId))
}

/**
 * Replaces a namespace's overrides (`{}` = the defaults again); the next `retention` job run
 * applies them. A namespace declared with `retention` in the config gets the declared value
 * back at the next start.
 */
export async function setNamespaceRetention(deps: Pick<Deps, 'store' | 'config' | 'now'>, namespaceId: string, overrides: NamespaceRetention): Promise<RetentionView> {
  return deps.store.tx(async (tx) => {
    const ns = await namespaceRow(tx, namespaceId)
    const settings = withRetention(ns.settings, overrides)
    await tx.update(namespaces).set({ settings, updatedAt: now(deps) }).where(eq(namespaces.id, namespaceId))
    return retentionView(deps.config.retention, { slug: ns.slug, settings })
  })
}

export interface RetentionOptions {
  batchSize?: number
  /** Stops between batches when aborted (engine shutdown). */
  signal?: AbortSignal
}

/** Applies every namespace's retention once. */
export async function applyRetention(deps: Pick<Deps, 'store' | 'config' | 'now'>, opts: RetentionOptions = {}): Promise<RetentionReport> {
  const at = now(deps)
  const batchSize = opts.batchSize ?? RETENTION_BATCH
  const report: RetentionReport = { contentPurged: 0, eventsDeleted: 0, deliveriesDeleted: 0, batches: 0, largestBatch: 0, invalidOverrides: [] }
  const tenants = await deps.store.read.select({ id: namespaces.id, slug: namespaces.slug, settings: namespaces.settings }).from(namespaces)
  const eventCutoffs = new Map<string, number>()
  const contentCutoffs = new Map<string, number>()
  for (const ns of tenants) {
    const { policy, problem } = retentionPolicy(deps.config.retention, ns.settings ?? {})
    if (problem) report.invalidOverrides.push({ namespace: ns.slug, problem })
    if (policy.eventDays > 0) eventCutoffs.set(ns.id, at - policy.eventDays * DAY_MS)
    if (policy.messageDays > 0) contentCutoffs.set(ns.id, at - policy.messageDays * DAY_MS)
    if (policy.messageDays > 0 && !opts.signal?.aborted) {
      await purgeContent(deps.store, ns.id, at - policy.messageDays * DAY_MS, batchSize, report, opts.signal)
    }
  }
  if (contentCutoffs.size > 0 && !opts.signal?.aborted) await deleteDeliveries(deps.store, contentCutoffs, batchSize, report, opts.signal)
  if (eventCutoffs.size > 0 && !opts.signal?.aborted) await deleteEvents(deps.store, eventCutoffs, batchSize, report, opts.signal)
  return report
}

const yieldToOthers = () => new Promise<void>((resolve) => setImmediate(resolve))

function recordBatch(report: RetentionReport, rows: number): void {
  report.batches++
  report.largestBatch = Math.max(report.largestBatch, rows)
}

/**
 * Walks the namespace's messages older than `cutoff` in (created_at, rowid) order, the order of
 * the `messages_ns_created` index, so each read is a bounded index range. Already-purged rows
 * and unfinished ones (a send still due) are passed over.
 */
async function purgeContent(store: Store, namespaceId: string, cutoff: number, batchSize: number, report: RetentionReport, signal?: AbortSignal) {
  let cursor: { createdAt: number; rowid: number } | null = null
  while (!signal?.aborted) {
    const after: ReturnType<typeof sql> = cursor ? sql`AND (created_at, rowid) > (${cursor.createdAt}, ${cursor.rowid})` : sql``
    const rows = (await store.read.all(sql`
      SELECT rowid AS rowid, id, created_at AS createdAt, (content = ${PURGED_JSON} OR next_attempt_at IS NOT NULL) AS skip
      FROM messages
      WHERE namespace_id = ${namespaceId} AND created_at < ${cutoff} ${after}
      ORDER BY created_at, rowid LIMIT ${batchSize}`)) as { rowid: number; id: string; createdAt: number; skip: number }[]
    if (rows.length === 0) return
    const last = rows.at(-1)!
    cursor = { createdAt: last.createdAt, rowid: last.rowid }
    const ids = rows.filter((r) => !r.skip).map((r) => r.id)
    if (ids.length > 0) {
      const purged = await store.tx((tx) =>
        tx
          .update(messages)
          .set({ content: PURGED_CONTENT as unknown as MessageContent })
          // Checked again under the lock: a message that became due meanwhile keeps its content.
          .where(and(eq(messages.namespaceId, namespaceId), inArray(messages.id, ids), isNull(messages.nextAttemptAt), lt(messages.createdAt, cutoff)))
          .returning({ id: messages.id }),
      )
      report.contentPurged += purged.length
      recordBatch(report, purged.length)
    }
    if (rows.length < batchSize) return
    await yieldToOthers()
  }
}

/** The smallest id of the millisecond `at` (ids are a prefix + a UUIDv7: time-ordered). */
function idAt(prefix: 'evt' | 'whd', at: number): string {
  return `${prefix}_${Math.max(0, at).toString(16).padStart(12, '0')}${'0'.repeat(20)}`
}

type Cutoffs = Map<string, number>

/**
 * Walks a table whose ids are a prefix + UUIDv7 (so id order is time order) up to the latest
 * cutoff, a page at a time on the reader, and deletes in one short write per page the rows
 * older than their own namespace's cutoff that `eligible` lets go. None of these tables has a
 * namespace index, so one walk serves every namespace; rows kept forever are passed over.
 */
async function deleteWalk<R extends { id: string; namespaceId: string; createdAt: number }>(
  cutoffs: Cutoffs,
  batchSize: number,
  report: RetentionReport,
  signal: AbortSignal | undefined,
  walk: {
    prefix: 'evt' | 'whd'
    page(after: string, bound: string, limit: number): Promise<R[]>
    eligible?(row: R): boolean
    /** Deletes these ids (checking again under the lock what may have changed); how many went. */
    remove(ids: string[]): Promise<number>
  },
): Promise<number> {
  const bound = idAt(walk.prefix, Math.max(...cutoffs.values()))
  let after = ''
  let deleted = 0
  while (!signal?.aborted) {
    const rows = await walk.page(after, bound, batchSize)
    if (rows.length === 0) break
    after = rows.at(-1)!.id
    const ids = rows.filter((r) => (walk.eligible?.(r) ?? true) && r.createdAt < (cutoffs.get(r.namespaceId) ?? -Infinity)).map((r) => r.id)
    if (ids.length > 0) {
      const n = await walk.remove(ids)
      deleted += n
      recordBatch(report, n)
    }
    if (rows.length < batchSize) break
    await yieldToOthers()
  }
  return deleted
}

/** Finished webhook deliveries past their namespace's content cutoff; their attempts go too (cascade). */
async function deleteDeliveries(store: Store, cutoffs: Cutoffs, batchSize: number, report: RetentionReport, signal?: AbortSignal) {
  const d = webhookDeliveries
  report.deliveriesDeleted += await deleteWalk(cutoffs, batchSize, report, signal, {
    prefix: 'whd',
    page: (after, bound, limit) =>
      store.read
        .select({ id: d.id, namespaceId: d.namespaceId, status: d.status, createdAt: d.createdAt })
        .from(d)
        .where(and(sql`${d.id} > ${after}`, lt(d.id, bound)))
        .orderBy(d.id)
        .limit(limit),
    // A delivery still pending is left to finish.
    eligible: (r) => r.status !== 'pending',
    remove: async (ids) =>
      // Checked again under the lock: one retried meanwhile is pending again and stays.
      (await store.tx((tx) => tx.delete(d).where(and(inArray(d.id, ids), sql`${d.status} != 'pending'`)).returning({ id: d.id }))).length,
  })
}

/** Message events past their namespace's event cutoff. */
async function deleteEvents(store: Store, cutoffs: Cutoffs, batchSize: number, report: RetentionReport, signal?: AbortSignal) {
  const e = messageEvents
  report.eventsDeleted += await deleteWalk(cutoffs, batchSize, report, signal, {
    prefix: 'evt',
    page: (after, bound, limit) =>
      store.read
        .select({ id: e.id, namespaceId: e.namespaceId, createdAt: e.createdAt })
        .from(e)
        .where(and(sql`${e.id} > ${after}`, lt(e.id, bound)))
        .orderBy(e.id)
        .limit(limit),
    remove: async (ids) => (await store.tx((tx) => tx.delete(e).where(inArray(e.id, ids)).returning({ id: e.id }))).length,
  })
}
