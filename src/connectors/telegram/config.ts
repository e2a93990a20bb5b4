/**
 * The `telegram` channel's config and message options, and what a draft must look like to be
 * carried by the Bot API.
 */
import { z } from 'zod'
import { checkUrlSyntax, UrlRejectedError } from '../../lib/url-guard'
import type { DraftProblem, OutboundDraft } from '../types'

export const TELEGRAM_API_ORIGIN = 'https://api.telegram.org'
/** Long-poll wait per getUpdates call: Telegram holds the request this long when nothing is queued. */
const DEFAULT_POLL_TIMEOUT_SECONDS = 30

/** A chat id (users, groups and `-100…` channels) or a public `@channelusername`. */
export const CHAT_ID = /^-?\d+$/
export const CHANNEL_USERNAME = /^@[A-Za-z][A-Za-z0-9_]{4,}$/
// What @BotFather hands out: the bot's numeric id, a colon, then the secret part.
const BOT_TOKEN = /^\d+:[A-Za-z0-9_-]+$/
// setWebhook refuses any other secret_token, so a value Telegram would refuse fails here first.
const WEBHOOK_SECRET = /^[A-Za-z0-9_-]{1,256}$/

const PARSE_MODES = ['HTML', 'MarkdownV2'] as const

export const telegramConfigSchema = z
  .strictObject({
    bot_token: z.string().regex(BOT_TOKEN, 'must be the token @BotFather gave, like 123456789:AAH…'),
    mode: z.enum(['webhook', 'polling']).default('webhook'),
    webhook_secret: z.string().regex(WEBHOOK_SECRET, 'must be 1-256 characters of A-Z, a-z, 0-9, _ and -').optional(),
    parse_mode: z.enum([...PARSE_MODES, 'none']).optional(),
    poll_timeout_seconds: z.int().min(1).max(50).default(DEFAULT_POLL_TIMEOUT_SECONDS),
    base_url: z
      .string()
      .superRefine((url, ctx) => {
        try {
          checkUrlSyntax(url)
        } catch (err) {
          if (!(err instanceof UrlRejectedError)) throw err
          ctx.addIssue({ code: 'custom', message: err.message })
        }
      })
      .default(TELEGRAM_API_ORIGIN),
  })
  .superRefine((config, ctx) => {
    // Telegram's updates are not signed: the secret header is the only proof a callback is Telegram's.
    if (config.mode === 'webhook' && config.webhook_secret === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['webhook_secret'],
        message: 'is required in webhook mode: pass the same value as secret_token to setWebhook',
      })
    }
  })

export type TelegramConfig = z.output<typeof telegramConfigSchema>

/** `options.telegram` of a message. */
export const telegramOptionsSchema = z.strictObject({
  /** Overrides the channel's parse_mode; `none` sends the text as is. */
  parse_mode: z.enum([...PARSE_MODES, 'none']).optional(),
  disable_notification: z.boolean().optional(),
  reply_to_message_id: z.int().positive().optional(),
})

export type TelegramOptions = z.output<typeof telegramOptionsSchema>

/** What the Bot API cannot carry: a subject, several attachments, a recipient that is no chat. */
export function checkTelegramDraft(draft: OutboundDraft): DraftProblem[] {
  const problems: DraftProblem[] = []
  if (typeof draft.to !== 'string' || !(CHAT_ID.test(draft.to) || CHANNEL_USERNAME.test(draft.to))) {
    problems.push({ field: 'to', message: 'must be a Telegram chat id (e.g. 123456789 or -1001234567890) or a @channelusername' })
  }
  if (draft.content.subject !== undefined) {
    problems.push({ field: 'content.subject', message: 'Telegram messages have no subject; put it in the text' })
  }
  if ((draft.content.attachments?.length ?? 0) > 1) {
    problems.push({ field: 'content.attachments', message: 'Telegram carries at most one attachment per message' })
  }
  return problems
}
