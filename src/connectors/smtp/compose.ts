/**
 * An outbound message as a nodemailer message: From the terminal, a Message-ID the gateway can
 * match bounces against, attachments (URLs fetched through the outbound-URL guard), custom
 * headers and, when the channel asks for it, RFC 8058 one-click unsubscribe.
 */
import type { SendMailOptions } from 'nodemailer'
import { UrlRejectedError } from '../../lib/url-guard'
import { type ConnectorContext, ConnectorError, type OutboundMessage, TRUNCATED_HEADER } from '../types'
import { domainOf, type SmtpConfig, type SmtpOptions } from './config'

/**
 * The Message-ID of an outbound message: its id at the sender's domain, in header form. An
 * internationalised domain is written in its ASCII (punycode) form, as nodemailer writes From:
 * a header must be 7-bit without SMTPUTF8, and a bounce returns it byte for byte.
 */
export function outboundMessageId(messageId: string, from: string): string {
  return `<${messageId}@${asciiDomain(domainOf(from))}>`
}

function asciiDomain(domain: string): string {
  if (/^[\x21-\x7e]*$/.test(domain)) return domain
  try {
    return new URL(`http://${domain}`).hostname
  } catch {
    return domain
  }
}

/** The most one URL attachment may weigh: the gateway's default limit for a message's attachments. */
const MAX_ATTACHMENT_FETCH_BYTES = 10 * 1024 * 1024

type Attachment = NonNullable<OutboundMessage['content']['attachments']>[number]

async function fetchAttachment(attachment: Attachment, index: number, ctx: ConnectorContext<SmtpConfig>): Promise<Buffer> {
  const what = `attachment ${index} (${attachment.filename})`
  let res: Response
  try {
    res = await ctx.fetch(attachment.url!, { signal: ctx.signal, maxResponseBytes: MAX_ATTACHMENT_FETCH_BYTES })
  } catch (error) {
    if (error instanceof UrlRejectedError) throw new ConnectorError('permanent', 'attachment_rejected', `${what}: ${error.message}`)
    throw new ConnectorError('transient', 'attachment_unavailable', `${what} could not be fetched: ${(error as Error).message}`)
  }
  if (res.status >= 200 && res.status < 300) {
    // A cut file must not go out as if it were whole.
    if (res.headers.get(TRUNCATED_HEADER)) {
      throw new ConnectorError('permanent', 'attachment_too_large', `${what} is larger than ${MAX_ATTACHMENT_FETCH_BYTES} bytes`)
    }
    return Buffer.from(await res.arrayBuffer())
  }
  // A 5xx or 429 may pass; a 404 will not.
  const errorClass = res.status >= 500 || res.status === 429 || res.status === 408 ? 'transient' : 'permanent'
  throw new ConnectorError(errorClass, 'attachment_unavailable', `${what} could not be fetched: HTTP ${res.status}`)
}

async function attachments(msg: OutboundMessage, ctx: ConnectorContext<SmtpConfig>): Promise<SendMailOptions['attachments']> {
  const list = msg.content.attachments ?? []
  return Promise.all(
    list.map(async (attachment, index) => ({
      filename: attachment.filename,
      content:
        attachment.content_base64 !== undefined
          ? Buffer.from(attachment.content_base64, 'base64')
          : await fetchAttachment(attachment, index, ctx),
      ...(attachment.content_type ? { contentType: attachment.content_type } : {}),
    })),
  )
}

/** The message to hand to nodemailer; `from` and `to` were checked when the message was accepted. */
export async function composeMail(msg: OutboundMessage, ctx: ConnectorContext<SmtpConfig>): Promise<SendMailOptions> {
  const config = ctx.config
  const options = (msg.options.smtp ?? {}) as SmtpOptions
  if (!msg.from) throw new ConnectorError('permanent', 'missing_from', 'the message has no From address (add a terminal to the channel)')
  if (typeof msg.to !== 'string') throw new ConnectorError('permanent', 'invalid_recipient', 'the recipient must be an e-mail address')
  const from = msg.from
  const to = msg.to

  // Custom headers first: the ones below are the gateway's and always win.
  const headers: Record<string, string | { prepared: true; value: string }> = { ...config.headers, ...options.headers }
  if (config.list_unsubscribe && ctx.unsubscribeUrl) {
    // Prepared: a long URL must not be folded or encoded inside the angle brackets.
    headers['List-Unsubscribe'] = { prepared: true, value: `<${ctx.unsubscribeUrl(to)}>` }
    headers['List-Unsubscribe-Post'] = { prepared: true, value: 'List-Unsubscribe=One-Click' }
  }
  const replyTo = options.reply_to ?? config.reply_to

  return {
    from: options.from_name ? { name: options.from_name, address: from } : from,
    to,
    subject: msg.content.subject ?? '',
    ...(msg.content.text !== undefined ? { text: msg.content.text } : {}),
    ...(msg.content.html !== undefined ? { html: msg.content.html } : {}),
    ...(replyTo ? { replyTo } : {}),
    attachments: await attachments(msg, ctx),
    headers,
    messageId: outboundMessageId(msg.id, from),
    // Bounces go back to the sending terminal, where the inbound SMTP listener can read them.
    envelope: { from, to: [to] },
    signal: ctx.signal,
  }
}
