/**
 * The `smtp` connector: e-mail through any SMTP submission server (nodemailer), with pooled
 * connections, STARTTLS or implicit TLS, AUTH, DKIM signing and RFC 8058 one-click unsubscribe.
 * Inbound mail, bounces and complaints arrive through the built-in SMTP listener
 * (src/engine/smtp-listener.ts), not through a provider callback.
 */
import { checkSmtpHost, isEmailAddress, type SmtpConfig, smtpConfigSchema, smtpOptionsSchema } from './smtp/config'
import { composeMail } from './smtp/compose'
import { classifySmtpError } from './smtp/errors'
import { acquireTransport, closeSmtpTransports, loadNodemailer, transportOptions } from './smtp/transports'
import { type Connector, ConnectorError, type DraftProblem } from './types'

export { outboundMessageId } from './smtp/compose'
export { isEmailAddress } from './smtp/config'

export const smtpConnector: Connector<SmtpConfig> = {
  type: 'smtp',
  capabilities: ['send', 'receive', 'status-callback', 'media', 'health'],
  configSchema: smtpConfigSchema,
  // dkim is masked whole: its private key sits inside it.
  secretKeys: ['password', 'dkim'],
  optionsSchema: smtpOptionsSchema,

  async verifyConfig(config, fetch) {
    try {
      await checkSmtpHost(config.host, fetch)
      return []
    } catch (error) {
      return [{ field: 'host', message: error instanceof Error ? error.message : String(error) }]
    }
  },

  checkDraft(draft) {
    const problems: DraftProblem[] = []
    if (typeof draft.to !== 'string' || !isEmailAddress(draft.to)) {
      problems.push({ field: 'to', message: 'must be an e-mail address (name@example.com)' })
    }
    if (draft.from === null) {
      problems.push({ field: 'from', message: 'an e-mail needs a From address: add a terminal with the address to the channel' })
    } else if (!isEmailAddress(draft.from)) {
      problems.push({ field: 'from', message: `"${draft.from}" is not an e-mail address; the From of an e-mail must be one` })
    }
    return problems
  },

  async send(msg, ctx) {
    // The host is tenant-controlled: checked at every send, since what it resolves to can change.
    await checkSmtpHost(ctx.config.host, ctx.fetch)
    const mail = await composeMail(msg, ctx)
    const { transporter, release } = await acquireTransport(msg.channel.id, ctx.config)
    try {
      const info = await transporter.sendMail(mail)
      if (info.rejected.length > 0) {
        throw new ConnectorError('permanent', 'recipient_rejected', `the server rejected ${String(info.rejected[0])}: ${info.response}`)
      }
      return { status: 'sent', providerMessageId: mail.messageId }
    } catch (error) {
      throw classifySmtpError(error)
    } finally {
      release()
    }
  },

  async health(ctx) {
    const { host, port } = ctx.config
    // A connection of its own: a verify must not take (or break) a pooled one.
    const transporter = (await loadNodemailer()).createTransport(transportOptions(ctx.config))
    try {
      await checkSmtpHost(host, ctx.fetch)
      await transporter.verify()
      return { ok: true, detail: `${host}:${port} accepted the connection${ctx.config.username ? ' and the credentials' : ''}` }
    } catch (error) {
      const failure = classifySmtpError(error)
      return { ok: false, detail: `${host}:${port}: ${failure.message} (${failure.code})` }
    } finally {
      transporter.close()
    }
  },

  close: closeSmtpTransports,
}
