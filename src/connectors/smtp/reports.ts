/**
 * Machine-readable mail reports that come back to a sending address: delivery status
 * notifications (RFC 3464, `multipart/report; report-type=delivery-status`) and abuse feedback
 * (ARF, RFC 5965, `report-type=feedback-report`). mailparser folds a `message/delivery-status`
 * part into the message text, so the parts are read here with a small MIME splitter instead.
 */

export interface BouncedRecipient {
  recipient: string
  /** `failed`, `delayed`, `delivered`, `relayed`, `expanded` */
  action: string
  /** RFC 3463 enhanced status, e.g. `5.1.1` */
  status: string
  diagnostic?: string
}

export type MailReport =
  | { kind: 'bounce'; recipients: BouncedRecipient[]; originalMessageId?: string }
  | { kind: 'complaint'; recipient?: string; feedbackType: string; originalMessageId?: string }

type Fields = Map<string, string>

/** Splits a message or part at the blank line ending its header block. */
function splitHead(raw: Buffer): { head: string; body: Buffer } {
  const crlf = raw.indexOf('\r\n\r\n')
  const lf = raw.indexOf('\n\n')
  if (crlf === -1 && lf === -1) return { head: raw.toString('latin1'), body: Buffer.alloc(0) }
  const [at, gap] = crlf !== -1 && (lf === -1 || crlf < lf) ? [crlf, 4] : [lf, 2]
  return { head: raw.subarray(0, at).toString('latin1'), body: raw.subarray(at + gap) }
}

/** Header-style fields (unfolded, names lowercased, first occurrence kept). */
function parseFields(text: string): Fields {
  const fields: Fields = new Map()
  for (const line of text.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim())
  }
  return fields
}

/** `multipart/report; report-type=delivery-status; boundary="b"` → type and lowercased params. */
function parseContentType(value: string | undefined): { type: string; params: Map<string, string> } {
  const [type = '', ...rest] = (value ?? 'text/plain').split(';')
  const params = new Map<string, string>()
  for (const param of rest) {
    const eq = param.indexOf('=')
    if (eq <= 0) continue
    params.set(param.slice(0, eq).trim().toLowerCase(), param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'))
  }
  return { type: type.trim().toLowerCase(), params }
}

interface Part {
  fields: Fields
  type: string
  body: Buffer
}

function readPart(raw: Buffer): Part {
  const { head, body } = splitHead(raw)
  const fields = parseFields(head)
  const encoding = (fields.get('content-transfer-encoding') ?? '').toLowerCase()
  // Report parts are 7bit by the RFCs; some MTAs base64 them anyway.
  const decoded = encoding === 'base64' ? Buffer.from(body.toString('latin1').replace(/\s+/g, ''), 'base64') : body
  return { fields, type: parseContentType(fields.get('content-type')).type, body: decoded }
}

/** The body parts of a multipart body (RFC 2046 §5.1.1). */
function multipartParts(body: Buffer, boundary: string): Part[] {
  const text = body.toString('latin1')
  const delimiter = `--${boundary}`
  const parts: Part[] = []
  let start = text.indexOf(delimiter)
  while (start !== -1) {
    const lineEnd = text.indexOf('\n', start)
    if (lineEnd === -1 || text.startsWith(`${delimiter}--`, start)) break
    const next = text.indexOf(`\n${delimiter}`, lineEnd)
    const end = next === -1 ? text.length : next
    parts.push(readPart(Buffer.from(text.slice(lineEnd + 1, end).replace(/\r$/, ''), 'latin1')))
    start = next === -1 ? -1 : next + 1
  }
  return parts
}

/** `rfc822; <bob@example.com>` → `bob@example.com` */
function addressOf(value: string | undefined): string | undefined {
  if (!value) return undefined
  const typed = value.includes(';') ? value.slice(value.indexOf(';') + 1) : value
  const bracketed = /<([^<>\s]+@[^<>\s]+)>/.exec(typed)
  const address = (bracketed?.[1] ?? typed).trim()
  return /^[^\s@]+@[^\s@]+$/.test(address) ? address : undefined
}

/** The Message-ID of the returned message or headers, as the header writes it (`<id@host>`). */
function originalMessageId(parts: Part[]): { messageId?: string; to?: string } {
  const returned = parts.find((p) => p.type === 'message/rfc822' || p.type === 'text/rfc822-headers')
  if (!returned) return {}
  const fields = parseFields(splitHead(returned.body).head)
  const messageId = /<[^<>\s]+>/.exec(fields.get('message-id') ?? '')?.[0]
  return { messageId, to: addressOf(fields.get('to')) }
}

function deliveryStatus(parts: Part[]): BouncedRecipient[] {
  const part = parts.find((p) => p.type === 'message/delivery-status' || p.type === 'message/global-delivery-status')
  if (!part) return []
  // One per-message block, then one block per recipient, separated by blank lines.
  const blocks = part.body.toString('utf8').split(/\r?\n\s*\r?\n/).map(parseFields)
  const recipients: BouncedRecipient[] = []
  for (const block of blocks) {
    const recipient = addressOf(block.get('final-recipient') ?? block.get('original-recipient'))
    const status = /\d\.\d{1,3}\.\d{1,3}/.exec(block.get('status') ?? '')?.[0]
    if (!recipient || !status) continue
    const diagnostic = block.get('diagnostic-code')?.replace(/^[^;]*;\s*/, '')
    recipients.push({ recipient, action: (block.get('action') ?? '').toLowerCase(), status, ...(diagnostic ? { diagnostic } : {}) })
  }
  return recipients
}

/** The report a raw message carries, or null when it is an ordinary message. */
export function parseMailReport(raw: Buffer): MailReport | null {
  const { head, body } = splitHead(raw)
  const contentType = parseContentType(parseFields(head).get('content-type'))
  const reportType = contentType.params.get('report-type')?.toLowerCase()
  const boundary = contentType.params.get('boundary')
  if (contentType.type !== 'multipart/report' || !boundary) return null
  const parts = multipartParts(body, boundary)
  const original = originalMessageId(parts)

  if (reportType === 'delivery-status') {
    const recipients = deliveryStatus(parts)
    return recipients.length > 0 ? { kind: 'bounce', recipients, originalMessageId: original.messageId } : null
  }
  if (reportType === 'feedback-report') {
    const feedback = parts.find((p) => p.type === 'message/feedback-report')
    if (!feedback) return null
    const fields = parseFields(feedback.body.toString('utf8'))
    return {
      kind: 'complaint',
      recipient: addressOf(fields.get('original-rcpt-to')) ?? original.to,
      feedbackType: (fields.get('feedback-type') ?? 'abuse').toLowerCase(),
      originalMessageId: original.messageId,
    }
  }
  return null
}
