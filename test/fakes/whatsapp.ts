/**
 * A fake WhatsApp Cloud API (Graph API) for the `whatsapp-cloud` connector: checks what the Graph
 * API checks (Bearer token, JSON body, messaging_product, the fields each message type needs, a
 * known phone number id), records every request, and answers with the Graph API's own shapes.
 *
 * Wire formats relied on (the provider docs are not reachable from here; found with search):
 * - Send: POST /{version}/{phone_number_id}/messages with `Authorization: Bearer`, JSON body
 *   `{messaging_product: "whatsapp", recipient_type, to, type, <type>: {...}}`, answered
 *   `{"messaging_product":"whatsapp","contacts":[{"input","wa_id"}],"messages":[{"id":"wamid…"}]}`
 *   (developers.facebook.com/documentation/business-messaging/whatsapp/messages/image-messages/,
 *   github.com/barokatu/wacloudapi-docs README). Media by `link`, `caption` at most 1024 chars;
 *   documents carry `filename`.
 * - Errors: `{"error":{"message","type","code","error_subcode","error_data":{"messaging_product",
 *   "details"},"fbtrace_id"}}`, e.g. `{"message":"(#131009) Parameter value is not valid",
 *   "type":"OAuthException","code":131009,"error_data":{"messaging_product":"whatsapp","details":
 *   "Duplicate button id"},"fbtrace_id":"A7YysJRhDLLwyNk-RXuVBTM"}` (github.com/restfb/restfb
 *   issue #1341) and `{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,
 *   "error_subcode":1234567,"fbtrace_id":"BLBz/WZt8dN"}` (github.com/restfb/restfb issue #613).
 * - Codes and HTTP statuses (developers.facebook.com/documentation/business-messaging/whatsapp/
 *   support/error-codes; dualhook.com/docs/api-errors; MarcosNicolau/whatsapp-business-sdk
 *   src/types/error.ts): 190 token expired (401); 100 invalid parameter, 131009 parameter value
 *   not valid, 131026 message undeliverable, 131047 re-engagement (more than 24 hours since the
 *   recipient last replied), 131051 unsupported message type, 132000/132001 template parameter
 *   mismatch / template does not exist (400); 4 too many calls, 130429 throughput reached,
 *   131056 pair rate limit (429); 80007 WABA rate limit, 131048 spam rate limit (400); 1 unknown,
 *   131000 something went wrong (500); 2 service, 131016 service unavailable (503).
 * - An unknown phone number id: 400, code 100, subcode 33, "Unsupported post request. Object with
 *   ID '…' does not exist, cannot be loaded due to missing permissions, or does not support this
 *   operation" (github.com/tawn33y/whatsapp-cloud-api issue #7).
 * - Health: GET /{version}/{phone_number_id} → `{verified_name, display_phone_number, id,
 *   quality_rating}`.
 */
import { Hono } from 'hono'

export interface GraphRequest {
  method: string
  path: string
  headers: Record<string, string>
  body: unknown
}

export interface WhatsappFake {
  /** Origin, e.g. `http://127.0.0.1:41234` (what `base_url` is set to). */
  url: string
  /** Every request, including refused ones. */
  received: GraphRequest[]
  /** Only the accepted sends, in order. */
  sent: GraphRequest[]
  stop(): Promise<void>
}

export interface WhatsappFakeOptions {
  accessToken: string
  /** Phone number ids the token may send from. */
  phoneNumberIds: string[]
  /** Answers a valid send instead of the default success; n counts valid sends from 1. */
  respond?: (req: GraphRequest, n: number) => Response | undefined
}

const HTTP_STATUS: Record<number, number> = {
  1: 500, 2: 503, 4: 429, 100: 400, 190: 401, 80007: 400, 130429: 429, 131000: 500, 131008: 400, 131009: 400,
  131016: 503, 131026: 400, 131047: 400, 131048: 400, 131051: 400, 131056: 429, 132000: 400, 132001: 400,
}

const TITLES: Record<number, string> = {
  1: 'An unknown error occurred', 2: 'Service temporarily unavailable', 4: 'Application request limit reached',
  100: 'Invalid parameter', 190: 'Error validating access token: Session has expired', 80007: 'Rate limit issues',
  130429: 'Rate limit hit', 131000: 'Something went wrong', 131008: 'Required parameter is missing', 131009: 'Parameter value is not valid',
  131016: 'Service unavailable', 131026: 'Message undeliverable', 131047: 'Re-engagement message',
  131048: 'Spam rate limit hit', 131051: 'Unsupported message type', 131056: '(Business Account, Consumer Account) pair rate limit hit',
  132000: 'Number of parameters does not match the expected number of params', 132001: 'Template name does not exist in the translation',
}

let trace = 0

/** A Graph API error answer with the real shape and the HTTP status Meta uses for the code. */
export function graphErrorResponse(code: number, extra: { details?: string; subcode?: number; status?: number; message?: string } = {}) {
  const title = extra.message ?? TITLES[code] ?? 'Error'
  const error: Record<string, unknown> = {
    message: code === 190 ? title : `(#${code}) ${title}`,
    type: 'OAuthException',
    code,
  }
  if (extra.subcode !== undefined) error.error_subcode = extra.subcode
  if (extra.details) error.error_data = { messaging_product: 'whatsapp', details: extra.details }
  error.fbtrace_id = `AbCdEf${++trace}`
  const headers = code === 190 ? { 'www-authenticate': 'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token"' } : undefined
  return Response.json({ error }, { status: extra.status ?? HTTP_STATUS[code] ?? 400, headers })
}

const invalid = (details: string) => graphErrorResponse(100, { details })

/** What the Graph API refuses in a send body; undefined when it would accept it. */
function checkSendBody(body: Record<string, any>): Response | undefined {
  if (body.messaging_product !== 'whatsapp') return invalid('The parameter messaging_product is required.')
  if (body.recipient_type !== undefined && body.recipient_type !== 'individual') return invalid('Param recipient_type is not valid')
  if (typeof body.to !== 'string' || !/^\+?\d{7,15}$/.test(body.to)) return graphErrorResponse(131009, { details: 'Param to is not a valid phone number' })
  const type = body.type ?? 'text'
  const part = body[type]
  if (!part || typeof part !== 'object') return graphErrorResponse(131008, { details: `Param ${type} is required` })
  switch (type) {
    case 'text':
      if (typeof part.body !== 'string' || part.body.length === 0) return invalid('Param text[body] is required')
      if (part.body.length > 4096) return invalid('Param text[body] must be at most 4096 characters long')
      return undefined
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker':
      if (typeof part.link !== 'string' && typeof part.id !== 'string') return invalid(`Param ${type}[link] or ${type}[id] is required`)
      if (typeof part.link === 'string' && !/^https?:\/\//.test(part.link)) return invalid(`Param ${type}[link] must be a valid URL`)
      if ((type === 'audio' || type === 'sticker') && part.caption !== undefined) return invalid(`Param ${type}[caption] is not supported`)
      if (typeof part.caption === 'string' && part.caption.length > 1024) return invalid(`Param ${type}[caption] must be at most 1024 characters long`)
      return undefined
    case 'template':
      if (typeof part.name !== 'string' || !part.name) return invalid('Param template[name] is required')
      if (typeof part.language?.code !== 'string') return invalid('Param template[language][code] is required')
      if (part.components !== undefined && !Array.isArray(part.components)) return invalid('Param template[components] must be an array')
      return undefined
    default:
      return graphErrorResponse(131051, { details: `Message type ${type} is not supported` })
  }
}

export function startWhatsappFake(opts: WhatsappFakeOptions): WhatsappFake {
  const received: GraphRequest[] = []
  const sent: GraphRequest[] = []
  const app = new Hono<{ Variables: { entry: GraphRequest } }>()

  const unknownObject = (id: string) =>
    graphErrorResponse(100, {
      subcode: 33,
      message: `Unsupported post request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`,
    })

  // Recorded first, then the token checked, as Graph does for every call.
  app.use('*', async (c, next) => {
    const raw = c.req.method === 'POST' ? await c.req.text() : ''
    let body: unknown
    try {
      body = raw ? JSON.parse(raw) : undefined
    } catch {
      body = raw
    }
    const entry = { method: c.req.method, path: new URL(c.req.url).pathname, headers: Object.fromEntries(c.req.raw.headers), body }
    received.push(entry)
    c.set('entry', entry)
    if (c.req.header('authorization') !== `Bearer ${opts.accessToken}`) {
      return graphErrorResponse(190, { message: 'Invalid OAuth access token - Cannot parse access token' })
    }
    await next()
  })

  app.post('/:version/:phoneNumberId/messages', (c) => {
    const entry = c.get('entry')
    if (!opts.phoneNumberIds.includes(c.req.param('phoneNumberId'))) return unknownObject(c.req.param('phoneNumberId'))
    if (!/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) return invalid('The request body must be JSON')
    if (!entry.body || typeof entry.body !== 'object') return invalid('The request body is not valid JSON')
    const refused = checkSendBody(entry.body as Record<string, any>)
    if (refused) return refused
    sent.push(entry)
    const custom = opts.respond?.(entry, sent.length)
    if (custom) return custom
    const to = (entry.body as { to: string }).to
    return c.json({
      messaging_product: 'whatsapp',
      contacts: [{ input: to, wa_id: to.replace(/^\+/, '') }],
      messages: [{ id: `wamid.HBgL${sent.length.toString().padStart(4, '0')}` }],
    })
  })

  app.get('/:version/:phoneNumberId', (c) => {
    const id = c.req.param('phoneNumberId')
    if (!opts.phoneNumberIds.includes(id)) return unknownObject(id)
    return c.json({ verified_name: 'Acme Support', display_phone_number: '+1 555-010-0200', id, quality_rating: 'GREEN' })
  })

  app.notFound(() => graphErrorResponse(100, { message: 'Unknown path components' }))

  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: app.fetch })
  return {
    url: `http://127.0.0.1:${server.port}`,
    received,
    sent,
    stop: () => server.stop(true),
  }
}

/**
 * A `messages` webhook notification as Meta POSTs it: `{"object": "whatsapp_business_account",
 * "entry": [{"id": <WABA id>, "changes": [{"field": "messages", "value": {...}}]}]}` with the
 * business number in `value.metadata` (developers.facebook.com webhook payload examples, as
 * quoted in github.com/shaikhmudassir/Django-CRM chat/ref.py).
 */
export function notification(phoneNumberId: string, value: Record<string, unknown>) {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550100200', phone_number_id: phoneNumberId }, ...value },
          },
        ],
      },
    ],
  }
}

/** One inbound message from a WhatsApp user, with the contact block Meta sends alongside. */
export function inboundValue(from: string, message: Record<string, unknown>, name = 'Kerry Fisher') {
  return {
    contacts: [{ profile: { name }, wa_id: from }],
    messages: [{ from, timestamp: '1717171717', ...message }],
  }
}

/** A status report on a message the business sent; `errors` only on `failed`. */
export function statusValue(id: string, status: string, timestamp: number, recipient: string, errors?: unknown[]) {
  return { statuses: [{ id, status, timestamp: String(timestamp), recipient_id: recipient, ...(errors ? { errors } : {}) }] }
}
