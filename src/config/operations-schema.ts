/** Config sections for operations and provisioning: `[metrics]`, `[retention]`, `[signup]`, `[[plans]]`. */
import { z } from 'zod'

const int = () => z.int()

// 90 days of message content; metadata, events and rollups outlive it.
export const DEFAULT_MESSAGE_DAYS = 90
// A year of message events (the timelines); rollups keep the counts forever.
export const DEFAULT_EVENT_DAYS = 365
// A deleted namespace can be restored (or exported) for a week before its data is purged.
export const DEFAULT_PURGE_GRACE_DAYS = 7

// At most a century: a larger number is a typo, and `days × 86 400 000` must stay a safe integer.
export const MAX_RETENTION_DAYS = 36_500

export const metricsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** When set, /metrics requires `Authorization: Bearer <token>`. */
  token: z.string().min(16, 'must be at least 16 characters').optional(),
})

export const retentionSchema = z.strictObject({
  /** Days after which a message's content is purged (metadata and rollups kept); 0 = keep. */
  message_days: int().min(0).max(MAX_RETENTION_DAYS).default(DEFAULT_MESSAGE_DAYS),
  /** Days after which message events are deleted; 0 = keep. */
  event_days: int().min(0).max(MAX_RETENTION_DAYS).default(DEFAULT_EVENT_DAYS),
  /** Days between deleting a namespace and purging its data. */
  purge_grace_days: int().min(0).default(DEFAULT_PURGE_GRACE_DAYS),
})

/**
 * A namespace's own retention, over the `[retention]` defaults: `[[namespaces]] retention = {
 * message_days = 30 }` in the config, or `PUT /v1/namespaces/{ns}/retention` (instance admins).
 * A key left out follows the default; 0 = keep forever.
 */
export const namespaceRetentionSchema = z.strictObject({
  message_days: int().min(0).max(MAX_RETENTION_DAYS).optional(),
  event_days: int().min(0).max(MAX_RETENTION_DAYS).optional(),
})
export type NamespaceRetention = z.infer<typeof namespaceRetentionSchema>

export const signupSchema = z.strictObject({
  /** Self-service signup (POST /v1/auth/signup); off by default. */
  enabled: z.boolean().default(false),
  /** Only these e-mail domains may sign up; empty = any (but disposable domains are refused). */
  allowed_domains: z.array(z.string().min(1)).default([]),
  /** Signup only with an invitation. */
  invite_only: z.boolean().default(false),
  /** The plan a new namespace gets. */
  default_plan: z.string().default('free'),
})

export const planSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes'),
  messages_per_day: int().min(0).default(0),
  messages_per_month: int().min(0).default(0),
  requests_per_second: int().min(0).default(0),
})

/** Built in when the config declares no plans. */
export const DEFAULT_PLANS = [
  { name: 'free', messages_per_day: 1000, messages_per_month: 10000, requests_per_second: 20 },
  { name: 'pro', messages_per_day: 0, messages_per_month: 0, requests_per_second: 200 },
]
