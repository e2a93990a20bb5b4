/**
 * Cloud API callbacks: the GET verification handshake (`hub.mode=subscribe`, `hub.verify_token`,
 * `hub.challenge`), and POSTs signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
 * body keyed with the app secret>` carrying `messages` changes: inbound messages and statuses.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { type InboundContext, InboundError, type InboundMessage, type InboundResult, type StatusUpdate } from '../types'
import type { WhatsappConfig } from './schema'

/** Compares two secrets in constant time, whatever their lengths. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/** Answers the verification handshake Meta sends when the callback URL is saved. */
export function verifySubscription(req: Request, config: WhatsappConfig): Response {
  const params = new URL(req.url).searchParams
  if (!config.verify_token) throw new InboundError(403, 'the channel has no verify_token; set one to verify the callback URL')
  const challenge = params.get('hub.challenge')
  if (params.get('hub.mode') !== 'subscribe' || !sameSecret(params.get('hub.verify_token') ?? '', config.verify_token)) {
    throw new InboundError(403, 'hub.verify_token does not match the channel verify_token')
  }
  if (challenge === null) throw new InboundError(400, 'hub.challenge is missing')
  return new Response(challenge, { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' } })
}

/** The raw body, once its X-Hub-Signature-256 is proven to come from the app secret. */
export async function verifiedBody(req: Request, config: WhatsappConfig): Promise<Uint8Array> {
  if (!config.app_secret) throw new InboundError(403, 'the channel has no app_secret, so callbacks cannot be verified')
  const header = req.headers.get('x-hub-signature-256') ?? ''
  const raw = new Uint8Array(await req.arrayBuffer())
  const match = /^sha256=([0-9a-f]{64})$/i.exec(header.trim())
  if (!match) throw new InboundError(403, 'X-Hub-Signature-256 is missing or malformed')
  const expected = createHmac('sha256', config.app_secret).update(raw).digest()
  if (!timingSafeEqual(expected, Buffer.from(match[1]!, 'hex'))) {
    throw new InboundError(403, 'X-Hub-Signature-256 does not match the body')
  }
  return raw
}

// The parts of the payload read here; everything else Meta sends is ignored.
interface WaMedia {
  id?: string
  mime_type?: string
  caption?: string
  filename?: string
}
interface WaMessage {
  from?: string
  id?: string
  timestamp?: string
  type?: string
  text?: { body?: string }
  image?: WaMedia
  video?: WaMedia
  audio?: WaMedia
  document?: WaMedia
  sticker?: WaMedia
  button?: { text?: string; payload?: string }
  interactive?: { type?: string; button_reply?: { id?: string; title?: string }; list_reply?: { id?: string; title?: string } }
  location?: { latitude?: number; longitude?: number; name?: string; address?: string }
  reaction?: { message_id?: string; emoji?: string }
  context?: { id?: string }
}
interface WaStatus {
  id?: string
  status?: string
  timestamp?: string
  errors?: { code?: number; title?: string; message?: string; error_data?: { details?: string } }[]
}
interface WaValue {
  metadata?: { phone_number_id?: string; display_phone_number?: string }
  contacts?: { wa_id?: string; profile?: { name?: string } }[]
  messages?: WaMessage[]
  statuses?: WaStatus[]
}

const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const
const STATUSES = new Set(['sent', 'delivered', 'read', 'failed'])

/** `audio/ogg; codecs=opus` → `ogg`, for a file name when WhatsApp gives none. */
const extension = (mime: string | undefined) => (mime?.split(';')[0]?.split('/')[1] ?? 'bin').trim()

function inboundMessage(message: WaMessage, value: WaValue, to: string): InboundMessage | null {
  if (!message.from || !message.id) return null
  const type = message.type ?? 'unknown'
  const metadata: Record<string, string> = { type }
  const content: InboundMessage['content'] = {}
  const profile = value.contacts?.find((c) => c.wa_id === message.from)?.profile?.name
  if (profile) metadata.profile_name = profile
  if (message.context?.id) metadata.reply_to = message.context.id

  const mediaType = MEDIA_TYPES.find((t) => t === type)
  const media = mediaType && message[mediaType]
  if (type === 'text') content.text = message.text?.body
  else if (media) {
    // Media comes as an id to fetch with the access token (GET /{media_id}); the URL it resolves
    // to expires within minutes, so the id is what is kept.
    if (media.caption) content.text = media.caption
    const filename = media.filename ?? `${media.id ?? mediaType}.${extension(media.mime_type)}`
    content.attachments = [{ filename, ...(media.mime_type ? { content_type: media.mime_type } : {}) }]
    if (media.id) metadata.media_id = media.id
  } else if (type === 'button') {
    content.text = message.button?.text
    if (message.button?.payload) metadata.payload = message.button.payload
  } else if (type === 'interactive') {
    const reply = message.interactive?.button_reply ?? message.interactive?.list_reply
    content.text = reply?.title
    if (reply?.id) metadata.reply_id = reply.id
  } else if (type === 'location' && message.location) {
    const { latitude, longitude, name, address } = message.location
    const at = latitude !== undefined && longitude !== undefined ? `${latitude},${longitude}` : undefined
    content.text = [name, address, at].filter(Boolean).join('\n')
    if (at) Object.assign(metadata, { latitude: String(latitude), longitude: String(longitude) })
  } else if (type === 'reaction') {
    content.text = message.reaction?.emoji
    if (message.reaction?.message_id) metadata.reply_to = message.reaction.message_id
  }
  if (content.text === undefined) delete content.text
  // wa_id is the number without its +; kept in E.164 so replies and suppressions use one form.
  return { from: `+${message.from}`, to, content, providerMessageId: message.id, metadata }
}

function statusUpdate(status: WaStatus): StatusUpdate | null {
  if (!status.id || !status.status || !STATUSES.has(status.status)) return null
  const update: StatusUpdate = { providerMessageId: status.id, status: status.status as StatusUpdate['status'] }
  const seconds = Number(status.timestamp)
  if (status.timestamp && Number.isFinite(seconds)) update.at = seconds * 1000
  const error = status.errors?.[0]
  if (error) {
    if (error.code !== undefined) update.errorCode = String(error.code)
    update.errorMessage = error.error_data?.details ?? error.message ?? error.title
  }
  return update
}

/**
 * What a verified callback body says. One Meta app calls one URL for every number it serves, so
 * changes for a phone number id this channel does not own are acknowledged and dropped.
 */
export function parseNotification(raw: Uint8Array, ctx: InboundContext<WhatsappConfig>): Omit<InboundResult, 'response'> {
  let payload: { object?: string; entry?: { changes?: { field?: string; value?: WaValue }[] }[] }
  try {
    payload = JSON.parse(new TextDecoder().decode(raw))
  } catch {
    throw new InboundError(400, 'the body is not JSON')
  }
  const messages: InboundMessage[] = []
  const statuses: StatusUpdate[] = []
  if (payload?.object !== 'whatsapp_business_account' || !Array.isArray(payload.entry)) return { messages, statuses }
  const owned = new Set([ctx.config.phone_number_id, ...ctx.terminals])
  for (const entry of payload.entry) {
    for (const change of entry?.changes ?? []) {
      const value = change?.value
      const numberId = value?.metadata?.phone_number_id
      if (change?.field !== 'messages' || !value || !numberId || !owned.has(numberId)) continue
      for (const message of value.messages ?? []) {
        const inbound = inboundMessage(message, value, numberId)
        if (inbound) messages.push(inbound)
      }
      for (const status of value.statuses ?? []) {
        const update = statusUpdate(status)
        if (update) statuses.push(update)
      }
    }
  }
  return { messages, statuses }
}
