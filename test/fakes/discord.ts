/**
 * A fake Discord "Execute Webhook" endpoint (discord.com/api) on loopback.
 *
 * What it checks, as Discord does (discord.com/developers/docs/resources/webhook#execute-webhook,
 * topics/opcodes-and-status-codes, topics/rate-limits):
 * - the path is `/api[/v{n}]/webhooks/{webhook.id}/{webhook.token}`: an unknown id is
 *   404 `{"message": "Unknown Webhook", "code": 10015}`, a wrong token
 *   401 `{"message": "Invalid Webhook Token", "code": 50027}`;
 * - the body is JSON (application/json): malformed JSON is 400 code 50109; a body without
 *   `content` or `embeds` is 400 `{"message": "Cannot send an empty message", "code": 50006}`;
 * - field limits answer 400 `{"code": 50035, "message": "Invalid Form Body", "errors": {...}}`
 *   with Discord's nested `_errors` shape: content at most 2000 characters, at most 10 embeds,
 *   a username without "discord" or "clyde";
 * - `?wait=true` answers 200 with the created message object (its `id` a snowflake); without it
 *   the answer is 204 No Content.
 * "Get Webhook with Token" (GET on the same path, no other credential) answers the webhook object
 * without its `user`, with the same 404 / 401 refusals.
 * Rate limits answer 429 `{"message", "retry_after": <seconds, float>, "global"}` with a
 * Retry-After header, as the rate-limit response structure documents.
 */
import { type Context, Hono } from 'hono'

export interface DiscordRequest {
  method: string
  /** Path and query. */
  path: string
  /** Header names lower-cased. */
  headers: Record<string, string>
  rawBody: string
  /** The parsed JSON body, when it parsed. */
  body: unknown
}

/** A Discord JSON error answer. */
export function discordErrorAnswer(status: number, code: number, message: string, errors?: Record<string, unknown>): Response {
  return Response.json({ code, message, ...(errors ? { errors } : {}) }, { status })
}

/** Discord's rate-limit answer; `retryAfter` in seconds, fractional like Discord's. */
export function discordRateLimitAnswer(retryAfter: number, global = false): Response {
  return Response.json(
    { message: 'You are being rate limited.', retry_after: retryAfter, global },
    { status: 429, headers: { 'retry-after': String(Math.ceil(retryAfter)), 'x-ratelimit-scope': global ? 'global' : 'shared' } },
  )
}

/** The `errors` object of a 50035 answer for one field. */
const fieldError = (field: string, code: string, message: string) => ({ [field]: { _errors: [{ code, message }] } })

export interface FakeDiscord {
  /** `http://127.0.0.1:<port>` */
  origin: string
  webhookId: string
  /** The webhook's URL as Discord shows it (without `?wait`). */
  webhookUrl: string
  /** Every request, in order, including refused ones. */
  received: DiscordRequest[]
  /** The messages created (what `?wait=true` answered with, or would have). */
  created: Record<string, unknown>[]
  /** Answers for the next valid requests, used once each and in order, instead of posting. */
  answerNext(...answers: Response[]): void
  stop(): Promise<void>
}

const WEBHOOK_ID = '1234567890123456789'
const CHANNEL_ID = '1111111111111111111'
const TOKEN = 'fakeDiscordWebhookToken_Zq3-9xY'
const DISCORD_EPOCH = 1420070400000n

/** Starts the fake on an ephemeral loopback port. */
export function startFakeDiscord(): FakeDiscord {
  const received: DiscordRequest[] = []
  const created: Record<string, unknown>[] = []
  const scripted: Response[] = []
  let sequence = 0n

  // Snowflakes: ms since the Discord epoch, shifted past 22 bits of worker, process and sequence.
  const snowflake = () => String(((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (sequence++ & 0xfffn))

  const record = (c: Context, rawBody: string, body: unknown) => {
    const url = new URL(c.req.url)
    received.push({ method: c.req.method, path: url.pathname + url.search, headers: Object.fromEntries(c.req.raw.headers), rawBody, body })
  }
  /** The refusal for a wrong webhook id or token, or undefined when both are right. */
  const refusal = (c: Context) => {
    if (c.req.param('id') !== WEBHOOK_ID) return discordErrorAnswer(404, 10015, 'Unknown Webhook')
    if (c.req.param('token') !== TOKEN) return discordErrorAnswer(401, 50027, 'Invalid Webhook Token')
    return undefined
  }

  const getWebhook = (c: Context) => {
    record(c, '', undefined)
    return (
      refusal(c) ??
      c.json({ id: WEBHOOK_ID, type: 1, name: 'Captain Hook', avatar: null, channel_id: CHANNEL_ID, guild_id: '2222222222222222222', application_id: null, token: TOKEN })
    )
  }

  const execute = async (c: Context) => {
    const rawBody = await c.req.text()
    let body: unknown
    let parsed = true
    try {
      body = JSON.parse(rawBody)
    } catch {
      parsed = false
    }
    record(c, rawBody, body)
    const refused = refusal(c)
    if (refused) return refused
    // Discord reads a body of another type as no fields at all.
    if (!/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) return discordErrorAnswer(400, 50006, 'Cannot send an empty message')
    if (!parsed) return discordErrorAnswer(400, 50109, 'The request body contains invalid JSON.')
    if (!body || typeof body !== 'object' || Array.isArray(body)) return discordErrorAnswer(400, 50035, 'Invalid Form Body')

    const message = body as Record<string, unknown>
    const content = typeof message.content === 'string' ? message.content : ''
    const embeds = Array.isArray(message.embeds) ? message.embeds : []
    if ([...content].length > 2000) {
      return discordErrorAnswer(400, 50035, 'Invalid Form Body', fieldError('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.'))
    }
    if (embeds.length > 10) {
      return discordErrorAnswer(400, 50035, 'Invalid Form Body', fieldError('embeds', 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.'))
    }
    if (typeof message.username === 'string' && /discord|clyde/i.test(message.username)) {
      return discordErrorAnswer(400, 50035, 'Invalid Form Body', fieldError('username', 'USERNAME_INVALID_CONTAINS', 'Username cannot contain "discord"'))
    }
    if (content.trim() === '' && embeds.length === 0) return discordErrorAnswer(400, 50006, 'Cannot send an empty message')

    const answer = scripted.shift()
    if (answer) return answer
    const id = snowflake()
    const createdMessage = {
      id,
      type: 0,
      content,
      channel_id: CHANNEL_ID,
      author: { id: WEBHOOK_ID, username: message.username ?? 'Captain Hook', avatar: null, discriminator: '0000', bot: true },
      attachments: [],
      embeds,
      mentions: [],
      mention_roles: [],
      mention_everyone: false,
      pinned: false,
      tts: message.tts === true,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      flags: 0,
      components: [],
      webhook_id: WEBHOOK_ID,
    }
    created.push(createdMessage)
    return c.req.query('wait') === 'true' ? c.json(createdMessage, 200) : c.body(null, 204)
  }

  const app = new Hono()
  app.post('/api/webhooks/:id/:token', execute)
  app.post('/api/:version{v[0-9]+}/webhooks/:id/:token', execute)
  app.get('/api/webhooks/:id/:token', getWebhook)
  app.get('/api/:version{v[0-9]+}/webhooks/:id/:token', getWebhook)
  app.all('*', (c) => c.json({ message: '404: Not Found', code: 0 }, 404))

  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: app.fetch })
  const origin = `http://127.0.0.1:${server.port}`
  return {
    origin,
    webhookId: WEBHOOK_ID,
    webhookUrl: `${origin}/api/webhooks/${WEBHOOK_ID}/${TOKEN}`,
    received,
    created,
    answerNext: (...answers) => void scripted.push(...answers),
    stop: () => server.stop(true),
  }
}

/** The token segment of the fake's webhook URL, to check that it never shows up anywhere. */
export const FAKE_DISCORD_TOKEN = TOKEN
