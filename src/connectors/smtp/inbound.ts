/**
 * A raw message the SMTP listener accepted, read as what it means for the gateway: an inbound
 * e-mail, a bounce of something the gateway sent, or a complaint about it.
 */
import type { InboundMessage, StatusUpdate } from '../types'
import { type MailReport, parseMailReport } from './reports'

export type ReceivedMail =
  | { kind: 'message'; message: Omit<InboundMessage, 'to'> }
  | { kind: 'report'; report: MailReport }

/** Reads a raw RFC 5322 message; `envelopeFrom` (MAIL FROM) stands in for a missing From header. */
export async function readReceivedMail(raw: Buffer, envelopeFrom: string): Promise<ReceivedMail> {
  const report = parseMailReport(raw)
  if (report) return { kind: 'report', report }

  // Loaded on first use: ~30 MB that only instances receiving mail need (docs/performance.md).
  const { simpleParser } = await import('mailparser')
  const mail = await simpleParser(raw, { skipTextToHtml: true, skipImageLinks: true })
  const from = mail.from?.value.find((a) => a.address)?.address ?? envelopeFrom
  const attachments = mail.attachments.map((a, i) => ({
    filename: a.filename ?? `attachment-${i + 1}`,
    content_type: a.contentType,
    content_base64: a.content.toString('base64'),
  }))
  const html = typeof mail.html === 'string' ? mail.html : undefined
  const metadata: Record<string, string> = {}
  if (mail.messageId) metadata.message_id = mail.messageId
  if (mail.inReplyTo) metadata.in_reply_to = mail.inReplyTo
  return {
    kind: 'message',
    message: {
      from,
      content: {
        ...(mail.subject !== undefined ? { subject: mail.subject } : {}),
        // An empty body is still a message: the text is what every client can show.
        ...(mail.text !== undefined || html === undefined ? { text: mail.text ?? '' } : {}),
        ...(html !== undefined ? { html } : {}),
        ...(attachments.length > 0 ? { attachments } : {}),
      },
      providerMessageId: mail.messageId,
      metadata,
    },
  }
}

/**
 * The status update a delivery report makes for the message it names, sent to `recipient`: a hard
 * bounce (Action: failed, Status 5.x.x) fails it and suppresses the recipient. Delays and 4.x.x
 * reports make none: the sending server is still trying.
 */
export function bounceUpdate(report: MailReport & { kind: 'bounce' }, recipient: string): StatusUpdate | null {
  const hard = report.recipients.find((r) => r.action === 'failed' && r.status.startsWith('5.'))
  if (!hard || !report.originalMessageId) return null
  return {
    providerMessageId: report.originalMessageId,
    status: 'failed',
    errorCode: `bounce_${hard.status}`,
    errorMessage: hard.diagnostic ?? `the receiving server reported status ${hard.status} for ${hard.recipient}`,
    suppress: { recipient, reason: 'bounce' },
  }
}
