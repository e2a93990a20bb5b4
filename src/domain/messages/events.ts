/**
 * Message events: the append-only history of every status change. Every change goes through
 * here, and so raises its namespace event (`message.<status>`) for webhooks in the same
 * transaction.
 */
import { newId } from '../../lib/ids'
import type { messageEvents } from '../../store/schema'
import type { Db } from '../../store/store'
import { countStatusChanges, countStatuses } from '../analytics/rollups'
import { emitMessagesEvents, type MessageChange } from '../webhooks/emit'
import { insertEvents } from './rows'
import type { Message } from './views'

export type NewMessageEvent = Omit<typeof messageEvents.$inferInsert, 'id'>

/** A retry or a shutdown release puts a message back to `queued`: history, not news. */
const isNews = (e: NewMessageEvent) => !(e.status === 'queued' && e.errorCode)

/**
 * Appends events (one statement for all) and emits the namespace events of those whose message
 * is in `messages`.
 */
export async function appendEvents(tx: Db, events: NewMessageEvent[], messages: Message[] = []): Promise<void> {
  if (events.length === 0) return
  const rows = events.map((e) => ({ id: newId('evt'), ...e }))
  await insertEvents(tx, rows)
  // Analytics count what moved a message, in this same transaction: exact across crashes.
  await countStatusChanges(tx, rows, messages)
  if (messages.length === 0) return
  const news = Map.groupBy(rows.filter(isNews), (r) => r.messageId)
  const changed = messages.map((message) => ({
    message,
    changes: (news.get(message.id) ?? []).map(
      (r): MessageChange => ({
        status: r.status,
        eventId: r.id,
        at: r.createdAt,
        attempt: r.attempt ?? null,
        error: r.errorCode ? { code: r.errorCode, message: r.errorMessage ?? null, class: r.errorClass ?? null } : null,
      }),
    ),
  }))
  for (const { message, changes } of changed) countStatuses(tx, changes.map((c) => ({ channelId: message.channelId, status: c.status })))
  // Deliveries are due from now, whatever time the event itself carries.
  await emitMessagesEvents(tx, changed, Date.now())
}
