/** Config sections for people and limits: `[admin]`, `[mail]`, `[limits]`, and token settings. */
import { z } from 'zod'

const int = () => z.int()

// 15 minutes: short enough that a stolen access token soon stops working; refresh renews it.
export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 900
// 30 days: a portal session (refresh token) lasts this long unless logged out.
export const DEFAULT_SESSION_TTL_HOURS = 720
// Generous for any real client on one namespace; stops a runaway loop.
export const DEFAULT_NAMESPACE_RPS = 200
// Login attempts per account and per client address per minute before 429.
export const DEFAULT_LOGIN_ATTEMPTS_PER_MINUTE = 10

/** Token signing: ES256 is what most JWT verifiers support; EdDSA is smaller and faster. */
export const tokenSettings = {
  token_alg: z.enum(['ES256', 'EdDSA']).default('ES256'),
  access_token_ttl_seconds: int().min(60).max(86_400).default(DEFAULT_ACCESS_TOKEN_TTL_SECONDS),
  session_ttl_hours: int().min(1).max(24 * 365).default(DEFAULT_SESSION_TTL_HOURS),
}

export const adminSchema = z.strictObject({
  /** The first instance admin, created on start when there is none (OMNIGATE_ADMIN_EMAIL). */
  email: z.email().optional(),
  /** Its password (OMNIGATE_ADMIN_PASSWORD; from the environment, never the file). */
  password: z.string().min(12, 'must be at least 12 characters').max(1024).optional(),
})

export const mailSchema = z.strictObject({
  /** The instance's own outgoing mail (resets, invitations): smtp(s)://user:pass@host:port. */
  smtp_url: z
    .string()
    .refine((v) => v === '' || /^smtps?:\/\//.test(v), 'must be an smtp:// or smtps:// URL')
    .default(''),
  from: z.string().default(''),
})

export const limitsSchema = z.strictObject({
  /** API requests per second per namespace (token bucket, per instance); 0 = no limit. */
  namespace_requests_per_second: int().min(0).default(DEFAULT_NAMESPACE_RPS),
  /** API requests per second per application (applications may set their own); 0 = no limit. */
  application_requests_per_second: int().min(0).default(0),
  /** Messages accepted per namespace per UTC day / calendar month; 0 = unlimited (namespaces may override). */
  messages_per_day: int().min(0).default(0),
  messages_per_month: int().min(0).default(0),
  login_attempts_per_minute: int().min(1).default(DEFAULT_LOGIN_ATTEMPTS_PER_MINUTE),
})

/** Per-namespace overrides in `[[namespaces]]` (`quotas = { messages_per_day = 1000 }`). */
export const namespaceQuotasSchema = z.strictObject({
  messages_per_day: int().min(0).optional(),
  messages_per_month: int().min(0).optional(),
  requests_per_second: int().min(0).optional(),
})
