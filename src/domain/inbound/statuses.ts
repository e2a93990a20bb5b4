/**
 * Provider status reports on outbound messages. A report moves the message forward (sent →
 * delivered → read) or fails it, never backwards; the same report twice appends nothing.
 */
import { and, eq } from 'drizzle-orm'
import type { StatusUpdate } from '../../connectors/types'
import { messageEvents, messages, pendingStatuses } from '../../store/schema'
import { all } from '../../store/raw'
import type { Db } from '../../store/store'
import { appendEvents } from '../messages/events'
import type { Message } from '../messages/views'

const RANK: Record<string, number> = { queued: 0, scheduled: 0, sending: 0, sent: 1, delivered: 2, read: 3 }

export async function applyStatus(tx: Db, message: Message, update: StatusUpdate, at: number): Promise<void> {
  const seen = await tx
    .select({ status: messageEvents.status })
    .from(messageEvents)
    .where(and(eq(messageEvents.messageId, message.id), eq(messageEvents.status, update.status)))
  if (seen[0]) return
  // A provider's clock may run ahead: an event never claims to be from the future.
  const occurredAt = Math.min(update.at ?? at, at)
  const current = RANK[message.status]
  const forward =
    update.status === 'failed'
      ? current !== undefined && current <= RANK.sent!
      : current !== undefined && RANK[update.status]! > current
  const event = {
    namespaceId: message.namespaceId,
    messageId: message.id,
    status: update.status,
    providerMessageId: update.providerMessageId,
    errorCode: update.errorCode ?? null,
    errorMessage: update.errorMessage ?? null,
    errorClass: update.status === 'failed' ? 'permanent' : null,
    createdAt: occurredAt,
  }
  // A report that does not move the message (a late `sent`, a `failed` after `delivered`) is
  // history only: recorded, but not announced to webhooks as the message's new state.
  if (!forward) {
    await appendEvents(tx, [event])
    return
  }
  const [updated] = await tx
    .update(messages)
    .set({
      status: update.status,
      updatedAt: at,
      ...(update.status === 'failed'
        ? { errorCode: update.errorCode ?? 'provider_failed', errorMessage: update.errorMessage ?? 'the provider reported a failure', nextAttemptAt: null }
        : {}),
    })
    .where(eq(messages.id, message.id))
    .returning()
  await appendEvents(tx, [event], [updated!])
}

/** Applies the reports that arrived before the send was recorded, then forgets them. */
/** Hand-written SQL (src/store/raw.ts): drizzle would build it anew for every message sent. */
const ANY_PENDING = 'SELECT 1 FROM pending_statuses WHERE channel_id = ? AND provider_message_id = ? LIMIT 1'

/**
 * The messages among `sent` (just recorded with their provider ids) that have reports waiting:
 * one query per channel, so a batch of sends that almost never has any costs one look, not one
 * per message. Provider ids go through JSON text, made well-formed as binding makes them.
 */
export async function withPendingStatuses(tx: Db, sent: readonly Message[]): Promise<Message[]> {
  const byChannel = Map.groupBy(
    sent.filter((m) => m.providerMessageId),
    (m) => m.channelId,
  )
  const waiting: Message[] = []
  for (const [channelId, list] of byChannel) {
    const ids = list.map((m) => m.providerMessageId!.toWellFormed())
    const rows = await all<{ id: string }>(tx, PENDING_AMONG, [channelId, JSON.stringify(ids)])
    if (rows.length === 0) continue
    const found = new Set(rows.map((r) => r.id))
    for (const [i, m] of list.entries()) if (found.has(ids[i]!)) waiting.push(m)
  }
  return waiting
}

const PENDING_AMONG =
  'SELECT DISTINCT provider_message_id AS id FROM pending_statuses WHERE channel_id = ? AND provider_message_id IN (SELECT value FROM json_each(?))'

export async function applyPendingStatuses(tx: Db, message: Message, at: number): Promise<void> {
  if (!message.providerMessageId) return
  // After every send with a provider id, and almost always empty: a cheap look first.
  const anyPending = await all(tx, ANY_PENDING, [message.channelId, message.providerMessageId])
  if (anyPending.length === 0) return
  const pending = await tx
    .select()
    .from(pendingStatuses)
    .where(and(eq(pendingStatuses.channelId, message.channelId), eq(pendingStatuses.providerMessageId, message.providerMessageId)))
  if (pending.length === 0) return
  let current = message
  for (const p of pending.sort((a, b) => a.occurredAt - b.occurredAt)) {
    const update: StatusUpdate = {
      providerMessageId: p.providerMessageId,
      status: p.status as StatusUpdate['status'],
      errorCode: p.errorCode ?? undefined,
      errorMessage: p.errorMessage ?? undefined,
      at: p.occurredAt,
    }
    await applyStatus(tx, current, update, at)
    current = (await tx.select().from(messages).where(eq(messages.id, message.id)))[0]!
  }
  await tx
    .delete(pendingStatuses)
    .where(and(eq(pendingStatuses.channelId, message.channelId), eq(pendingStatuses.providerMessageId, message.providerMessageId)))
}
