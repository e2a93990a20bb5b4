/** Reading messages: the paginated list, one message with its timeline, and cancel. */
import { and, asc, desc, eq, gte, inArray, lt, lte, type SQL } from 'drizzle-orm'
import { channels, messageEvents, messages } from '../../store/schema'
import { resolveChannel } from '../channels/resolve'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'
import type { ListMessagesInput } from './input'
import { type Message, messageView, timelineView } from './views'
import { appendEvents } from './events'

async function channelNames(deps: Deps, namespaceId: string, ids: string[]) {
  const unique = [...new Set(ids)]
  if (unique.length === 0) return new Map<string, { name: string; type: string }>()
  const rows = await deps.store.read
    .select({ id: channels.id, name: channels.name, type: channels.type })
    .from(channels)
    .where(and(eq(channels.namespaceId, namespaceId), inArray(channels.id, unique)))
  return new Map(rows.map((r) => [r.id, r]))
}

const unknownChannel = { name: '(deleted)', type: 'unknown' }

/** Newest first; `next_cursor` is the last id of the page when more may follow. */
export async function listMessages(deps: Deps, namespaceId: string, input: ListMessagesInput) {
  const where: SQL[] = [eq(messages.namespaceId, namespaceId)]
  if (input.cursor) where.push(lt(messages.id, input.cursor))
  if (input.status) where.push(eq(messages.status, input.status))
  if (input.direction) where.push(eq(messages.direction, input.direction))
  if (input.recipient) where.push(eq(messages.recipient, input.recipient))
  if (input.since) where.push(gte(messages.createdAt, Date.parse(input.since)))
  if (input.until) where.push(lte(messages.createdAt, Date.parse(input.until)))
  if (input.channel) {
    const channel = await resolveChannel(deps.store, namespaceId, input.channel)
    if (!channel) throw invalidField('channel', `no channel "${input.channel}" in this namespace`)
    where.push(eq(messages.channelId, channel.id))
  }
  const rows = await deps.store.read
    .select()
    .from(messages)
    .where(and(...where))
    .orderBy(desc(messages.id))
    .limit(input.limit + 1)
  const page = rows.slice(0, input.limit)
  const names = await channelNames(
    deps,
    namespaceId,
    page.map((m) => m.channelId),
  )
  return {
    data: page.map((m) => messageView(m, names.get(m.channelId) ?? unknownChannel)),
    next_cursor: rows.length > input.limit ? page.at(-1)!.id : null,
  }
}

async function findMessage(deps: Deps, namespaceId: string, id: string): Promise<Message> {
  const rows = await deps.store.read
    .select()
    .from(messages)
    .where(and(eq(messages.namespaceId, namespaceId), eq(messages.id, id)))
  if (!rows[0]) throw errors.messageNotFound(`message "${id}" does not exist`)
  return rows[0]
}

/** One message with its event timeline, oldest event first. */
export async function getMessage(deps: Deps, namespaceId: string, id: string) {
  const message = await findMessage(deps, namespaceId, id)
  const [events, names] = await Promise.all([
    deps.store.read
      .select()
      .from(messageEvents)
      .where(and(eq(messageEvents.namespaceId, namespaceId), eq(messageEvents.messageId, id)))
      .orderBy(asc(messageEvents.id)),
    channelNames(deps, namespaceId, [message.channelId]),
  ])
  return {
    ...messageView(message, names.get(message.channelId) ?? unknownChannel),
    events: timelineView(message, events),
  }
}

/** Cancels a scheduled message; anything already on its way is a 409. */
export async function cancelMessage(deps: Deps, namespaceId: string, id: string) {
  await findMessage(deps, namespaceId, id)
  const at = now(deps)
  await deps.store.write(async (tx) => {
    const rows = await tx
      .update(messages)
      .set({ status: 'cancelled', nextAttemptAt: null, updatedAt: at })
      .where(and(eq(messages.namespaceId, namespaceId), eq(messages.id, id), eq(messages.status, 'scheduled')))
      .returning()
    if (!rows[0]) throw errors.messageNotCancellable(`message "${id}" is not scheduled`)
    await appendEvents(tx, [{ namespaceId, messageId: id, status: 'cancelled', createdAt: at }], rows)
  })
  return getMessage(deps, namespaceId, id)
}
