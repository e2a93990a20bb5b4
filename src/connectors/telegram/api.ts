/**
 * The Bot API client: node-telegram-bot-api v2's `Api`, pointed at the channel's base_url and
 * speaking through the gateway's guarded fetch. v2 is a fetch-based, runtime-agnostic rewrite
 * (no `request`, no built-in polling unless asked), so it runs unchanged under Bun and against a
 * loopback fake. Its own retries are turned off: the dispatcher and the listener own retrying.
 */
import { Api, NetworkError, ParseError, TelegramApiError, TimeoutError } from 'node-telegram-bot-api'
import { UrlRejectedError } from '../../lib/url-guard'
import { ConnectorError, type GuardedFetch } from '../types'
import type { TelegramConfig } from './config'

/** How much of a description goes into an error message: Telegram's are short, a proxy page is not. */
const DESCRIPTION_CHARS = 200

/**
 * An Api for one channel. `timeoutMs` is passed to the guarded fetch (its default is the send
 * timeout, far too short for a long poll); the library's own timer stays off.
 */
export function telegramApi(config: Pick<TelegramConfig, 'bot_token' | 'base_url'>, fetch: GuardedFetch, timeoutMs?: number): Api {
  // The library calls fetch(url string, init) only; the guard checks every URL before connecting.
  const viaGuard = (url: string | URL, init?: RequestInit) => fetch(String(url), timeoutMs === undefined ? init : { ...init, timeoutMs })
  return new Api(config.bot_token, {
    apiRoot: config.base_url,
    fetch: viaGuard as typeof globalThis.fetch,
    maxRetries: 0,
    timeoutMs: 0,
  })
}

/**
 * A failed Bot API call as a classified error. Telegram answers
 * `{"ok":false,"error_code":…,"description":…,"parameters":{"retry_after":…}}`: 429 waits for
 * retry_after, other 4xx (chat not found, blocked, bad token) fail for good, 5xx and the network
 * are retried.
 */
export function classifyTelegramError(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err
  if (err instanceof TelegramApiError) {
    const code = `telegram_${err.errorCode}`
    const message = `${err.errorCode}: ${String(err.description).slice(0, DESCRIPTION_CHARS)}`
    if (err.errorCode === 429) {
      const seconds = err.retryAfter
      return new ConnectorError('rate-limited', code, message, typeof seconds === 'number' ? seconds * 1000 : undefined)
    }
    if (err.errorCode >= 500) return new ConnectorError('transient', code, message)
    if (err.errorCode === 401) return new ConnectorError('permanent', code, `${message} (the bot token was rejected)`)
    return new ConnectorError('permanent', code, message)
  }
  const cause = (err as { cause?: unknown } | null)?.cause
  if (cause instanceof UrlRejectedError || err instanceof UrlRejectedError) {
    return new ConnectorError('permanent', 'url_rejected', (cause instanceof UrlRejectedError ? cause : (err as Error)).message)
  }
  if (err instanceof TimeoutError) return new ConnectorError('transient', 'timeout', 'Telegram did not answer in time')
  if (err instanceof NetworkError) {
    // A 5xx whose body is not the Bot API's envelope (a proxy's error page): the library says so in words.
    const status = /Server error (\d{3})/.exec(err.message)?.[1]
    if (status) return new ConnectorError('transient', `http_${status}`, `HTTP ${status} from the Bot API`)
    const detail = cause instanceof Error ? cause.message : err.message
    const timedOut = cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError')
    return timedOut
      ? new ConnectorError('transient', 'timeout', 'Telegram did not answer in time')
      : new ConnectorError('transient', 'network_error', detail)
  }
  if (err instanceof ParseError) return new ConnectorError('transient', 'bad_response', 'the Bot API answered something that is not JSON')
  const name = err instanceof Error ? err.name : ''
  if (name === 'TimeoutError' || name === 'AbortError') return new ConnectorError('transient', 'timeout', 'Telegram did not answer in time')
  return new ConnectorError('transient', 'network_error', err instanceof Error ? err.message : String(err))
}
