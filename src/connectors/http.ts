/**
 * The `http` connector: POSTs each message as JSON to a URL the tenant chooses, with the message
 * id as `idempotency-key` so a receiver can drop the duplicates at-least-once delivery brings.
 */
import { z } from 'zod'
import { checkUrlSyntax, UrlRejectedError } from '../lib/url-guard'
import { parseHttpInbound } from './http-inbound'
import { type Connector, ConnectorError, type OutboundMessage } from './types'

/** Default per-request timeout: generous for a webhook-style receiver, short enough to free a worker. */
const DEFAULT_TIMEOUT_MS = 10_000
/** How much of an error response goes into the message: enough to read the receiver's reason. */
const ERROR_BODY_CHARS = 200
/** Headers the gateway owns: the receiver relies on them, so config.headers cannot replace them. */
const RESERVED_HEADERS = ['content-type', 'idempotency-key']

// RFC 9110 tokens and field values, checked on create so a bad header fails the request that set
// it, not every later send; no CR/LF either, so a value cannot smuggle another header.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

export const httpConfigSchema = z.strictObject({
  url: z.string().superRefine((url, ctx) => {
    try {
      checkUrlSyntax(url)
    } catch (err) {
      if (!(err instanceof UrlRejectedError)) throw err
      ctx.addIssue({ code: 'custom', message: err.message })
    }
  }),
  headers: z
    .record(
      z.string().regex(HEADER_NAME, 'must be a valid HTTP header name'),
      z.string().regex(HEADER_VALUE, 'must be printable text without line breaks'),
    )
    .default({}),
  timeout_ms: z.int().min(100).max(60_000).default(DEFAULT_TIMEOUT_MS),
  /** Turns on `/inbound/{channel_id}` for this channel (see http-inbound.ts). */
  inbound_secret: z.string().min(16, 'must be at least 16 characters').max(256).optional(),
})

export type HttpConfig = z.output<typeof httpConfigSchema>

/** The JSON body a receiver gets; field names in snake_case like the rest of the API. */
function payload(msg: OutboundMessage) {
  return {
    id: msg.id,
    namespace: msg.namespace,
    channel: msg.channel.name,
    from: msg.from,
    to: msg.to,
    content: msg.content,
    metadata: msg.metadata,
    created_at: new Date(msg.createdAt).toISOString(),
  }
}

/** Retry-After as ms: delta-seconds or an HTTP-date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** The receiver's own id for the message, when it answers JSON with an `id` (a string, or a number kept as its text). */
async function providerMessageId(res: Response): Promise<string | undefined> {
  const text = await res.text()
  if (text === '') return undefined
  try {
    const json: unknown = JSON.parse(text)
    const id = json && typeof json === 'object' ? (json as { id?: unknown }).id : undefined
    if (typeof id === 'string' && id !== '') return id
    if (typeof id === 'number' && Number.isFinite(id)) return String(id)
  } catch {
    // A 2xx with a non-JSON body is still a success; there is just no id to keep.
  }
  return undefined
}

function failedRequest(err: unknown, timeoutMs: number): ConnectorError {
  if (err instanceof UrlRejectedError) return new ConnectorError('permanent', 'url_rejected', err.message)
  const name = err instanceof Error ? err.name : ''
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new ConnectorError('transient', 'timeout', `no response within ${timeoutMs} ms`)
  }
  const message = err instanceof Error ? err.message : String(err)
  return new ConnectorError('transient', 'network_error', message)
}

async function failedResponse(res: Response): Promise<ConnectorError> {
  const status = res.status
  const code = `http_${status}`
  if (status === 429) {
    return new ConnectorError(
      'rate-limited',
      code,
      'HTTP 429: the receiver asks to slow down',
      parseRetryAfter(res.headers.get('retry-after')),
    )
  }
  if (status === 408 || status >= 500) {
    return new ConnectorError('transient', code, `HTTP ${status} from the receiver`)
  }
  if (status === 409) {
    // The message id goes as `idempotency-key`: a receiver that follows the Idempotency-Key draft
    // answers 409 while the first request with it is still being handled (a retry after a
    // timeout), and replays that answer once it is done.
    return new ConnectorError('transient', code, 'HTTP 409: the receiver is still handling this message (idempotency key in use)')
  }
  if (status >= 300 && status < 400) {
    // Following would let a public URL bounce the gateway to a private one, so it is refused for good.
    return new ConnectorError('permanent', code, `HTTP ${status}: redirects are not followed; set the final URL`)
  }
  const body = (await res.text()).trim().slice(0, ERROR_BODY_CHARS)
  return new ConnectorError('permanent', code, body ? `HTTP ${status}: ${body}` : `HTTP ${status}`)
}

export const httpConnector: Connector<HttpConfig> = {
  type: 'http',
  capabilities: ['send', 'receive', 'status-callback'],
  configSchema: httpConfigSchema,
  secretKeys: ['headers', 'inbound_secret'],
  urlKeys: ['url'],
  parseInbound: parseHttpInbound,
  async send(msg, ctx) {
    const { url, headers: extra, timeout_ms: timeoutMs } = ctx.config
    const headers = new Headers({ 'user-agent': ctx.userAgent })
    for (const [name, value] of Object.entries(extra ?? {})) {
      if (!RESERVED_HEADERS.includes(name.toLowerCase())) headers.set(name, value)
    }
    headers.set('content-type', 'application/json')
    headers.set('idempotency-key', msg.id)

    let res: Response
    try {
      res = await ctx.fetch(url, { method: 'POST', headers, body: JSON.stringify(payload(msg)), timeoutMs, signal: ctx.signal })
    } catch (err) {
      throw failedRequest(err, timeoutMs)
    }
    if (res.status >= 200 && res.status < 300) {
      return { status: 'sent', providerMessageId: await providerMessageId(res) }
    }
    throw await failedResponse(res)
  },
}
