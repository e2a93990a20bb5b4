/**
 * A fake Telegram Bot API on loopback, checking what the real one checks. What it relies on:
 * - core.telegram.org/bots/api "Making requests": `/bot<token>/<METHOD>`, GET or POST, params as
 *   query string, x-www-form-urlencoded, JSON or multipart/form-data (files); answers
 *   `{"ok":true,"result":…}` or `{"ok":false,"error_code":…,"description":…,"parameters":…}`.
 * - Error bodies as seen in the wild (issue threads of tdlib/telegram-bot-api, telegraf,
 *   pyTelegramBotAPI): 401 "Unauthorized", 400 "Bad Request: chat not found", 403 "Forbidden: bot
 *   was blocked by the user", 429 "Too Many Requests: retry after N" with parameters.retry_after,
 *   409 "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to
 *   delete the webhook first" and "Conflict: terminated by other getUpdates request".
 * - getUpdates: updates with an id below `offset` are confirmed and dropped; with `timeout` the
 *   request is held until an update arrives (long polling).
 */
import { Hono } from 'hono'

export type Param = string | number | boolean | Record<string, unknown> | { filename: string; contentType: string; bytes: Uint8Array }
export interface BotApiRequest {
  method: string
  httpMethod: string
  /** `json`, `form`, `multipart` or `query`. */
  encoding: string
  params: Record<string, Param>
}
export interface Chat {
  id: number
  type: 'private' | 'group' | 'supergroup' | 'channel'
  username?: string
}
export type Answer = { status: number; body: unknown }

const BOT = { id: 777000111, is_bot: true, first_name: 'Omnigate Test', username: 'omnigate_test_bot' }
const HTML_TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'span', 'tg-spoiler', 'a', 'tg-emoji', 'code', 'pre', 'blockquote'])

export const telegramError = (code: number, description: string, parameters?: Record<string, unknown>): Answer => ({
  status: code,
  body: { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) },
})
const ok = (result: unknown): Answer => ({ status: 200, body: { ok: true, result } })

/** Telegram's HTML check, reduced: known tags only, every tag closed in order. */
function htmlProblem(text: string): string | null {
  const open: string[] = []
  for (const m of text.matchAll(/<(\/?)([a-zA-Z-]+)[^>]*>/g)) {
    const closing = m[1]
    const tag = m[2]!.toLowerCase()
    if (!HTML_TAGS.has(tag)) return `Unsupported start tag "${tag}" at byte offset ${m.index}`
    if (!closing) open.push(tag)
    else if (open.pop() !== tag) return `Unmatched end tag at byte offset ${m.index}, expected "</${open.at(-1) ?? ''}>", found "</${tag}>"`
  }
  return open.length ? `Can't find end tag corresponding to start tag "${open.at(-1)}"` : null
}

/** MarkdownV2, reduced: these characters are never markup and must be escaped. */
function markdownProblem(text: string): string | null {
  const m = /(?<!\\)[.!#+=|{}-]/.exec(text)
  return m ? `Character '${m[0]}' is reserved and must be escaped with the preceding '\\'` : null
}

async function readParams(req: Request): Promise<{ encoding: string; params: Record<string, Param> }> {
  const params: Record<string, Param> = Object.fromEntries(new URL(req.url).searchParams)
  const type = (req.headers.get('content-type') ?? '').toLowerCase()
  if (req.method !== 'POST' || !type) return { encoding: 'query', params }
  if (type.startsWith('application/json')) return { encoding: 'json', params: { ...params, ...((await req.json()) as Record<string, Param>) } }
  if (type.startsWith('application/x-www-form-urlencoded')) {
    return { encoding: 'form', params: { ...params, ...Object.fromEntries(new URLSearchParams(await req.text())) } }
  }
  if (type.startsWith('multipart/form-data')) {
    for (const [key, value] of await req.formData()) {
      params[key] =
        typeof value === 'string'
          ? value
          : { filename: value.name, contentType: value.type, bytes: new Uint8Array(await value.arrayBuffer()) }
    }
    return { encoding: 'multipart', params }
  }
  throw Object.assign(new Error('unsupported content type'), { answer: telegramError(400, 'Bad Request: unsupported content type') })
}

/** A structured param: an object in JSON, a JSON string in a form. */
const structured = (v: Param | undefined) => (typeof v === 'string' ? (JSON.parse(v) as Record<string, unknown>) : v)

export interface FakeTelegram {
  /** The base_url for the channel config. */
  url: string
  token: string
  bot: typeof BOT
  /** Every call that reached a method, refused or not. */
  requests: BotApiRequest[]
  calls(method: string): BotApiRequest[]
  /** The next calls of `method` get these answers instead (one each). */
  failNext(method: string, ...answers: Answer[]): void
  block(chatId: number): void
  /** An Update with a message from `chat` (the next update_id), not queued. */
  messageUpdate(chat: Chat, message: Record<string, unknown>): { update_id: number; message: Record<string, unknown> }
  /** Queues an Update for getUpdates (wakes a waiting long poll). */
  queue(update: { update_id: number; [kind: string]: unknown }): void
  webhook: { url: string; secret_token?: string }
  stop(): Promise<void>
}

export function startFakeTelegram(opts: { token?: string; chats?: Chat[] } = {}): FakeTelegram {
  const token = opts.token ?? `${BOT.id}:AAHfakeTokenForOmnigateTests_0123456789`
  const chats = new Map<string, Chat>()
  for (const chat of opts.chats ?? []) {
    chats.set(String(chat.id), chat)
    if (chat.username) chats.set(`@${chat.username}`, chat)
  }
  const requests: BotApiRequest[] = []
  const scripted = new Map<string, Answer[]>()
  const blocked = new Set<number>()
  const pending: { update_id: number; [kind: string]: unknown }[] = []
  let waiter: { wake: (answer: Answer) => void } | null = null
  let nextUpdateId = 500_001
  let nextMessageId = 1
  const webhook: FakeTelegram['webhook'] = { url: '' }

  const chatFor = (p: Record<string, Param>): Chat | Answer => {
    if (p.chat_id === undefined || p.chat_id === '') return telegramError(400, 'Bad Request: chat_id is empty')
    const chat = chats.get(String(p.chat_id))
    if (!chat) return telegramError(400, 'Bad Request: chat not found')
    if (blocked.has(chat.id)) return telegramError(403, 'Forbidden: bot was blocked by the user')
    return chat
  }
  const entitiesProblem = (text: string, mode: Param | undefined): Answer | null => {
    const problem = mode === 'HTML' ? htmlProblem(text) : mode === 'MarkdownV2' ? markdownProblem(text) : null
    return problem ? telegramError(400, `Bad Request: can't parse entities: ${problem}`) : null
  }
  const sent = (chat: Chat, fields: Record<string, unknown>) =>
    ok({ message_id: nextMessageId++, from: BOT, chat, date: Math.floor(Date.now() / 1000), ...fields })
  const fileResult = (file: Param, kind: string) => ({
    file_id: `${kind}-${typeof file === 'object' && 'filename' in file ? file.filename : String(file).slice(-12)}`,
    file_unique_id: `u${nextMessageId}`,
  })

  const methods: Record<string, (p: Record<string, Param>, signal: AbortSignal) => Answer | Promise<Answer>> = {
    getMe: () => ok(BOT),
    sendMessage: (p) => {
      const chat = chatFor(p)
      if ('status' in chat) return chat
      const text = typeof p.text === 'string' ? p.text : p.text === undefined ? '' : String(p.text)
      if (text.trim() === '') return telegramError(400, 'Bad Request: message text is empty')
      if (text.length > 4096) return telegramError(400, 'Bad Request: message is too long')
      return entitiesProblem(text, p.parse_mode) ?? sent(chat, { text })
    },
    sendPhoto: (p) => sendFile(p, 'photo'),
    sendDocument: (p) => sendFile(p, 'document'),
    getUpdates: (p, signal) => {
      if (webhook.url) {
        return telegramError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
      }
      const offset = p.offset === undefined ? undefined : Number(p.offset)
      if (offset !== undefined) while (pending.length && pending[0]!.update_id < offset) pending.shift()
      const limit = p.limit === undefined ? 100 : Number(p.limit)
      const timeout = p.timeout === undefined ? 0 : Number(p.timeout)
      if (pending.length || timeout <= 0) return ok(pending.slice(0, limit))
      waiter?.wake(telegramError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'))
      return new Promise<Answer>((resolve) => {
        const self = { wake: (answer: Answer) => finish(answer) }
        const timer = setTimeout(() => finish(ok([])), timeout * 1000)
        const onAbort = () => finish(ok([]))
        function finish(answer: Answer) {
          clearTimeout(timer)
          signal.removeEventListener('abort', onAbort)
          if (waiter === self) waiter = null
          resolve(answer)
        }
        signal.addEventListener('abort', onAbort, { once: true })
        waiter = self
      }).then((answer) => (answer.status === 200 && Array.isArray((answer.body as { result?: unknown }).result) ? ok(pending.slice(0, limit)) : answer))
    },
    setWebhook: (p) => {
      webhook.url = String(p.url ?? '')
      webhook.secret_token = p.secret_token === undefined ? undefined : String(p.secret_token)
      return ok(true)
    },
    deleteWebhook: () => {
      webhook.url = ''
      return ok(true)
    },
    getWebhookInfo: () => ok({ url: webhook.url, has_custom_certificate: false, pending_update_count: pending.length }),
  }

  function sendFile(p: Record<string, Param>, kind: 'photo' | 'document'): Answer {
    const chat = chatFor(p)
    if ('status' in chat) return chat
    const file = p[kind]
    if (file === undefined || file === '') return telegramError(400, `Bad Request: there is no ${kind} in the request`)
    const caption = p.caption === undefined ? undefined : String(p.caption)
    if (caption !== undefined && caption.length > 1024) return telegramError(400, 'Bad Request: message caption is too long')
    const problem = caption === undefined ? null : entitiesProblem(caption, p.parse_mode)
    if (problem) return problem
    const media = kind === 'photo' ? { photo: [{ ...fileResult(file, kind), width: 90, height: 90 }] } : { document: fileResult(file, kind) }
    return sent(chat, { ...media, ...(caption !== undefined ? { caption } : {}) })
  }

  const app = new Hono()
  app.on(['GET', 'POST'], '/:bot/:method', async (c) => {
    const bot = c.req.param('bot')
    const method = c.req.param('method')
    const reply = (a: Answer) => c.json(a.body as object, a.status as 200)
    if (!/^bot\d+:[\w-]+$/.test(bot)) return reply(telegramError(404, 'Not Found'))
    if (bot.slice(3) !== token) return reply(telegramError(401, 'Unauthorized'))
    const handler = methods[method]
    if (!handler) return reply(telegramError(404, 'Not Found'))
    let entry: BotApiRequest
    try {
      entry = { method, httpMethod: c.req.method, ...(await readParams(c.req.raw)) }
    } catch (err) {
      return reply((err as { answer?: Answer }).answer ?? telegramError(400, 'Bad Request: malformed request body'))
    }
    for (const key of ['reply_parameters', 'allowed_updates']) if (entry.params[key] !== undefined) entry.params[key] = structured(entry.params[key])!
    requests.push(entry)
    const scriptedAnswer = scripted.get(method)?.shift()
    if (scriptedAnswer) return scriptedAnswer.status >= 500 && typeof scriptedAnswer.body === 'string'
      ? c.text(scriptedAnswer.body, scriptedAnswer.status as 500)
      : reply(scriptedAnswer)
    return reply(await handler(entry.params, c.req.raw.signal))
  })
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: app.fetch, idleTimeout: 0 })

  return {
    url: `http://127.0.0.1:${server.port}`,
    token,
    bot: BOT,
    requests,
    calls: (method) => requests.filter((r) => r.method === method),
    failNext(method, ...answers) {
      scripted.set(method, [...(scripted.get(method) ?? []), ...answers])
    },
    block: (chatId) => void blocked.add(chatId),
    messageUpdate(chat, message) {
      const from = chat.type === 'private' ? { id: chat.id, is_bot: false, first_name: 'Alice', username: chat.username } : undefined
      return {
        update_id: nextUpdateId++,
        message: { message_id: nextMessageId++, ...(from ? { from } : {}), chat, date: Math.floor(Date.now() / 1000), ...message },
      }
    },
    queue(update) {
      pending.push(update)
      waiter?.wake(ok([]))
    },
    webhook,
    async stop() {
      waiter?.wake(ok([]))
      await server.stop(true)
    },
  }
}
