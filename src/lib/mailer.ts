/**
 * The instance's own outgoing mail (password resets, invitations): `[mail] smtp_url` and `from`,
 * sent with the smtp connector's transport settings (TLS, timeouts, no file or URL access).
 */
import { smtpConfigSchema } from '../connectors/smtp/config'
import { loadNodemailer, transportOptions } from '../connectors/smtp/transports'
import type { Mailer } from '../domain/deps'
import type { Logger } from './log'

/** A `[mail]` setting that cannot work; the message names the key. */
export class MailConfigError extends Error {}

export interface MailSettings {
  smtp_url: string
  from: string
}

/**
 * `smtp://user:pass@host:port` (STARTTLS when offered; `?starttls=required|never`) or
 * `smtps://…` (implicit TLS). Ports default to 587 and 465.
 */
export function parseSmtpUrl(smtpUrl: string) {
  let url: URL
  try {
    url = new URL(smtpUrl)
  } catch {
    throw new MailConfigError('mail.smtp_url: not a URL (smtp://user:pass@host:port)')
  }
  const secure = url.protocol === 'smtps:'
  if (!secure && url.protocol !== 'smtp:') throw new MailConfigError('mail.smtp_url: must be an smtp:// or smtps:// URL')
  const starttls = url.searchParams.get('starttls') ?? 'opportunistic'
  const parsed = smtpConfigSchema.safeParse({
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    starttls,
    ...(url.username ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : {}),
    pool: false,
  })
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new MailConfigError(`mail.smtp_url: ${issue.path.join('.')} ${issue.message}`)
  }
  return parsed.data
}

/** The mailer for `[mail]`, or null when `smtp_url` is not set. */
export function createMailer(settings: MailSettings, log: Logger): Mailer | null {
  if (settings.smtp_url === '') return null
  if (settings.from.trim() === '') throw new MailConfigError('mail.from: must be set when mail.smtp_url is set (e.g. "omnigate <noreply@example.com>")')
  const config = parseSmtpUrl(settings.smtp_url)
  const host = config.host
  return {
    async send(mail) {
      // One connection per mail: the instance sends a few a day, a pool would only hold sockets.
      const transporter = (await loadNodemailer()).createTransport(transportOptions(config))
      try {
        await transporter.sendMail({ from: settings.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html })
      } catch (error) {
        // Never the body: it carries the one-time link.
        log.warn('instance mail not sent', { smtp_host: host, subject: mail.subject, error: (error as Error).message })
        throw error
      } finally {
        transporter.close()
      }
    },
  }
}
