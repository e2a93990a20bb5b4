/**
 * Receiving: Telegram Updates (from a webhook POST or from getUpdates) as inbound messages, and
 * the webhook's secret-token check.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { MessageContent } from '../../store/schema'
import { InboundError, type InboundContext, type InboundMessage, type InboundResult } from '../types'
import type { TelegramConfig } from './config'

/** The header Telegram sends the setWebhook secret_token in. */
export const SECRET_HEADER = 'x-telegram-bot-api-secret-token'
/** An Update is a few KB; anything much larger is not Telegram. */
const MAX_UPDATE_BYTES = 1024 * 1024

type FileRef = { file_id: string; file_unique_id?: string; file_name?: string; mime_type?: string }
type TelegramMessage = {
  message_id: number
  chat: { id: number; type?: string; username?: string }
  from?: { id: number; username?: string }
  text?: string
  caption?: string
  photo?: FileRef[]
  document?: FileRef
  audio?: FileRef
  video?: FileRef
  voice?: FileRef
}
export type TelegramUpdate = { update_id: number; message?: TelegramMessage; [kind: string]: unknown }

// Media other than photos: the field, what to call the file when Telegram gives no name, its type.
const MEDIA: [keyof TelegramMessage, string, string][] = [
  ['document', 'document', 'application/octet-stream'],
  ['audio', 'audio', 'audio/mpeg'],
  ['video', 'video.mp4', 'video/mp4'],
  ['voice', 'voice.ogg', 'audio/ogg'],
]

/**
 * One Update as an inbound message, or null for kinds the gateway does not store (edits, channel
 * posts, callback queries, service messages without text or media).
 */
export function updateToInbound(update: TelegramUpdate): InboundMessage | null {
  const message = update.message
  if (!message || typeof message.message_id !== 'number' || typeof message.chat?.id !== 'number') return null
  const content: MessageContent = {}
  const metadata: Record<string, string> = { update_id: String(update.update_id) }
  const text = message.text ?? message.caption
  if (text !== undefined) content.text = text
  if (message.from?.username) metadata.from_username = message.from.username
  if (message.chat.type) metadata.chat_type = message.chat.type

  // The file itself stays at Telegram: getFile with the file_id fetches it (the bot token is needed).
  if (message.photo?.length) {
    const largest = message.photo[message.photo.length - 1]!
    content.attachments = [{ filename: `photo_${largest.file_unique_id ?? largest.file_id}.jpg`, content_type: 'image/jpeg' }]
    metadata.file_id = largest.file_id
  } else {
    for (const [field, name, type] of MEDIA) {
      const file = message[field] as FileRef | undefined
      if (!file?.file_id) continue
      content.attachments = [{ filename: file.file_name ?? name, content_type: file.mime_type ?? type }]
      metadata.file_id = file.file_id
      break
    }
  }
  if (content.text === undefined && !content.attachments) return null
  return {
    from: String(message.chat.id),
    content,
    providerMessageId: `${message.chat.id}:${message.message_id}`,
    metadata,
  }
}

/** Equal-length digests, so neither the secret's content nor its length leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(given), digest(expected))
}

/** A webhook POST: checks the secret header, answers 200 `{}` and returns what the Update carried. */
export async function parseTelegramWebhook(req: Request, ctx: InboundContext<TelegramConfig>): Promise<InboundResult> {
  if (ctx.config.mode !== 'webhook' || ctx.config.webhook_secret === undefined) {
    throw new InboundError(404, 'this channel receives its updates by long polling, not by webhook')
  }
  if (req.method !== 'POST') throw new InboundError(405, 'Telegram delivers updates with POST')
  const given = req.headers.get(SECRET_HEADER)
  if (given === null || !sameSecret(given, ctx.config.webhook_secret)) {
    throw new InboundError(403, `missing or wrong ${SECRET_HEADER} header`)
  }
  const raw = await req.text()
  if (raw.length > MAX_UPDATE_BYTES) throw new InboundError(413, 'an Update is never this large')
  let update: TelegramUpdate
  try {
    update = JSON.parse(raw) as TelegramUpdate
  } catch {
    throw new InboundError(400, 'the body is not JSON')
  }
  if (!update || typeof update !== 'object' || typeof update.update_id !== 'number') {
    throw new InboundError(400, 'the body is not a Telegram Update (no update_id)')
  }
  const message = updateToInbound(update)
  return { response: Response.json({}), messages: message ? [message] : [] }
}
