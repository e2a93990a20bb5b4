/**
 * The `discord` connector: executes a Discord webhook. The webhook URL names the channel (and a
 * thread, with `?thread_id=`) and carries the webhook's token, so it is both a secret and the only
 * address the connector talks to; the message's `to` only labels it. `?wait=true` makes Discord
 * answer with the created message, whose id becomes the provider message id.
 */
import { z } from 'zod'
import {
  checkChatDraft,
  ERROR_BODY_CHARS,
  hasItems,
  imageUrlSchema,
  postWebhook,
  redact,
  redirectError,
  sendOptions,
  WEBHOOK_TIMEOUT_MS,
  webhookHealth,
  webhookUrlSchema,
} from './chat-webhook'
import { parseRetryAfter } from './http'
import { type Connector, type ConnectorContext, ConnectorError, type Health, type OutboundMessage } from './types'

/** Discord refuses message content longer than this (characters). */
export const DISCORD_MAX_CONTENT = 2000
/** Discord takes at most 10 embeds per message. */
export const DISCORD_MAX_EMBEDS = 10
/** How many of Discord's per-field errors go into a failure message. */
const FIELD_ERRORS_SHOWN = 3

const discordWebhookUrl = webhookUrlSchema(/^\/api(\/v\d+)?\/webhooks\/\d+\/[A-Za-z0-9_-]+\/?$/, 'https://discord.com/api/webhooks/<id>/<token>')

export const discordConfigSchema = z.strictObject({
  /** From a channel's Integrations → Webhooks in Discord; may end in `?thread_id=…`. */
  webhook_url: discordWebhookUrl,
  /** Display name override; Discord refuses names containing "discord" or "clyde". */
  username: z
    .string()
    .min(1)
    .max(80)
    .refine((name) => !/discord|clyde/i.test(name), 'Discord refuses webhook names containing "discord" or "clyde"')
    .optional(),
  avatar_url: imageUrlSchema.optional(),
})

export type DiscordConfig = z.output<typeof discordConfigSchema>

export const discordOptionsSchema = z.strictObject({
  /** Embed objects, passed through as they are. */
  embeds: z
    .array(z.record(z.string(), z.unknown()))
    .max(DISCORD_MAX_EMBEDS, `Discord takes at most ${DISCORD_MAX_EMBEDS} embeds`)
    .optional(),
  /** Read the message aloud to those viewing the channel. */
  tts: z.boolean().optional(),
})

/** The JSON body of Execute Webhook (https://discord.com/developers/docs/resources/webhook#execute-webhook). */
function discordPayload(msg: OutboundMessage, config: DiscordConfig) {
  const options = sendOptions(discordOptionsSchema, msg.options, 'discord')
  const content = msg.content.text
  return {
    ...(content !== undefined && content !== '' ? { content } : {}),
    ...(options.embeds && options.embeds.length > 0 ? { embeds: options.embeds } : {}),
    ...(options.tts !== undefined ? { tts: options.tts } : {}),
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.avatar_url !== undefined ? { avatar_url: config.avatar_url } : {}),
    // No mention in a message ever pings: not @everyone, not a role, not a user.
    allowed_mentions: { parse: [] },
  }
}

/** The API version asked for when the webhook URL names none. */
const API_VERSION = 'v10'

/**
 * The webhook URL pinned to an API version. "Copy Webhook URL" gives `/api/webhooks/…` with
 * none, which Discord serves as its default, v6, where a 429's `retry_after` is milliseconds
 * (seconds since v8) and errors have another shape: unversioned, a 1.5 s wait read as seconds
 * is 25 minutes. A version the operator wrote stays.
 */
function versioned(webhookUrl: string): URL {
  const url = new URL(webhookUrl)
  url.pathname = url.pathname.replace(/^\/api\/webhooks\//, `/api/${API_VERSION}/webhooks/`)
  return url
}

/** The webhook URL with `wait=true`, keeping a `thread_id` the operator put there. */
function executeUrl(webhookUrl: string): string {
  const url = versioned(webhookUrl)
  url.searchParams.set('wait', 'true')
  return url.toString()
}

/** A JSON object answer (an error, a rate limit, the created message), or undefined. */
function jsonBody(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** Discord's nested `errors` (`{content: {_errors: [{message}]}}`) as `content: message` lines. */
function fieldErrors(errors: unknown, path: string[] = []): string[] {
  if (!errors || typeof errors !== 'object') return []
  const out: string[] = []
  for (const [key, value] of Object.entries(errors)) {
    if (key === '_errors' && Array.isArray(value)) {
      for (const e of value) {
        const message = (e as { message?: unknown })?.message
        if (typeof message === 'string') out.push(`${path.join('.') || '(body)'}: ${message}`)
      }
    } else {
      out.push(...fieldErrors(value, [...path, key]))
    }
  }
  return out
}

async function discordError(res: Response, webhookUrl: string): Promise<ConnectorError> {
  const status = res.status
  if (status >= 300 && status < 400) return redirectError(status)
  const text = await res.text()
  const body = jsonBody(text)
  if (status === 429) {
    const seconds = typeof body?.retry_after === 'number' ? body.retry_after : undefined
    const hint = seconds !== undefined ? Math.ceil(seconds * 1000) : parseRetryAfter(res.headers.get('retry-after'))
    const scope = body?.global === true ? 'global' : 'webhook'
    return new ConnectorError('rate-limited', 'discord_rate_limited', `Discord answered HTTP 429: ${scope} rate limit`, hint)
  }
  const code = typeof body?.code === 'number' ? `discord_${body.code}` : `http_${status}`
  let detail = typeof body?.message === 'string' ? body.message : ''
  const fields = fieldErrors(body?.errors)
  if (fields.length > 0) detail += ` (${fields.slice(0, FIELD_ERRORS_SHOWN).join('; ')})`
  // A 5xx body is usually an HTML error page: only a JSON reason is worth keeping.
  if (!body && status < 500) detail = text.trim()
  detail = redact(detail.slice(0, ERROR_BODY_CHARS), webhookUrl)
  const message = `Discord answered HTTP ${status}${detail ? `: ${detail}` : ''}`
  if (status === 408 || status >= 500) return new ConnectorError('transient', code, message)
  return new ConnectorError('permanent', code, message)
}

/** The created message's id, from the 200 answer `?wait=true` asks for (a 204 has none). */
async function createdMessageId(res: Response): Promise<string | undefined> {
  const id = jsonBody(await res.text())?.id
  return typeof id === 'string' ? id : undefined
}

/**
 * "Get Webhook with Token" (GET on the webhook URL): needs no other credential and posts nothing,
 * so a deleted webhook or a wrong token shows up without a message in the channel.
 */
async function checkWebhook(ctx: ConnectorContext<DiscordConfig>): Promise<Health> {
  const shape = webhookHealth(discordWebhookUrl, ctx.config.webhook_url, 'Discord')
  if (!shape.ok) return shape
  const url = versioned(ctx.config.webhook_url)
  url.search = ''
  let res: Response
  try {
    res = await ctx.fetch(url.toString(), { method: 'GET', headers: { 'user-agent': ctx.userAgent }, timeoutMs: WEBHOOK_TIMEOUT_MS, signal: ctx.signal })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    return { ok: false, detail: `Discord did not answer: ${redact(message, ctx.config.webhook_url)}` }
  }
  if (res.status !== 200) return { ok: false, detail: (await discordError(res, ctx.config.webhook_url)).message }
  const webhook = jsonBody(await res.text())
  const name = typeof webhook?.name === 'string' ? ` "${webhook.name}"` : ''
  const channel = typeof webhook?.channel_id === 'string' ? ` posts to channel ${webhook.channel_id}` : ' exists'
  return { ok: true, detail: `webhook${name}${channel}; nothing was posted` }
}

export const discordConnector: Connector<DiscordConfig> = {
  type: 'discord',
  capabilities: ['send', 'health'],
  configSchema: discordConfigSchema,
  // The URL's path is the credential: masked like a secret, checked by the guard like a URL.
  secretKeys: ['webhook_url'],
  urlKeys: ['webhook_url'],
  optionsSchema: discordOptionsSchema,
  checkDraft(draft) {
    return checkChatDraft(draft, {
      provider: 'Discord',
      richField: 'options.discord.embeds',
      hasRich: hasItems(draft.options, 'discord', 'embeds'),
      maxText: DISCORD_MAX_CONTENT,
    })
  },
  async send(msg, ctx) {
    const webhookUrl = ctx.config.webhook_url
    const res = await postWebhook(ctx, executeUrl(webhookUrl), webhookUrl, discordPayload(msg, ctx.config))
    if (res.status >= 200 && res.status < 300) return { status: 'sent', providerMessageId: await createdMessageId(res) }
    throw await discordError(res, webhookUrl)
  },
  health: checkWebhook,
}
