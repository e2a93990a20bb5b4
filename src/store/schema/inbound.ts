/** Suppressions and status reports waiting for their send. */
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'
import { channels, namespaces } from './core'

/**
 * Recipients that must not be sent to on a type of channel in a namespace: hard bounces,
 * complaints and opt-outs. Keyed by channel type so an SMS STOP does not silence e-mail.
 */
export const suppressions = sqliteTable(
  'suppressions',
  {
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    channelType: text('channel_type').notNull(),
    recipient: text('recipient').notNull(),
    /** 'bounce' | 'complaint' | 'opt-out' | 'manual' */
    reason: text('reason').notNull(),
    detail: text('detail').notNull().default(''),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('suppressions_key').on(t.namespaceId, t.channelType, t.recipient)],
)

/**
 * Status callbacks that arrived before the send that caused them was recorded (a provider can
 * call back before its own API answer reaches us). Applied when the provider id is recorded.
 */
export const pendingStatuses = sqliteTable(
  'pending_statuses',
  {
    id: text('id').primaryKey(),
    channelId: text('channel_id')
      .notNull()
      .references(() => channels.id, { onDelete: 'cascade' }),
    providerMessageId: text('provider_message_id').notNull(),
    status: text('status').notNull(),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    occurredAt: integer('occurred_at').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('pending_statuses_provider').on(t.channelId, t.providerMessageId), index('pending_statuses_created').on(t.createdAt)],
)
