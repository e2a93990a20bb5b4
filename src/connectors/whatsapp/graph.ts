/**
 * The Graph API side of the Cloud API: the JSON body of `POST /{phone_number_id}/messages`, and
 * Graph error payloads `{"error": {message, type, code, error_subcode, error_data, fbtrace_id}}`
 * classified by their code (test/fakes/whatsapp.ts cites where each code comes from).
 */
import { UrlRejectedError } from '../../lib/url-guard'
import { parseRetryAfter } from '../http'
import { ConnectorError, type OutboundMessage } from '../types'
import { mediaKind, recipientDigits, type WhatsappOptions } from './schema'

/** How much of a non-Graph error body goes into the message. */
const ERROR_BODY_CHARS = 200

/** Throughput limits: retried after the hint (or the backoff), never failed at once. */
const RATE_LIMITED = new Set([
  4, // API Too Many Calls
  613, // Calls to this API have exceeded the rate limit
  80007, // WhatsApp Business Account rate limit
  130429, // Cloud API message throughput reached
  131048, // spam rate limit: too many messages from this number
  131056, // (business, consumer) pair rate limit: too many messages to the same recipient
])

/** Blips on Meta's side: retried with backoff. */
const TRANSIENT = new Set([
  1, // API Unknown
  2, // API Service (temporary downtime)
  131000, // Something went wrong
  131016, // Service unavailable / overloaded
  133004, // Server temporarily unavailable
])

/** The message body for one outbound message: text, one media by link, or a template. */
export function buildMessageBody(msg: OutboundMessage, options: WhatsappOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to: recipientDigits(msg.to as string),
  }
  const { text, attachments } = msg.content
  const attachment = attachments?.[0]
  if (options.template) {
    const { name, language, components } = options.template
    const template: Record<string, unknown> = { name, language: typeof language === 'string' ? { code: language } : language }
    if (components) template.components = components
    Object.assign(body, { type: 'template', template })
  } else if (attachment?.url) {
    const kind = mediaKind(attachment.content_type)
    const media: Record<string, unknown> = { link: attachment.url }
    // Audio takes no caption (checkDraft refuses text with audio); the rest take the text as caption.
    if (text !== undefined && kind !== 'audio') media.caption = text
    if (kind === 'document') media.filename = attachment.filename
    Object.assign(body, { type: kind, [kind]: media })
  } else {
    Object.assign(body, { type: 'text', text: { body: text ?? '', preview_url: options.preview_url ?? false } })
  }
  // Echoed back by Meta in status callbacks: ties a callback to the gateway's message in logs.
  body.biz_opaque_callback_data = msg.id
  return body
}

interface GraphError {
  message?: string
  type?: string
  code?: number
  error_subcode?: number
  error_data?: { details?: string }
  fbtrace_id?: string
}

/** The `error` object of a Graph error body, or undefined when the body is something else. */
export function graphError(text: string): GraphError | undefined {
  try {
    const json = JSON.parse(text) as { error?: unknown }
    if (json && typeof json.error === 'object' && json.error !== null) return json.error as GraphError
  } catch {
    // Not JSON (a proxy's HTML page): classified by HTTP status alone.
  }
  return undefined
}

/** One line a person can act on: Meta's message, its details, and the trace id for Meta support. */
export function describeGraphError(error: GraphError, status: number): string {
  const parts = [error.message ?? `HTTP ${status}`]
  const details = error.error_data?.details
  if (details && !parts[0]!.includes(details)) parts.push(details)
  if (error.fbtrace_id) parts.push(`fbtrace_id ${error.fbtrace_id}`)
  return parts.join(' — ')
}

/** A failed Graph response as a classified ConnectorError. */
export async function failedResponse(res: Response): Promise<ConnectorError> {
  const status = res.status
  const text = await res.text()
  const error = graphError(text)
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'))
  if (error && typeof error.code === 'number') {
    const code = String(error.code)
    const message = describeGraphError(error, status)
    if (RATE_LIMITED.has(error.code)) return new ConnectorError('rate-limited', code, message, retryAfterMs)
    if (TRANSIENT.has(error.code)) return new ConnectorError('transient', code, message)
    // Known codes are about the request, the token or the recipient (190, 100, 131009, 131026,
    // 131047, 131051, 132xxx): sending the same message again cannot succeed. An unknown code on
    // a 429 or 5xx is still treated as the HTTP status says.
    if (status === 429) return new ConnectorError('rate-limited', code, message, retryAfterMs)
    if (status >= 500) return new ConnectorError('transient', code, message)
    return new ConnectorError('permanent', code, message)
  }
  const code = `http_${status}`
  const snippet = text.trim().slice(0, ERROR_BODY_CHARS)
  const message = snippet ? `HTTP ${status}: ${snippet}` : `HTTP ${status}`
  if (status === 429) return new ConnectorError('rate-limited', code, message, retryAfterMs)
  if (status === 408 || status >= 500) return new ConnectorError('transient', code, message)
  if (status >= 300 && status < 400) {
    return new ConnectorError('permanent', code, `HTTP ${status}: redirects are not followed; check base_url`)
  }
  return new ConnectorError('permanent', code, message)
}

/** A request that got no answer, as a ConnectorError. */
export function failedRequest(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err
  if (err instanceof UrlRejectedError) return new ConnectorError('permanent', 'url_rejected', err.message)
  const name = err instanceof Error ? err.name : ''
  if (name === 'TimeoutError' || name === 'AbortError') return new ConnectorError('transient', 'timeout', 'no answer from the Graph API in time')
  return new ConnectorError('transient', 'network_error', err instanceof Error ? err.message : String(err))
}
