/** People, sessions, OAuth clients, signing keys, the audit log and usage counters. */
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'
import { applications, namespaces } from './core'

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
    /** The refresh token this one replaced, and when: a rotated token presented again is reuse. */
    previousRefreshHash: text('previous_refresh_hash'),
    rotatedAt: integer('rotated_at'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('sessions_user').on(t.userId), index('sessions_previous_refresh').on(t.previousRefreshHash)],
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
