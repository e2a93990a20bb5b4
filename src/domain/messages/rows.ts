/**
 * Hot-path writes of messages, their events and webhook deliveries in hand-written SQL
 * (src/store/raw.ts says why). The column lists follow src/store/schema/core.ts and webhooks.ts;
 * test/store/raw-rows.test.ts reads every row back through drizzle to keep them in step.
 */
import { insertRows, type Param } from '../../store/raw'
import type { webhookDeliveries } from '../../store/schema'
import type { Db } from '../../store/store'
import type { Message } from './views'
import type { NewMessageEvent } from './events'

const MESSAGE_HEAD =
  'INSERT INTO messages (id, namespace_id, channel_id, terminal_id, application_id, direction, status, sender, recipient, ' +
  'content, metadata, options, send_at, next_attempt_at, attempts, lease_owner, lease_until, provider_message_id, ' +
  'error_code, error_message, created_at, updated_at)'

const messageValues = (m: Message): Param[] => [
  m.id,
  m.namespaceId,
  m.channelId,
  m.terminalId,
  m.applicationId,
  m.direction,
  m.status,
  m.sender,
  m.recipient,
  JSON.stringify(m.content),
  JSON.stringify(m.metadata ?? {}),
  JSON.stringify(m.options ?? {}),
  m.sendAt,
  m.nextAttemptAt,
  m.attempts,
  m.leaseOwner,
  m.leaseUntil,
  m.providerMessageId,
  m.errorCode,
  m.errorMessage,
  m.createdAt,
  m.updatedAt,
]

export function insertMessages(tx: Db, rows: readonly Message[]): Promise<void> {
  return insertRows(tx, MESSAGE_HEAD, 22, rows, messageValues)
}

const EVENT_HEAD =
  'INSERT INTO message_events (id, namespace_id, message_id, status, attempt, provider_message_id, error_code, error_message, error_class, created_at)'

export type EventRow = NewMessageEvent & { id: string }

const eventValues = (e: EventRow): Param[] => [
  e.id,
  e.namespaceId,
  e.messageId,
  e.status,
  e.attempt ?? null,
  e.providerMessageId ?? null,
  e.errorCode ?? null,
  e.errorMessage ?? null,
  e.errorClass ?? null,
  e.createdAt,
]

export function insertEvents(tx: Db, rows: readonly EventRow[]): Promise<void> {
  return insertRows(tx, EVENT_HEAD, 10, rows, eventValues)
}

const DELIVERY_HEAD =
  'INSERT INTO webhook_deliveries (id, namespace_id, webhook_id, event_id, event_type, payload, status, attempts, ' +
  'next_attempt_at, lease_owner, lease_until, last_status_code, last_error, created_at, updated_at)'

type DeliveryRow = typeof webhookDeliveries.$inferInsert

const deliveryValues = (d: DeliveryRow): Param[] => [
  d.id,
  d.namespaceId,
  d.webhookId,
  d.eventId,
  d.eventType,
  d.payload,
  d.status,
  d.attempts ?? 0,
  d.nextAttemptAt ?? null,
  d.leaseOwner ?? null,
  d.leaseUntil ?? null,
  d.lastStatusCode ?? null,
  d.lastError ?? null,
  d.createdAt,
  d.updatedAt,
]

export function insertDeliveries(tx: Db, rows: readonly DeliveryRow[]): Promise<void> {
  return insertRows(tx, DELIVERY_HEAD, 15, rows, deliveryValues)
}

/** Every column of `messages`, for `SELECT … ` and `RETURNING …` read by messageFromRow. */
export const MESSAGE_COLUMNS =
  'id, namespace_id, channel_id, terminal_id, application_id, direction, status, sender, recipient, content, metadata, options, ' +
  'send_at, next_attempt_at, attempts, lease_owner, lease_until, provider_message_id, error_code, error_message, created_at, updated_at'

export interface MessageRow {
  id: string
  namespace_id: string
  channel_id: string
  terminal_id: string | null
  application_id: string | null
  direction: string
  status: string
  sender: string | null
  recipient: string
  content: string
  metadata: string
  options: string
  send_at: number | null
  next_attempt_at: number | null
  attempts: number
  lease_owner: string | null
  lease_until: number | null
  provider_message_id: string | null
  error_code: string | null
  error_message: string | null
  created_at: number
  updated_at: number
}

/** A `messages` row as drizzle would map it. */
export function messageFromRow(r: MessageRow): Message {
  return {
    id: r.id,
    namespaceId: r.namespace_id,
    channelId: r.channel_id,
    terminalId: r.terminal_id,
    applicationId: r.application_id,
    direction: r.direction,
    status: r.status,
    sender: r.sender,
    recipient: r.recipient,
    content: JSON.parse(r.content),
    metadata: JSON.parse(r.metadata),
    options: JSON.parse(r.options),
    sendAt: r.send_at,
    nextAttemptAt: r.next_attempt_at,
    attempts: r.attempts,
    leaseOwner: r.lease_owner,
    leaseUntil: r.lease_until,
    providerMessageId: r.provider_message_id,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}
