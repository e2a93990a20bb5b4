/** Namespaces, applications and API keys, channels, terminals, messages and their events. */
import { sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

export const namespaces = sqliteTable('namespaces', {
  id: text('id').primaryKey(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  /** 'active' | 'disabled' */
  status: text('status').notNull().default('active'),
  settings: text('settings', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default({}),
  /** The plan it was provisioned with (quotas and limits come from it). */
  plan: text('plan'),
  /** When it was disabled for deletion, and when its data is purged. */
  disabledAt: integer('disabled_at'),
  purgeAfter: integer('purge_after'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

export const applications = sqliteTable(
  'applications',
  {
    id: text('id').primaryKey(),
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    /** API requests per second at most; null = the namespace's limit only. */
    rateLimit: integer('rate_limit'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('applications_ns_name').on(t.namespaceId, t.name)],
)

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    applicationId: text('application_id')
      .notNull()
      .references(() => applications.id, { onDelete: 'cascade' }),
    name: text('name').notNull().default(''),
    /**
     * The first characters of the key after `og_live_`: how a key is found without its secret.
     * Not unique: operator-chosen keys (config) may share a prefix; the hash decides.
     */
    lookup: text('lookup').notNull(),
    /** SHA-256 of the whole key, hex. Keys are 190 random bits, so a fast hash is enough. */
    hash: text('hash').notNull(),
    scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull(),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
    lastUsedAt: integer('last_used_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('api_keys_app').on(t.applicationId), index('api_keys_lookup').on(t.lookup)],
)

export const channels = sqliteTable(
  'channels',
  {
    id: text('id').primaryKey(),
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    type: text('type').notNull(),
    /** The connector config (credentials and settings), AES-256-GCM under the master key. */
    configEnc: text('config_enc').notNull(),
    /** 'active' | 'paused' | 'failing' */
    status: text('status').notNull().default('active'),
    maxAttempts: integer('max_attempts'),
    maxAgeSeconds: integer('max_age_seconds'),
    /** Messages per second the dispatcher sends at most through this channel; null = no limit. */
    rateLimit: integer('rate_limit'),
    /** Channel health: the last provider error seen, and when. */
    lastErrorCode: text('last_error_code'),
    lastErrorMessage: text('last_error_message'),
    lastErrorAt: integer('last_error_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('channels_ns_name').on(t.namespaceId, t.name)],
)

export const terminals = sqliteTable(
  'terminals',
  {
    id: text('id').primaryKey(),
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    channelId: text('channel_id')
      .notNull()
      .references(() => channels.id, { onDelete: 'cascade' }),
    address: text('address').notNull(),
    name: text('name').notNull().default(''),
    isDefault: integer('is_default', { mode: 'boolean' }).notNull().default(false),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('terminals_channel_address').on(t.channelId, t.address)],
)

export type MessageContent = {
  text?: string
  html?: string
  subject?: string
  attachments?: { filename: string; content_type?: string; url?: string; content_base64?: string }[]
}

export const messages = sqliteTable(
  'messages',
  {
    id: text('id').primaryKey(),
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    channelId: text('channel_id')
      .notNull()
      .references(() => channels.id),
    terminalId: text('terminal_id').references(() => terminals.id, { onDelete: 'set null' }),
    applicationId: text('application_id'),
    /** 'outbound' | 'inbound' */
    direction: text('direction').notNull(),
    status: text('status').notNull(),
    sender: text('sender'),
    /** A string address, or JSON text for object recipients (a push subscription). */
    recipient: text('recipient').notNull(),
    content: text('content', { mode: 'json' }).$type<MessageContent>().notNull(),
    metadata: text('metadata', { mode: 'json' }).$type<Record<string, string>>().notNull().default({}),
    options: text('options', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default({}),
    sendAt: integer('send_at'),
    /** When the dispatcher may next claim this message; null once it is final. */
    nextAttemptAt: integer('next_attempt_at'),
    attempts: integer('attempts').notNull().default(0),
    leaseOwner: text('lease_owner'),
    leaseUntil: integer('lease_until'),
    providerMessageId: text('provider_message_id'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('messages_ns_id').on(t.namespaceId, t.id),
    index('messages_ns_created').on(t.namespaceId, t.createdAt),
    // Status callbacks find their outbound message by the provider's id.
    index('messages_provider_id')
      .on(t.channelId, t.providerMessageId)
      .where(sql`provider_message_id IS NOT NULL`),
    // Only unfinished work is indexed for the dispatcher's claim, so the index stays small.
    index('messages_due')
      .on(t.nextAttemptAt)
      .where(sql`next_attempt_at IS NOT NULL`),
  ],
)

export const messageEvents = sqliteTable(
  'message_events',
  {
    id: text('id').primaryKey(),
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    status: text('status').notNull(),
    attempt: integer('attempt'),
    providerMessageId: text('provider_message_id'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    /** 'transient' | 'permanent' | 'rate-limited' when the event is an error */
    errorClass: text('error_class'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('message_events_message').on(t.messageId, t.id)],
)

export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    responseStatus: integer('response_status').notNull(),
    responseBody: text('response_body').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  // No index on created_at: the cleanup deletes in insertion order (pruneIdempotencyKeys).
  (t) => [uniqueIndex('idempotency_ns_key').on(t.namespaceId, t.key)],
)
