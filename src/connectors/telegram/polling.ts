/**
 * Long polling: a loop of getUpdates for one channel in polling mode. The offset moves past a
 * batch only after the batch is stored, and the next getUpdates confirms it to Telegram; a batch
 * delivered just before a stop comes again after the restart and the inbound store drops it by
 * its provider message id, so nothing is lost and nothing is stored twice.
 */
import { TelegramApiError } from 'node-telegram-bot-api'
import { createLogger, type Logger } from '../../lib/log'
import type { InboundContext, InboundResult, Listener } from '../types'
import { classifyTelegramError, telegramApi } from './api'
import type { TelegramConfig } from './config'
import { type TelegramUpdate, updateToInbound } from './updates'

/** Updates per getUpdates: 20 worst-case updates stay well under the gateway's 1 MB response cap. */
const BATCH_LIMIT = 20
/** Extra time the HTTP request gets beyond the long-poll wait before it counts as hung. */
const REQUEST_GRACE_MS = 10_000
const BACKOFF_FIRST_MS = 1_000
const BACKOFF_MAX_MS = 60_000

/** The listener's context: the engine may hand it a logger; otherwise it logs to stderr itself. */
export type PollingContext = InboundContext<TelegramConfig> & { log?: Logger }

type Deliver = (result: Omit<InboundResult, 'response'>) => Promise<void>

/** What a failed poll means, in words an operator can act on. */
function explainPollFailure(err: unknown): { message: string; fields: Record<string, unknown> } {
  if (err instanceof TelegramApiError && err.errorCode === 409 && /webhook/i.test(String(err.description))) {
    return {
      message:
        'telegram getUpdates refused (409): a webhook is set for this bot; call deleteWebhook, or switch the channel to mode "webhook"',
      fields: {},
    }
  }
  if (err instanceof TelegramApiError && err.errorCode === 409) {
    return { message: 'telegram getUpdates refused (409): another process is polling with the same bot token', fields: {} }
  }
  if (err instanceof TelegramApiError && err.errorCode === 401) {
    return { message: 'telegram getUpdates refused (401): the bot token was rejected', fields: {} }
  }
  const classified = classifyTelegramError(err)
  return { message: 'telegram getUpdates failed', fields: { code: classified.code, error: classified.message } }
}

/** An update as Telegram sends it: an object with its integer `update_id`. */
function isUpdate(value: unknown): value is TelegramUpdate {
  return typeof value === 'object' && value !== null && Number.isSafeInteger((value as TelegramUpdate).update_id)
}

/** Sleeps unless the signal aborts first. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

/** Starts the getUpdates loop for one polling channel; stop() aborts the request in flight. */
export function startPolling(ctx: PollingContext, deliver: Deliver): Listener {
  const log = ctx.log ?? createLogger({ level: 'info', format: 'text' })
  const fields = { channel_id: ctx.channel.id }
  const timeout = ctx.config.poll_timeout_seconds
  const api = telegramApi(ctx.config, ctx.fetch, timeout * 1000 + REQUEST_GRACE_MS)
  const abort = new AbortController()
  const signal = abort.signal

  const loop = async () => {
    let offset: number | undefined
    let backoff = BACKOFF_FIRST_MS
    while (!signal.aborted) {
      let answer: unknown
      try {
        // No allowed_updates: it is a setting of the bot at Telegram, and other kinds are just skipped.
        answer = await api.getUpdates({ offset, timeout, limit: BATCH_LIMIT }, signal)
      } catch (err) {
        if (signal.aborted) return
        const { message, fields: extra } = explainPollFailure(err)
        log.error(message, { ...fields, ...extra, retry_in_ms: backoff })
        await pause(backoff, signal)
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS)
        continue
      }
      // A proxy or a stand-in at base_url may answer `ok` with something else: never the end of the loop.
      const updates = Array.isArray(answer) ? answer.filter(isUpdate) : []
      if (!Array.isArray(answer) || updates.length < answer.length) {
        log.error('telegram getUpdates answered something that is not a list of updates', { ...fields, retry_in_ms: backoff })
        if (updates.length === 0) {
          await pause(backoff, signal)
          backoff = Math.min(backoff * 2, BACKOFF_MAX_MS)
          continue
        }
      }
      if (updates.length === 0) {
        backoff = BACKOFF_FIRST_MS
        continue
      }
      const messages = updates.map(updateToInbound).filter((m) => m !== null)
      try {
        if (messages.length > 0) await deliver({ messages })
      } catch (err) {
        // Not stored: keep the offset so the same batch is fetched again.
        log.error('telegram updates could not be stored', { ...fields, error: String(err), retry_in_ms: backoff })
        await pause(backoff, signal)
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS)
        continue
      }
      backoff = BACKOFF_FIRST_MS
      offset = Math.max(...updates.map((u) => u.update_id)) + 1
    }
  }
  const running = loop().catch((err) => log.error('telegram polling stopped unexpectedly', { ...fields, error: String(err) }))

  return {
    async stop() {
      abort.abort()
      await running
    },
  }
}
