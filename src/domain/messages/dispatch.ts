/**
 * The dispatcher's side of the outbox: claim due messages with a lease, and record the outcome
 * of each attempt. A lease that runs out (a crashed process) makes the message claimable again.
 */
import { and, eq } from 'drizzle-orm'
import { all } from '../../store/raw'
import { channels, namespaces } from '../../store/schema'
import type { Db, Store } from '../../store/store'
import { applyPendingStatuses, withPendingStatuses } from '../inbound/statuses'
import { appendEvents, type NewMessageEvent } from './events'
import { MESSAGE_COLUMNS, messageFromRow, type MessageRow } from './rows'
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
  const anyDue = await all(store.read, ANY_DUE, [at])
  if (anyDue.length === 0) return []
  return store.tx(async (tx) => {
    const due = await all<{ id: string; status: string }>(tx, DUE, [at, at, limit])
    if (due.length === 0) return []
    const claimed = (await all<MessageRow>(tx, CLAIM, [owner, at + leaseMs, at, JSON.stringify(due.map((d) => d.id))])).map(messageFromRow)
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

// The claim and the completion run for every message sent: hand-written SQL (src/store/raw.ts).
const ANY_DUE =
  "SELECT 1 FROM messages WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ? AND namespace_id NOT IN (SELECT id FROM namespaces WHERE status != 'active') LIMIT 1"
/** Paused channels and deleted (disabled) namespaces send nothing; their messages wait. */
const DUE =
  'SELECT id, status FROM messages WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?) ' +
  "AND direction = 'outbound' AND channel_id NOT IN (SELECT id FROM channels WHERE status = 'paused') " +
  "AND namespace_id NOT IN (SELECT id FROM namespaces WHERE status != 'active') ORDER BY next_attempt_at LIMIT ?"
const CLAIM =
  "UPDATE messages SET status = 'sending', attempts = attempts + 1, lease_owner = ?, lease_until = ?, updated_at = ? " +
  `WHERE id IN (SELECT value FROM json_each(?)) RETURNING ${MESSAGE_COLUMNS}`

/** The outcome's new column values, in the order of COMPLETE's first placeholders. */
type Completion = { status: string; nextAttemptAt: number | null; errorCode: string | null; errorMessage: string | null; providerMessageId?: string | null; attemptsDelta: number }

/** Only the holder of the lease for this very attempt records its outcome. */
const COMPLETE =
  'UPDATE messages SET status = ?, next_attempt_at = ?, error_code = ?, error_message = ?, ' +
  'provider_message_id = CASE WHEN ? THEN ? ELSE provider_message_id END, attempts = attempts + ?, ' +
  'lease_owner = NULL, lease_until = NULL, updated_at = ? ' +
  `WHERE id = ? AND lease_owner = ? AND attempts = ? RETURNING ${MESSAGE_COLUMNS}`

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
  let update: Completion
  const events: NewMessageEvent[] = []
  switch (outcome.kind) {
    case 'sent': {
      const provider = { providerMessageId: outcome.providerMessageId ?? null }
      update = { status: outcome.confirmed, nextAttemptAt: null, errorCode: null, errorMessage: null, ...provider, attemptsDelta: 0 }
      events.push(...sentEvents(base, outcome))
      break
    }
    case 'retry':
      update = { status: 'queued', nextAttemptAt: outcome.nextAttemptAt, ...errorFields(outcome.error), attemptsDelta: 0 }
      events.push({ ...base, status: 'queued', ...errorFields(outcome.error), errorClass: outcome.error.class })
      break
    case 'failed':
      update = { status: 'failed', nextAttemptAt: null, ...errorFields(outcome.error), attemptsDelta: 0 }
      events.push({ ...base, status: 'failed', ...errorFields(outcome.error), errorClass: outcome.error.class })
      break
    case 'released':
      // Handed back unfinished (shutdown): the attempt does not count against max_attempts, and
      // the message keeps the error of its last real attempt.
      update = { status: 'queued', nextAttemptAt: at, errorCode: null, errorMessage: null, attemptsDelta: -1 }
      events.push({ ...base, status: 'queued', errorCode: 'shutdown', errorMessage: 'released at shutdown' })
      break
  }
  const keepError = outcome.kind === 'released'
  return store.write(async (tx) => {
    const rows = (
      await all<MessageRow>(tx, keepError ? RELEASE : COMPLETE, [
        ...(keepError ? [update.status, update.nextAttemptAt] : [update.status, update.nextAttemptAt, update.errorCode, update.errorMessage]),
        ...(keepError ? [] : [update.providerMessageId !== undefined ? 1 : 0, update.providerMessageId ?? null]),
        update.attemptsDelta,
        at,
        message.id,
        owner,
        message.attempts,
      ])
    ).map(messageFromRow)
    if (!rows[0]) return false
    await appendEvents(tx, events, rows)
    // A provider may have reported on the message before its API answer got here.
    if (outcome.kind === 'sent' && outcome.providerMessageId) await applyPendingStatuses(tx, rows[0], at)
    return true
  })
}

type SentOutcome = Extract<AttemptOutcome, { kind: 'sent' }>

/** The events of a successful attempt: `sent`, then `delivered` and `read` when the provider confirmed them. */
function sentEvents(base: Omit<NewMessageEvent, 'status'>, outcome: SentOutcome): NewMessageEvent[] {
  const provider = { providerMessageId: outcome.providerMessageId ?? null }
  const events: NewMessageEvent[] = [{ ...base, status: 'sent', ...provider }]
  if (outcome.confirmed !== 'sent') events.push({ ...base, status: 'delivered', ...provider })
  if (outcome.confirmed === 'read') events.push({ ...base, status: 'read', ...provider })
  return events
}

/** One successful attempt to record with completeSentAttempts. */
export interface SentCompletion {
  /** The message as its claim returned it. */
  message: Message
  outcome: SentOutcome
  at: number
}

/**
 * Records many successful attempts at once, with what completeAttempt writes for each (the
 * row, its events, their counts and webhooks, reports that arrived early), for those whose
 * lease `owner` still holds: one UPDATE for all the rows and one INSERT for all the events
 * instead of two statements a message. Returns, in order, whether each was recorded.
 */
export async function completeSentAttempts(tx: Db, owner: string, items: readonly SentCompletion[]): Promise<boolean[]> {
  if (items.length === 0) return []
  const updated = items.map(({ message, outcome, at }): Message => ({
    ...message,
    status: outcome.confirmed,
    nextAttemptAt: null,
    errorCode: null,
    errorMessage: null,
    providerMessageId: outcome.providerMessageId?.toWellFormed() ?? null,
    leaseOwner: null,
    leaseUntil: null,
    updatedAt: at,
  }))
  // A provider's id goes through JSON text here, not a bound parameter: a lone surrogate (from
  // a provider's JSON) must become U+FFFD as binding makes it, not bytes that are not UTF-8.
  const spec = updated.map((m) => [m.id, m.attempts, m.status, m.providerMessageId, m.updatedAt])
  // Only the ids come back: the rows as written are the claimed messages with the columns the
  // UPDATE sets (nothing else of a leased message changes), and reading whole rows back cost
  // ~3 µs a message (docs/performance.md).
  const written = new Map((await all<{ id: string; attempts: number }>(tx, COMPLETE_SENT, [JSON.stringify(spec), owner])).map((r) => [r.id, r.attempts]))
  // Only the attempt that held the lease is recorded (the row's attempts are its number), and
  // once: a stale attempt of the same message in the same batch is not (as completeAttempt does).
  const recorded = items.map(({ message }) => written.get(message.id) === message.attempts && written.delete(message.id))
  const rows = updated.filter((_, i) => recorded[i])
  const events = items.flatMap(({ message, outcome, at }, i) =>
    recorded[i] ? sentEvents({ namespaceId: message.namespaceId, messageId: message.id, attempt: message.attempts, createdAt: at }, outcome) : [],
  )
  await appendEvents(tx, events, rows)
  // A provider may have reported on a message before its API answer got here.
  const waiting = new Set(await withPendingStatuses(tx, rows))
  for (const row of rows) if (waiting.has(row)) await applyPendingStatuses(tx, row, row.updatedAt)
  return recorded
}

/** COMPLETE for many `sent` outcomes: `[id, attempts, status, provider id, at]` each, in a JSON array. */
const COMPLETE_SENT =
  'UPDATE messages SET status = j.j_status, next_attempt_at = NULL, error_code = NULL, error_message = NULL, ' +
  'provider_message_id = j.j_provider_id, lease_owner = NULL, lease_until = NULL, updated_at = j.j_at ' +
  "FROM (SELECT json_extract(value, '$[0]') AS j_id, json_extract(value, '$[1]') AS j_attempts, json_extract(value, '$[2]') AS j_status, " +
  "json_extract(value, '$[3]') AS j_provider_id, json_extract(value, '$[4]') AS j_at FROM json_each(?)) AS j " +
  'WHERE messages.id = j.j_id AND messages.lease_owner = ? AND messages.attempts = j.j_attempts RETURNING messages.id AS id, messages.attempts AS attempts'

/** A release changes neither the error nor the provider id of the message. */
const RELEASE =
  'UPDATE messages SET status = ?, next_attempt_at = ?, attempts = attempts + ?, lease_owner = NULL, lease_until = NULL, updated_at = ? ' +
  `WHERE id = ? AND lease_owner = ? AND attempts = ? RETURNING ${MESSAGE_COLUMNS}`

/** The channel row and namespace slug a claimed message needs for its send. */
export async function loadSendTarget(store: Store, namespaceId: string, channelId: string) {
  const rows = await store.read
    .select({ channel: channels, namespaceSlug: namespaces.slug })
    .from(channels)
    .innerJoin(namespaces, eq(namespaces.id, channels.namespaceId))
    .where(and(eq(channels.namespaceId, namespaceId), eq(channels.id, channelId)))
  return rows[0]
}
