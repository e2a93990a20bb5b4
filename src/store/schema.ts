/**
 * The one drizzle schema for every driver. Times are integer milliseconds since the epoch;
 * ids are prefixed, time-ordered UUIDv7 strings (see `newId`), so ordering by id is ordering
 * by creation time.
 */
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
  (t) => [uniqueIndex('idempotency_ns_key').on(t.namespaceId, t.key), index('idempotency_created').on(t.createdAt)],
)

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

/** A person: one identity across namespaces. */
export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  /** Lower-cased. */
  email: text('email').notNull().unique(),
  displayName: text('display_name').notNull().default(''),
  /** argon2id (Bun.password); null until an invitation is accepted. */
  passwordHash: text('password_hash'),
  verified: integer('verified', { mode: 'boolean' }).notNull().default(false),
  disabled: integer('disabled', { mode: 'boolean' }).notNull().default(false),
  instanceAdmin: integer('instance_admin', { mode: 'boolean' }).notNull().default(false),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

/** A user's role in a namespace: owner, admin, developer or viewer. */
export const memberships = sqliteTable(
  'memberships',
  {
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('memberships_key').on(t.namespaceId, t.userId), index('memberships_user').on(t.userId)],
)

export const invitations = sqliteTable(
  'invitations',
  {
    id: text('id').primaryKey(),
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    email: text('email').notNull(),
    role: text('role').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    invitedBy: text('invited_by'),
    expiresAt: integer('expires_at').notNull(),
    acceptedAt: integer('accepted_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('invitations_ns').on(t.namespaceId)],
)

/** A login: the refresh token (hashed) and whether it was revoked (logout). */
export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    refreshHash: text('refresh_hash').notNull().unique(),
    ip: text('ip'),
    userAgent: text('user_agent'),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('sessions_user').on(t.userId)],
)

export const passwordResets = sqliteTable('password_resets', {
  id: text('id').primaryKey(),
  userId: text('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  tokenHash: text('token_hash').notNull().unique(),
  expiresAt: integer('expires_at').notNull(),
  usedAt: integer('used_at'),
  createdAt: integer('created_at').notNull(),
})

/** OAuth2 client credentials of an application (client_credentials grant). */
export const oauthClients = sqliteTable(
  'oauth_clients',
  {
    /** The client_id. */
    id: text('id').primaryKey(),
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    applicationId: text('application_id')
      .notNull()
      .references(() => applications.id, { onDelete: 'cascade' }),
    name: text('name').notNull().default(''),
    /** SHA-256 of the client secret (192 random bits, so a fast hash is enough). */
    secretHash: text('secret_hash').notNull(),
    scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull(),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('oauth_clients_app').on(t.applicationId)],
)

/** Token signing keys (JWKS): the private half sealed with the master key. */
export const signingKeys = sqliteTable('signing_keys', {
  /** The `kid`. */
  id: text('id').primaryKey(),
  alg: text('alg').notNull(),
  publicJwk: text('public_jwk', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  privateEnc: text('private_enc').notNull(),
  /** 'active' (signs) | 'retiring' (verifies until retire_at) */
  status: text('status').notNull(),
  retireAt: integer('retire_at'),
  createdAt: integer('created_at').notNull(),
})

/** Who did what to which resource, when, from where. */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: text('id').primaryKey(),
    /** Null for instance-level actions. */
    namespaceId: text('namespace_id'),
    /** 'user' | 'application' | 'system' */
    actorType: text('actor_type').notNull(),
    actorId: text('actor_id'),
    action: text('action').notNull(),
    resourceType: text('resource_type').notNull(),
    resourceId: text('resource_id'),
    ip: text('ip'),
    detail: text('detail', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default({}),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('audit_ns').on(t.namespaceId, t.id)],
)

/** Messages accepted per namespace and period (`day:2026-11-25`, `month:2026-11`): quotas. */
export const usageCounters = sqliteTable(
  'usage_counters',
  {
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    period: text('period').notNull(),
    messages: integer('messages').notNull().default(0),
  },
  (t) => [uniqueIndex('usage_counters_key').on(t.namespaceId, t.period)],
)

/**
 * Message counts kept incrementally, in the same transaction as each status change: per
 * namespace, bucket (UTC start, ms), granularity, channel, application, direction and status.
 */
export const messageRollups = sqliteTable(
  'message_rollups',
  {
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    /** 'minute' | 'hour' */
    granularity: text('granularity').notNull(),
    bucketStart: integer('bucket_start').notNull(),
    channelId: text('channel_id').notNull(),
    /** '' when the message has no application (inbound, CLI). */
    applicationId: text('application_id').notNull().default(''),
    direction: text('direction').notNull(),
    status: text('status').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [
    uniqueIndex('message_rollups_key').on(t.namespaceId, t.granularity, t.bucketStart, t.channelId, t.applicationId, t.direction, t.status),
  ],
)

/** Latency histograms per hour: accepted → sent and sent → delivered, in log-scale buckets. */
export const latencyRollups = sqliteTable(
  'latency_rollups',
  {
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    bucketStart: integer('bucket_start').notNull(),
    channelId: text('channel_id').notNull(),
    /** 'accept_to_sent' | 'sent_to_delivered' */
    kind: text('kind').notNull(),
    /** Upper bound of the latency bucket in ms. */
    le: integer('le').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [uniqueIndex('latency_rollups_key').on(t.namespaceId, t.bucketStart, t.channelId, t.kind, t.le)],
)

/** Failure reasons per hour: provider error codes with counts. */
export const failureRollups = sqliteTable(
  'failure_rollups',
  {
    namespaceId: text('namespace_id')
      .notNull()
      .references(() => namespaces.id, { onDelete: 'cascade' }),
    bucketStart: integer('bucket_start').notNull(),
    channelId: text('channel_id').notNull(),
    errorCode: text('error_code').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [uniqueIndex('failure_rollups_key').on(t.namespaceId, t.bucketStart, t.channelId, t.errorCode)],
)

/** Tenant provisioning as a durable job: each step idempotent, resumable after a crash. */
export const provisioningJobs = sqliteTable(
  'provisioning_jobs',
  {
    id: text('id').primaryKey(),
    namespaceId: text('namespace_id'),
    /** The slug asked for (the namespace may not exist yet). */
    slug: text('slug').notNull(),
    userId: text('user_id'),
    plan: text('plan'),
    /** The last step done; the job resumes after it. */
    step: text('step').notNull(),
    /** 'pending' | 'done' | 'failed' */
    status: text('status').notNull(),
    /** Sealed: what later steps need and what the result must show once (the API key). */
    stateEnc: text('state_enc'),
    error: text('error'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at'),
    leaseOwner: text('lease_owner'),
    leaseUntil: integer('lease_until'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('provisioning_jobs_due').on(t.status, t.nextAttemptAt), index('provisioning_jobs_slug').on(t.slug)],
)

/** One-time e-mail verification links of self-service signup. */
export const emailVerifications = sqliteTable('email_verifications', {
  id: text('id').primaryKey(),
  userId: text('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  tokenHash: text('token_hash').notNull().unique(),
  /** The namespace slug and plan asked for at signup. */
  request: text('request', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default({}),
  expiresAt: integer('expires_at').notNull(),
  usedAt: integer('used_at'),
  createdAt: integer('created_at').notNull(),
})

/** Scheduled jobs: a lease so each run happens on one instance, and the last run's outcome. */
export const jobRuns = sqliteTable('job_runs', {
  name: text('name').primaryKey(),
  leaseOwner: text('lease_owner'),
  leaseUntil: integer('lease_until'),
  lastStartedAt: integer('last_started_at'),
  lastFinishedAt: integer('last_finished_at'),
  /** 'ok' | 'error' */
  lastStatus: text('last_status'),
  lastError: text('last_error'),
})
