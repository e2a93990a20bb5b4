/**
 * The dispatcher's side of the outbox: claim due messages with a lease, and record the outcome
 * of each attempt. A lease that runs out (a crashed process) makes the message claimable again.
 */
import { and, asc, eq, inArray, isNotNull, isNull, lte, ne, notInArray, or, sql } from 'drizzle-orm'
import { channels, messages, namespaces } from '../../store/schema'
import type { Store } from '../../store/store'
import { applyPendingStatuses } from '../inbound/statuses'
import { appendEvents, type NewMessageEvent } from './events'
import type { Message } from './views'

export interface AttemptError {
  code: string
  message: string
  class: 'transient' | 'permanent' | 'rate-limited'
}

export type AttemptOutcome =
  | { kind: 'sent'; providerMessageId?: string; confirmed: 'sent' | 'delivered' | 'read' }
  | { kind: 'retry'; error: AttemptError; nextAttemptAt: number }
  | { kind: 'failed'; error: AttemptError }
  /** Shutdown: the attempt's fate is unknown, so the message is due again at once. */
  | { kind: 'released' }

/**
 * Claims up to `limit` due outbound messages for `owner` (status `sending`, attempts + 1,
 * leased until `at + leaseMs`), skipping paused channels and disabled namespaces. One
 * transaction: two instances never claim the same message while its lease holds.
 */
export async function claimDueMessages(
  store: Store,
  owner: string,
  limit: number,
  leaseMs: number,
  at: number,
): Promise<Message[]> {
  // An idle poll must not take the write lock: look first, through the reader.
  // (A deleted namespace's backlog is not work: it must not make every poll take the lock.)
  const anyDue = await store.read.all(
    sql`SELECT 1 FROM messages WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ${at} AND namespace_id NOT IN (SELECT id FROM namespaces WHERE status != 'active') LIMIT 1`,
  )
  if (anyDue.length === 0) return []
  return store.tx(async (tx) => {
    const paused = tx.select({ id: channels.id }).from(channels).where(eq(channels.status, 'paused'))
    // A deleted (disabled) namespace sends nothing more; its messages wait for the purge.
    const disabled = tx.select({ id: namespaces.id }).from(namespaces).where(ne(namespaces.status, 'active'))
    const due = await tx
      .select({ id: messages.id, status: messages.status, namespaceId: messages.namespaceId })
      .from(messages)
      .where(
        and(
          isNotNull(messages.nextAttemptAt),
          lte(messages.nextAttemptAt, at),
          or(isNull(messages.leaseUntil), lte(messages.leaseUntil, at)),
          eq(messages.direction, 'outbound'),
          notInArray(messages.channelId, paused),
          notInArray(messages.namespaceId, disabled),
        ),
      )
      .orderBy(asc(messages.nextAttemptAt))
      .limit(limit)
    if (due.length === 0) return []
    const claimed = await tx
      .update(messages)
      .set({
        status: 'sending',
        attempts: sql`${messages.attempts} + 1`,
        leaseOwner: owner,
        leaseUntil: at + leaseMs,
        updatedAt: at,
      })
      .where(
        inArray(
          messages.id,
          due.map((d) => d.id),
        ),
      )
      .returning()
    const previous = new Map(due.map((d) => [d.id, d.status]))
    const events: NewMessageEvent[] = []
    for (const m of claimed) {
      if (previous.get(m.id) === 'scheduled') {
        events.push({ namespaceId: m.namespaceId, messageId: m.id, status: 'queued', createdAt: at })
      }
      events.push({ namespaceId: m.namespaceId, messageId: m.id, status: 'sending', attempt: m.attempts, createdAt: at })
    }
    await appendEvents(tx, events, claimed)
    return claimed
  })
}

/**
 * Records the outcome of one attempt, if `owner` still holds the lease for that attempt
 * (otherwise another instance took the message over and this result is dropped).
 * Goes through the write queue, so completions of concurrent sends share commits.
 */
export async function completeAttempt(
  store: Store,
  owner: string,
  message: Pick<Message, 'id' | 'namespaceId' | 'attempts' | 'channelId'>,
  outcome: AttemptOutcome,
  at: number,
): Promise<boolean> {
  const base = { namespaceId: message.namespaceId, messageId: message.id, attempt: message.attempts, createdAt: at }
  const errorFields = (e: AttemptError) => ({ errorCode: e.code, errorMessage: e.message.slice(0, 1000) })
  let update: Partial<typeof messages.$inferInsert>
  const events: NewMessageEvent[] = []
  switch (outcome.kind) {
    case 'sent': {
      const provider = { providerMessageId: outcome.providerMessageId ?? null }
      update = { status: outcome.confirmed, nextAttemptAt: null, errorCode: null, errorMessage: null, ...provider }
      events.push({ ...base, status: 'sent', ...provider })
      if (outcome.confirmed !== 'sent') events.push({ ...base, status: 'delivered', ...provider })
      if (outcome.confirmed === 'read') events.push({ ...base, status: 'read', ...provider })
      break
    }
    case 'retry':
      update = { status: 'queued', nextAttemptAt: outcome.nextAttemptAt, ...errorFields(outcome.error) }
      events.push({ ...base, status: 'queued', ...errorFields(outcome.error), errorClass: outcome.error.class })
      break
    case 'failed':
      update = { status: 'failed', nextAttemptAt: null, ...errorFields(outcome.error) }
      events.push({ ...base, status: 'failed', ...errorFields(outcome.error), errorClass: outcome.error.class })
      break
    case 'released':
      // Handed back unfinished (shutdown): the attempt does not count against max_attempts.
      update = { status: 'queued', nextAttemptAt: at, attempts: sql`${messages.attempts} - 1` as unknown as number }
      events.push({ ...base, status: 'queued', errorCode: 'shutdown', errorMessage: 'released at shutdown' })
      break
  }
  return store.write(async (tx) => {
    const rows = await tx
      .update(messages)
      .set({ ...update, leaseOwner: null, leaseUntil: null, updatedAt: at })
      .where(and(eq(messages.id, message.id), eq(messages.leaseOwner, owner), eq(messages.attempts, message.attempts)))
      .returning()
    if (!rows[0]) return false
    await appendEvents(tx, events, rows)
    // A provider may have reported on the message before its API answer got here.
    if (outcome.kind === 'sent' && outcome.providerMessageId) await applyPendingStatuses(tx, rows[0], at)
    return true
  })
}

/** The channel row and namespace slug a claimed message needs for its send. */
export async function loadSendTarget(store: Store, namespaceId: string, channelId: string) {
  const rows = await store.read
    .select({ channel: channels, namespaceSlug: namespaces.slug })
    .from(channels)
    .innerJoin(namespaces, eq(namespaces.id, channels.namespaceId))
    .where(and(eq(channels.namespaceId, namespaceId), eq(channels.id, channelId)))
  return rows[0]
}
