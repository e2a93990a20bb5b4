/**
 * The `telegram` connector: a bot of the Telegram Bot API. Sends text, photos and documents to
 * chats and channels; receives messages by webhook (secret-token header) or by long polling
 * (getUpdates), per the channel's `mode`. Built on node-telegram-bot-api v2 (see telegram/api.ts).
 */
import { classifyTelegramError, telegramApi } from './telegram/api'
import { checkTelegramDraft, type TelegramConfig, telegramConfigSchema, telegramOptionsSchema } from './telegram/config'
import { startPolling } from './telegram/polling'
import { sendTelegram } from './telegram/send'
import { parseTelegramWebhook } from './telegram/updates'
import type { Connector, ConnectorContext, Health } from './types'

/** getMe proves the token; getWebhookInfo tells whether the receiving side matches the mode. */
async function telegramHealth(ctx: ConnectorContext<TelegramConfig>): Promise<Health> {
  const api = telegramApi(ctx.config, ctx.fetch)
  let username: string
  try {
    const me = await api.getMe(ctx.signal)
    username = me.username ?? String(me.id)
  } catch (err) {
    const failure = classifyTelegramError(err)
    if (failure.code === 'telegram_401') return { ok: false, detail: 'bot token rejected (401 Unauthorized)' }
    return { ok: false, detail: `getMe failed: ${failure.message}` }
  }
  let webhookUrl = ''
  try {
    webhookUrl = (await api.getWebhookInfo(ctx.signal)).url
  } catch {
    // The token works; the webhook state is extra detail, not a reason to call the channel broken.
    return { ok: true, detail: `bot @${username}` }
  }
  if (ctx.config.mode === 'polling' && webhookUrl !== '') {
    return { ok: false, detail: `bot @${username}: a webhook is set, so Telegram refuses getUpdates; call deleteWebhook or use mode "webhook"` }
  }
  if (ctx.config.mode === 'webhook' && webhookUrl === '') {
    return { ok: true, detail: `bot @${username}: no webhook is set yet; call setWebhook with the channel's inbound_url and webhook_secret` }
  }
  return { ok: true, detail: `bot @${username} (${ctx.config.mode})` }
}

export const telegramConnector: Connector<TelegramConfig> = {
  type: 'telegram',
  capabilities: ['send', 'receive', 'media', 'health'],
  configSchema: telegramConfigSchema,
  secretKeys: ['bot_token', 'webhook_secret'],
  urlKeys: ['base_url'],
  optionsSchema: telegramOptionsSchema,
  checkDraft: checkTelegramDraft,
  send: sendTelegram,
  health: telegramHealth,
  parseInbound: parseTelegramWebhook,
  listen(ctx, deliver) {
    return ctx.config.mode === 'polling' ? startPolling(ctx, deliver) : null
  },
}
