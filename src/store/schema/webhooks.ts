/** Webhook endpoints, their deliveries (the outbox) and every attempt. */
import { sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import { namespaces } from './core'

/** A subscriber endpoint of a namespace: where its events are delivered, signed. */
export const webhooks = sqliteTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    /** Event types delivered; `["*"]` = all. */
    eventTypes: text('event_types', { mode: 'json' }).$type<string[]>().notNull(),
    /** Only events of these channels (ids); empty = all channels. */
    channelIds: text('channel_ids', { mode: 'json' }).$type<string[]>().notNull().default([]),
    /** Signing secrets and custom headers, sealed with the master key. */
    secretsEnc: text('secrets_enc').notNull(),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    disabledReason: text('disabled_reason'),
    /** Deliveries per second at most; null = no limit. */
    rateLimit: integer('rate_limit'),
    /** When deliveries started failing without a success since (auto-disable clock). */
    failingSince: integer('failing_since'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('webhooks_ns').on(t.namespaceId)],
)

/** One event to one endpoint: the outbox row the deliverer works from. */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    webhookId: text('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    /** The event id: the `webhook-id` header, the same on every attempt and replay. */
    eventId: text('event_id').notNull(),
    eventType: text('event_type').notNull(),
    payload: text('payload').notNull(),
    /** 'pending' | 'succeeded' | 'failed' (dead-lettered) */
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at'),
    leaseOwner: text('lease_owner'),
    leaseUntil: integer('lease_until'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('webhook_deliveries_hook').on(t.webhookId, t.id),
    // The deliverer's per-endpoint ranking reads only this endpoint's due rows.
    index('webhook_deliveries_pending')
      .on(t.webhookId, t.nextAttemptAt)
      .where(sql`status = 'pending'`),
    index('webhook_deliveries_due')
      .on(t.nextAttemptAt)
      .where(sql`status = 'pending'`),
    // Deliveries in flight per endpoint (the claim's per-endpoint cap): only leased rows are
    // read, not the endpoint's whole backlog.
    index('webhook_deliveries_leased')
      .on(t.webhookId, t.leaseUntil)
      .where(sql`status = 'pending' AND lease_until IS NOT NULL`),
  ],
)

/** Every delivery attempt: when, what came back, how long it took. */
export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    id: text('id').primaryKey(),
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    webhookId: text('webhook_id').notNull(),
    namespaceId: text('namespace_id').notNull(),
    attemptedAt: integer('attempted_at').notNull(),
    statusCode: integer('status_code'),
    latencyMs: integer('latency_ms').notNull(),
    /** The first bytes of the response body. */
    response: text('response'),
    error: text('error'),
  },
  (t) => [index('webhook_attempts_delivery').on(t.deliveryId, t.id)],
)
