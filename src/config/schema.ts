import { isIP } from '../lib/ip'
import { z } from 'zod'
import { adminSchema, limitsSchema, mailSchema, namespaceQuotasSchema, tokenSettings } from './identity-schema'
import { DEFAULT_PLANS, metricsSchema, namespaceRetentionSchema, planSchema, retentionSchema, signupSchema } from './operations-schema'
import { declaredWebhookSchema, webhooksSchema } from './webhooks-schema'
import { API_KEY_MIN_SECRET_CHARS, API_KEY_PREFIX, isWellFormedApiKey, SLUG_PATTERN } from '../lib/formats'

// Loopback by default: exposing the gateway to a network is a decision, not an accident.
export const DEFAULT_LISTEN = '127.0.0.1:8080'
// 16 MiB: above 10 MB of attachments once base64'd (×4/3) plus the JSON around them.
export const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024 * 1024
// A local SQLite file next to the binary: zero setup for a single instance.
export const DEFAULT_DATABASE_URL = 'file:./data/omnigate.db'
// NORMAL in WAL mode is durable across process crashes and much faster than FULL.
export const DEFAULT_SYNCHRONOUS = 'NORMAL'
// 5 s: rides out a checkpoint or a CLI command holding the write lock.
export const DEFAULT_BUSY_TIMEOUT_MS = 5000
// Parallel provider calls: at 200 ms a provider answer, 256 carry ~1,250 messages/s per instance
// (64 carried 300, and left even a local sink waiting on the event loop: 6.0k → 7.7k msg/s in
// the 2-core benchmark); a provider's own limit is a channel's rate_limit.
export const DEFAULT_CONCURRENCY = 256
// One claim query per 100 messages keeps the database round-trips negligible.
export const DEFAULT_BATCH_SIZE = 100
// 250 ms: a new message starts within a quarter second while an idle poll costs almost nothing.
export const DEFAULT_POLL_INTERVAL_MS = 250
// 30 s: longer than the slowest provider timeout, so a lease never expires mid-send.
export const DEFAULT_LEASE_MS = 30_000
// 8 attempts with exponential backoff span roughly four hours of provider outage.
export const DEFAULT_MAX_ATTEMPTS = 8
// A day: a notification older than that is usually worse than none.
export const DEFAULT_MAX_AGE_SECONDS = 86_400
// 2 s: the first retry comes quickly, after a transient blip has usually passed.
export const DEFAULT_BACKOFF_BASE_MS = 2000
// An hour: caps the wait so a recovered provider is retried within the hour.
export const DEFAULT_BACKOFF_MAX_MS = 3_600_000
// 15 s: generous for an HTTP API call, still half the lease.
export const DEFAULT_SEND_TIMEOUT_MS = 15_000
// 10 s: lets in-flight sends finish but stays under typical orchestrator kill deadlines.
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000
// 10 MiB: what most e-mail and chat providers accept per message.
export const DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
// 1000 per batch request keeps one request's transaction short.
export const DEFAULT_MAX_BATCH = 1000

export { API_KEY_PREFIX, SLUG_PATTERN } from '../lib/formats'
// 24 characters of base62 is ~143 bits: not guessable, whoever generated it.
const DATABASE_SCHEMES = ['file:', 'libsql:', 'http:', 'https:', 'ws:', 'wss:']

/** Splits `HOST:PORT` (IPv6 as `[::1]:8080`); null when malformed or the port is out of range. */
export function parseListen(listen: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(listen)
  if (!m) return null
  const port = Number(m[3])
  if (port > 65535) return null
  if (m[1] !== undefined && isIP(m[1].replace(/%.*$/, '')) !== 6) return null
  return { host: m[1] ?? m[2], port }
}

/** The base URL clients reach this instance at, without a trailing slash. */
export function publicUrl(config: Pick<Config, 'server'>): string {
  const { public_url, listen } = config.server
  if (public_url !== '') return public_url.replace(/\/+$/, '')
  const parsed = parseListen(listen)
  if (!parsed) throw new Error(`server.listen: invalid address "${listen}"`)
  const host = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host
  return `http://${host}:${parsed.port}`
}

/**
 * What to say at start-up about the base URL, when it is derived from a wildcard listen address
 * (the Docker image's 0.0.0.0:8080): providers' status callbacks, unsubscribe links and mailed
 * links would point at http://0.0.0.0:… and never arrive. Null when there is nothing to say.
 */
export function publicUrlWarning(config: Pick<Config, 'server'>): string | null {
  if (config.server.public_url !== '') return null
  const host = parseListen(config.server.listen)?.host
  if (host !== '0.0.0.0' && host !== '::') return null
  return `server.public_url is not set, so the gateway's own URL is ${publicUrl(config)} (from server.listen): provider callbacks, unsubscribe and mailed links will not reach it; set server.public_url to the URL clients and providers use`
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}

function isIpOrCidr(value: string): boolean {
  const [address, bits, extra] = value.split('/')
  const version = isIP(address)
  if (version === 0 || extra !== undefined) return false
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128))
}

function isBase64Key32(value: string): boolean {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value) || value.length % 4 !== 0) return false
  return Buffer.from(value, 'base64').length === 32
}

/** Adds an issue at `[index, key]` for every item repeating an earlier item's `key`. */
function uniqueBy<T, K extends keyof T & string>(key: K, what: string) {
  return (items: T[], ctx: z.RefinementCtx<T[]>) => {
    const firstIndex = new Map<unknown, number>()
    items.forEach((item, index) => {
      const first = firstIndex.get(item[key])
      if (first === undefined) firstIndex.set(item[key], index)
      else {
        const message = `duplicate ${what} "${String(item[key])}" (first at index ${first})`
        ctx.addIssue({ code: 'custom', path: [index, key], message })
      }
    })
  }
}

const int = () => z.int()
const slug = (what: string) =>
  z.string().regex(SLUG_PATTERN, `${what} must be 1-63 characters of a-z, 0-9 and "-", starting with a letter or digit`)

const serverSchema = z.strictObject({
  listen: z
    .string()
    .refine((v) => parseListen(v) !== null, 'must be HOST:PORT with a port 0-65535 (IPv6 as [::1]:8080)')
    .default(DEFAULT_LISTEN),
  public_url: z
    .string()
    .refine((v) => v === '' || isHttpUrl(v), 'must be an http(s) URL, or "" to derive it from server.listen')
    .default(''),
  body_limit_bytes: int().positive().default(DEFAULT_BODY_LIMIT_BYTES),
  trusted_proxies: z.array(z.string().refine(isIpOrCidr, 'must be an IP address or CIDR range')).prefault([]),
})

const databaseSchema = z.strictObject({
  url: z
    .string()
    .refine(
      (v) => v === ':memory:' || DATABASE_SCHEMES.some((s) => v.startsWith(s)),
      `must start with ${DATABASE_SCHEMES.join(', ')} or be ":memory:"`,
    )
    .default(DEFAULT_DATABASE_URL),
  synchronous: z.enum(['NORMAL', 'FULL']).default(DEFAULT_SYNCHRONOUS),
  busy_timeout_ms: int().min(0).default(DEFAULT_BUSY_TIMEOUT_MS),
  /** SQLite's page cache of the writer connection (`PRAGMA cache_size`), MiB; filled only as pages are read. */
  cache_mb: int().min(1).max(4096).default(32),
  auth_token: z.string().optional(),
  /** A remote libSQL server's time to answer one HTTP request; past it the write fails (and frees the store). */
  request_timeout_ms: int().min(100).default(30_000),
  auto_migrate: z.boolean().default(true),
})

const securitySchema = z.strictObject({
  master_key: z
    .string()
    .refine(isBase64Key32, 'must be base64 decoding to exactly 32 bytes (generate one with: openssl rand -base64 32)')
    .optional(),
  allow_private_network: z.boolean().default(false),
  ...tokenSettings,
})

const engineSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    concurrency: int().min(1).max(1000).default(DEFAULT_CONCURRENCY),
    batch_size: int().min(1).max(1000).default(DEFAULT_BATCH_SIZE),
    poll_interval_ms: int().min(10).default(DEFAULT_POLL_INTERVAL_MS),
    lease_ms: int().min(1000).default(DEFAULT_LEASE_MS),
    max_attempts: int().min(1).default(DEFAULT_MAX_ATTEMPTS),
    max_age_seconds: int().min(1).default(DEFAULT_MAX_AGE_SECONDS),
    backoff_base_ms: int().min(1).default(DEFAULT_BACKOFF_BASE_MS),
    backoff_max_ms: int().min(1).default(DEFAULT_BACKOFF_MAX_MS),
    send_timeout_ms: int().min(100).default(DEFAULT_SEND_TIMEOUT_MS),
    shutdown_timeout_ms: int().min(0).default(DEFAULT_SHUTDOWN_TIMEOUT_MS),
  })
  .superRefine((engine, ctx) => {
    if (engine.backoff_max_ms < engine.backoff_base_ms) {
      ctx.addIssue({
        code: 'custom',
        path: ['backoff_max_ms'],
        message: `engine.backoff_max_ms (${engine.backoff_max_ms}) must be >= engine.backoff_base_ms (${engine.backoff_base_ms})`,
      })
    }
    // A lease that can run out mid-send lets a second instance send the same message again.
    if (engine.lease_ms <= engine.send_timeout_ms) {
      ctx.addIssue({
        code: 'custom',
        path: ['lease_ms'],
        message: `engine.lease_ms (${engine.lease_ms}) must be longer than engine.send_timeout_ms (${engine.send_timeout_ms})`,
      })
    }
  })

const messagesSchema = z.strictObject({
  max_attachment_bytes: int().positive().default(DEFAULT_MAX_ATTACHMENT_BYTES),
  max_batch: int().min(1).max(10_000).default(DEFAULT_MAX_BATCH),
})

// Loopback and an unprivileged port: receiving mail from the internet (port 25) is a decision.
export const DEFAULT_SMTP_LISTEN = '127.0.0.1:2525'
// 25 MiB: what the large mailbox providers accept per message.
export const DEFAULT_SMTP_MAX_MESSAGE_BYTES = 26_214_400

const smtpUserSchema = z.strictObject({ username: z.string().min(1), password: z.string().min(1) })

/** `[smtp]`: the built-in SMTP listener for inbound mail, bounces and complaints. */
const smtpSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    listen: z
      .string()
      .refine((v) => parseListen(v) !== null, 'must be HOST:PORT with a port 0-65535 (IPv6 as [::1]:2525)')
      .default(DEFAULT_SMTP_LISTEN),
    max_message_bytes: int().positive().default(DEFAULT_SMTP_MAX_MESSAGE_BYTES),
    /** The name in the greeting and EHLO reply; "" = this machine's host name. */
    hostname: z
      .string()
      .regex(/^$|^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'must be a host name')
      .default(''),
    auth_required: z.boolean().default(false),
    users: z.array(smtpUserSchema).superRefine(uniqueBy('username', 'smtp user')).prefault([]),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    tls_cert_file: z.string().min(1).optional(),
    tls_key_file: z.string().min(1).optional(),
  })
  .superRefine((smtp, ctx) => {
    const issue = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: [key], message })
    if ((smtp.tls_cert_file === undefined) !== (smtp.tls_key_file === undefined)) {
      issue(smtp.tls_cert_file === undefined ? 'tls_cert_file' : 'tls_key_file', 'smtp.tls_cert_file and smtp.tls_key_file must be set together')
    }
    if ((smtp.username === undefined) !== (smtp.password === undefined)) {
      issue(smtp.username === undefined ? 'username' : 'password', 'smtp.username and smtp.password must be set together')
    }
    if (smtp.auth_required && smtp.users.length === 0 && smtp.username === undefined) {
      issue('auth_required', 'smtp.auth_required needs smtp.users or smtp.username and smtp.password')
    }
  })

/** `[portal]`: the admin web UI at /portal (src/portal/). */
const portalSchema = z.strictObject({
  // On by default: most people meet the gateway through its portal.
  enabled: z.boolean().default(true),
})

const logSchema = z.strictObject({
  level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  format: z.enum(['text', 'json']).default('text'),
})

const terminalSchema = z.strictObject({
  address: z.string().min(1),
  name: z.string().optional(),
  default: z.boolean().optional(),
})

const channelSchema = z.strictObject({
  name: slug('channel name'),
  type: z.string().min(1),
  config: z.record(z.string(), z.unknown()).prefault({}),
  max_attempts: int().min(1).optional(),
  max_age_seconds: int().min(1).optional(),
  terminals: z.array(terminalSchema).prefault([]),
})

const apiKeySchema = z.strictObject({
  key: z
    .string()
    .refine(
      isWellFormedApiKey,
      `must start with "${API_KEY_PREFIX}" followed by ${API_KEY_MIN_SECRET_CHARS} to 120 characters`,
    ),
  name: z.string().optional(),
  scopes: z.array(z.string()).optional(),
})

const applicationSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  api_keys: z.array(apiKeySchema).prefault([]),
})

const namespaceSchema = z.strictObject({
  slug: slug('slug'),
  name: z.string().optional(),
  channels: z.array(channelSchema).superRefine(uniqueBy('name', 'channel name')).prefault([]),
  applications: z.array(applicationSchema).superRefine(uniqueBy('name', 'application name')).prefault([]),
  webhooks: z.array(declaredWebhookSchema).superRefine(uniqueBy('url', 'webhook url')).prefault([]),
  quotas: namespaceQuotasSchema.optional(),
  retention: namespaceRetentionSchema.optional(),
})

/** The whole configuration file; every section is optional and filled with defaults. */
export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  database: databaseSchema.prefault({}),
  security: securitySchema.prefault({}),
  engine: engineSchema.prefault({}),
  messages: messagesSchema.prefault({}),
  log: logSchema.prefault({}),
  smtp: smtpSchema.prefault({}),
  webhooks: webhooksSchema.prefault({}),
  admin: adminSchema.prefault({}),
  mail: mailSchema.prefault({}),
  limits: limitsSchema.prefault({}),
  metrics: metricsSchema.prefault({}),
  retention: retentionSchema.prefault({}),
  signup: signupSchema.prefault({}),
  portal: portalSchema.prefault({}),
  plans: z.array(planSchema).superRefine(uniqueBy('name', 'plan name')).default(DEFAULT_PLANS),
  namespaces: z.array(namespaceSchema).superRefine(uniqueBy('slug', 'namespace slug')).prefault([]),
}).superRefine((config, ctx) => {
  // [[plans]] replaces the built-in plans: the plan a signup gets must be one of them, or every
  // signup (and every provisioning without a plan) would fail after a clean start.
  const names = config.plans.map((p) => p.name)
  if (!names.includes(config.signup.default_plan)) {
    ctx.addIssue({
      code: 'custom',
      path: ['signup', 'default_plan'],
      message: `"${config.signup.default_plan}" is not one of the plans (${names.join(', ')}); declare it in [[plans]] or name one of those`,
    })
  }
})

export type Config = z.infer<typeof configSchema>
export type NamespaceConfig = Config['namespaces'][number]
export type ChannelConfig = NamespaceConfig['channels'][number]
