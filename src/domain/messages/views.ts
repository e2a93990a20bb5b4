import type { messageEvents, messages } from '../../store/schema'

export type Message = typeof messages.$inferSelect
export type MessageEvent = typeof messageEvents.$inferSelect

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

/**
 * An outbound message's recipient: an object recipient (a web push subscription) is stored as
 * its JSON, and a send refuses a string that starts with "{". An inbound message's recipient is
 * whatever the provider said (`{{customer}}`, an unfilled template) and is never parsed; nor is
 * anything that is not a JSON object.
 */
export function parseRecipient(recipient: string, direction = 'outbound'): string | Record<string, unknown> {
  if (direction !== 'outbound' || !recipient.startsWith('{')) return recipient
  try {
    const value: unknown = JSON.parse(recipient)
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : recipient
  } catch {
    return recipient
  }
}

/** The status a message had when it was created: its implicit first event. */
export const initialStatus = (m: Pick<Message, 'sendAt' | 'createdAt' | 'direction'>) =>
  m.direction === 'inbound' ? 'received' : m.sendAt !== null && m.sendAt > m.createdAt ? 'scheduled' : 'queued'

export function messageView(m: Message, channel: { name: string; type: string }) {
  return {
    id: m.id,
    direction: m.direction,
    status: m.status,
    channel: { id: m.channelId, name: channel.name, type: channel.type },
    from: m.sender,
    to: parseRecipient(m.recipient, m.direction),
    content: m.content,
    metadata: m.metadata,
    options: m.options,
    send_at: iso(m.sendAt),
    attempts: m.attempts,
    provider_message_id: m.providerMessageId,
    error: m.errorCode ? { code: m.errorCode, message: m.errorMessage } : null,
    created_at: iso(m.createdAt),
    updated_at: iso(m.updatedAt),
  }
}

export function eventView(e: MessageEvent) {
  return {
    status: e.status,
    at: iso(e.createdAt),
    attempt: e.attempt,
    provider_message_id: e.providerMessageId,
    error: e.errorCode ? { code: e.errorCode, message: e.errorMessage, class: e.errorClass } : null,
  }
}

/** The timeline: the implicit creation event, then every recorded change in order. */
export function timelineView(m: Message, events: MessageEvent[]) {
  return [
    { status: initialStatus(m), at: iso(m.createdAt), attempt: null, provider_message_id: null, error: null },
    ...events.map(eventView),
  ]
}
