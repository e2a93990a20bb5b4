/**
 * Message events: the append-only history of every status change. Every change goes through
 * here, so the namespace events that webhooks subscribe to (a later issue) can be written in
 * the same transaction.
 */
import { newId } from '../../lib/ids'
import { messageEvents } from '../../store/schema'
import type { Db } from '../../store/store'

export type NewMessageEvent = Omit<typeof messageEvents.$inferInsert, 'id'>

export async function appendEvents(tx: Db, events: NewMessageEvent[]): Promise<void> {
  if (events.length === 0) return
  await tx.insert(messageEvents).values(events.map((e) => ({ id: newId('evt'), ...e })))
}
