/** Analytics rollups, provisioning jobs, e-mail verifications and job leases. */
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import { namespaces } from './core'
import { users } from './identity'

/**
 * Message counts kept incrementally, in the same transaction as each status change: per
 * namespace, bucket (UTC start, ms), granularity, channel, application, direction and status.
 *
 * The three rollup tables are `WITHOUT ROWID` (migration 0007, written by hand: drizzle cannot
 * say it): the rollup key is the primary key and the rows live in its B-tree, so a range read
 * gets `count` without a second lookup per row (figures in docs/operations/analytics.md). They
 * have no `rowid`: batch them by their key.
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
    primaryKey({
      name: 'message_rollups_pk',
      columns: [t.namespaceId, t.granularity, t.bucketStart, t.channelId, t.applicationId, t.direction, t.status],
    }),
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
  // Channel before hour: the analytics query reads one channel's histogram (or the namespace's,
  // channel `*`) over a range of hours, a seventh of the rows with six channels.
  (t) => [primaryKey({ name: 'latency_rollups_pk', columns: [t.namespaceId, t.channelId, t.bucketStart, t.kind, t.le] })],
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
  (t) => [primaryKey({ name: 'failure_rollups_pk', columns: [t.namespaceId, t.bucketStart, t.channelId, t.errorCode] })],
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
