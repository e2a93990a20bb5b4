/** The `[webhooks]` section (delivery to subscribers) and `[[namespaces.webhooks]]` declarations. */
import { z } from 'zod'

const int = () => z.int()

// Standard Webhooks' schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
export const DEFAULT_RETRY_SCHEDULE_MS = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]
// 15 s: what the webhook services wait for a receiver before counting a timeout.
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 15_000
// 5 days of nothing but failures: the endpoint is dead or misconfigured.
export const DEFAULT_DISABLE_AFTER_HOURS = 120
// Parallel deliveries per endpoint: at 100 ms a response, 64 carry 640 events/s to one receiver
// (16 carried 160: less than three events a message of one busy channel, and held even a local
// receiver to 3.4k/s in the 2-core benchmark, where 64 gives 5.8k); `rate_limit` protects a
// fragile receiver.
export const DEFAULT_PER_ENDPOINT_CONCURRENCY = 64
// Deliveries in flight across all endpoints: four endpoints at their cap.
export const DEFAULT_WEBHOOK_CONCURRENCY = 256

export const webhooksSchema = z.strictObject({
  retry_schedule_ms: z.array(int().min(0)).min(1).max(50).default(DEFAULT_RETRY_SCHEDULE_MS),
  timeout_ms: int().min(100).max(120_000).default(DEFAULT_WEBHOOK_TIMEOUT_MS),
  disable_after_hours: int().min(1).default(DEFAULT_DISABLE_AFTER_HOURS),
  per_endpoint_concurrency: int().min(1).max(100).default(DEFAULT_PER_ENDPOINT_CONCURRENCY),
  concurrency: int().min(1).max(1000).default(DEFAULT_WEBHOOK_CONCURRENCY),
})

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** Headers the gateway sets or the HTTP framing owns: a custom header may not replace them. */
export const RESERVED_WEBHOOK_HEADER = /^(host|content-length|content-type|transfer-encoding|connection|user-agent|webhook-.*)$/i

/** An endpoint's custom headers, as the API and the config take them. */
export const webhookHeadersSchema = z.record(
  z
    .string()
    .regex(HEADER_NAME, 'must be a valid HTTP header name')
    .refine((h) => !RESERVED_WEBHOOK_HEADER.test(h), 'is set by the gateway'),
  z.string().regex(/^[\t\x20-\x7e]*$/, 'must be printable text'),
)

/** Whether a stored custom header may go out: one the gateway sets never does (stored before they were checked). */
export const sendableWebhookHeader = (name: string) => HEADER_NAME.test(name) && !RESERVED_WEBHOOK_HEADER.test(name)

export const declaredWebhookSchema = z.strictObject({
  url: z.string().min(1),
  description: z.string().optional(),
  event_types: z.array(z.string()).optional(),
  /** Channel names: only their events. */
  channels: z.array(z.string()).optional(),
  headers: webhookHeadersSchema.optional(),
  /** A `whsec_…` secret from the environment, so receivers keep working across rebuilds. */
  secret: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, 'must be whsec_ followed by at least 24 base64 bytes')
    .optional(),
})
