/**
 * Sending: text with sendMessage, one attachment with sendPhoto (images) or sendDocument
 * (anything else), by URL or uploaded as multipart when the attachment carries its bytes.
 */
import { InputFile } from 'node-telegram-bot-api'
import type { MessageContent } from '../../store/schema'
import { ConnectorError, type ConnectorContext, type OutboundMessage, type SendResult } from '../types'
import { classifyTelegramError, telegramApi } from './api'
import { CHANNEL_USERNAME, CHAT_ID, type TelegramConfig, telegramOptionsSchema } from './config'

type Attachment = NonNullable<MessageContent['attachments']>[number]

// Images Telegram shows inline; SVG is not one of them, so it goes as a document.
const PHOTO_EXTENSIONS = /\.(jpe?g|png|webp|gif|bmp)$/i

function isPhoto(attachment: Attachment): boolean {
  const type = attachment.content_type?.toLowerCase()
  if (type) return type.startsWith('image/') && type !== 'image/svg+xml'
  return PHOTO_EXTENSIONS.test(attachment.filename)
}

/** The file as the Bot API takes it: a URL it fetches itself, or the bytes as a multipart part. */
function fileOf(attachment: Attachment): string | InputFile {
  if (attachment.url !== undefined) return attachment.url
  const bytes = Buffer.from(attachment.content_base64 ?? '', 'base64')
  return new InputFile(new Uint8Array(bytes), { filename: attachment.filename, contentType: attachment.content_type })
}

/** The text to send and how Telegram should parse it; html is sent as HTML when there is no text. */
function textOf(content: MessageContent, parseMode: string | undefined): { text?: string; parse_mode?: string } {
  if (content.text !== undefined) return { text: content.text, parse_mode: parseMode === 'none' ? undefined : parseMode }
  if (content.html !== undefined) return { text: content.html, parse_mode: 'HTML' }
  return {}
}

export async function sendTelegram(msg: OutboundMessage, ctx: ConnectorContext<TelegramConfig>): Promise<SendResult> {
  const chatId = msg.to
  if (typeof chatId !== 'string' || !(CHAT_ID.test(chatId) || CHANNEL_USERNAME.test(chatId))) {
    throw new ConnectorError('permanent', 'invalid_recipient', 'the recipient is not a Telegram chat id or @channelusername')
  }
  const parsedOptions = telegramOptionsSchema.safeParse(msg.options.telegram ?? {})
  if (!parsedOptions.success) throw new ConnectorError('permanent', 'invalid_options', 'options.telegram is not valid')
  const options = parsedOptions.data
  const { text, parse_mode } = textOf(msg.content, options.parse_mode ?? ctx.config.parse_mode)
  const common = {
    chat_id: chatId,
    ...(parse_mode ? { parse_mode } : {}),
    ...(options.disable_notification !== undefined ? { disable_notification: options.disable_notification } : {}),
    // reply_parameters replaced reply_to_message_id in Bot API 7.0; a reply target that is gone
    // should not fail a notification, so the message then goes out as a plain one.
    ...(options.reply_to_message_id !== undefined
      ? { reply_parameters: { message_id: options.reply_to_message_id, allow_sending_without_reply: true } }
      : {}),
  }
  const attachment = msg.content.attachments?.[0]
  const api = telegramApi(ctx.config, ctx.fetch)
  try {
    const sent = !attachment
      ? await api.sendMessage({ ...common, text: text ?? '' }, ctx.signal)
      : isPhoto(attachment)
        ? await api.sendPhoto({ ...common, photo: fileOf(attachment), ...(text !== undefined ? { caption: text } : {}) }, ctx.signal)
        : await api.sendDocument({ ...common, document: fileOf(attachment), ...(text !== undefined ? { caption: text } : {}) }, ctx.signal)
    // The numeric chat id, not `to`: a @channelusername resolves to it, and inbound ids use it too.
    return { status: 'sent', providerMessageId: `${sent.chat.id}:${sent.message_id}` }
  } catch (err) {
    throw classifyTelegramError(err)
  }
}
