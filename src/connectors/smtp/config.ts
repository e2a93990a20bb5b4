/**
 * The `smtp` channel's config and per-message options, and the check of its SMTP host against
 * the outbound-URL guard's address rules.
 */
import { createPrivateKey } from 'node:crypto'
import { isIP } from '../../lib/ip'
import { z } from 'zod'
import { UrlRejectedError } from '../../lib/url-guard'
import { ConnectorError, type GuardedFetch } from '../types'

// The submission port (RFC 6409) with STARTTLS: what most providers document first.
export const DEFAULT_PORT = 587

/** A bare e-mail address (`bob@example.com`): no display name, no comments, no line breaks. */
const EMAIL = /^[^\s@<>()[\]",;:\\]+@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+[\p{L}\p{N}]{2,}$/u
export const isEmailAddress = (value: string): boolean => value.length <= 254 && EMAIL.test(value)

/** The domain of an address, for Message-IDs and DKIM. */
export const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase()

const HOST_NAME = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/
const isHost = (value: string) => HOST_NAME.test(value) || isIP(value.replace(/^\[(.*)\]$/, '$1')) !== 0

// RFC 5322 field names; values without CR/LF, so a value cannot smuggle in another header.
const HEADER_NAME = /^[!-9;-~]+$/
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\u{10ffff}]*$/u
/** Headers the connector writes itself: a custom header must not replace them. */
const RESERVED_HEADERS = new Set([
  'from', 'to', 'cc', 'bcc', 'sender', 'subject', 'date', 'message-id', 'reply-to', 'mime-version',
  'content-type', 'content-transfer-encoding', 'dkim-signature', 'list-unsubscribe', 'list-unsubscribe-post',
])

const headersSchema = z.record(
  z
    .string()
    .regex(HEADER_NAME, 'must be a valid header name')
    .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), 'is set by the gateway and cannot be replaced'),
  z.string().max(998).regex(HEADER_VALUE, 'must be text without line breaks'),
)

const email = () => z.string().refine(isEmailAddress, 'must be an e-mail address (name@example.com)')

export const smtpConfigSchema = z
  .strictObject({
    host: z.string().refine(isHost, 'must be a host name or an IP address'),
    port: z.int().min(1).max(65_535).default(DEFAULT_PORT),
    /** Implicit TLS from the first byte (port 465); false = plain, upgraded per `starttls`. */
    secure: z.boolean().default(false),
    starttls: z.enum(['required', 'opportunistic', 'never']).default('opportunistic'),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    pool: z.boolean().default(true),
    dkim: z
      .strictObject({
        domain_name: z.string().refine((v) => HOST_NAME.test(v), 'must be a domain name'),
        key_selector: z.string().regex(/^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/, 'must be a DNS label'),
        private_key: z.string().refine(isRsaPrivateKey, 'must be a PEM RSA private key (nodemailer signs rsa-sha256 only)'),
      })
      .optional(),
    list_unsubscribe: z.boolean().default(false),
    reply_to: email().optional(),
    headers: headersSchema.default({}),
    tls_reject_unauthorized: z.boolean().default(true),
  })
  .superRefine((config, ctx) => {
    if ((config.username === undefined) !== (config.password === undefined)) {
      const missing = config.username === undefined ? 'username' : 'password'
      ctx.addIssue({ code: 'custom', path: [missing], message: 'username and password must be set together' })
    }
  })

export type SmtpConfig = z.output<typeof smtpConfigSchema>

/** `options.smtp` of a message. */
export const smtpOptionsSchema = z.strictObject({
  reply_to: email().optional(),
  from_name: z.string().max(200).regex(/^[^\r\n]*$/, 'must not contain line breaks').optional(),
  headers: headersSchema.optional(),
})

export type SmtpOptions = z.output<typeof smtpOptionsSchema>

function isRsaPrivateKey(pem: string): boolean {
  try {
    return createPrivateKey(pem).asymmetricKeyType === 'rsa'
  } catch {
    return false
  }
}

/** The host as the guard sees it in a URL (IPv6 in brackets). */
function hostUrl(host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1')
  return `http://${isIP(bare) === 6 ? `[${bare}]` : bare}/`
}

/** The reason an already aborted guarded fetch rejects with when the guard let the host through. */
const HOST_ACCEPTED = new Error('host accepted by the outbound-URL guard')

/**
 * Checks the SMTP host with the outbound-URL guard's rules (DESIGN.md "Outbound URLs": private,
 * loopback and link-local addresses refused unless security.allow_private_network). The guarded
 * fetch checks the address before it opens a connection, so it is asked about `http://host/`
 * with an already aborted signal: it refuses the host (UrlRejectedError), or gets past the
 * guard and stops at the abort at once, without a byte sent to the host. That keeps the
 * operator's setting in one place, which the connector contract does not otherwise expose.
 */
export async function checkSmtpHost(host: string, fetch: GuardedFetch): Promise<void> {
  try {
    await fetch(hostUrl(host), { method: 'HEAD', signal: AbortSignal.abort(HOST_ACCEPTED) })
  } catch (error) {
    if (error === HOST_ACCEPTED) return
    if (error instanceof UrlRejectedError) throw new ConnectorError('permanent', 'host_rejected', `smtp host ${host}: ${error.message}`)
    const code = (error as { code?: string }).code ?? 'lookup_failed'
    throw new ConnectorError('transient', 'dns_error', `the smtp host ${host} does not resolve (${code})`)
  }
  // A guard that never rejects (a stub) has nothing to say about the host.
}
