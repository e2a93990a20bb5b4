/**
 * The `slack` connector: posts messages to a Slack incoming webhook. The webhook URL names the
 * workspace, the destination channel and a secret token, so it is both a secret and the only
 * address the connector talks to; the message's `to` only labels it.
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
  webhookHealth,
  webhookUrlSchema,
} from './chat-webhook'
import { parseRetryAfter } from './http'
import { type Connector, ConnectorError, type OutboundMessage } from './types'

/** Slack truncates longer text, so a longer message is refused rather than cut. */
export const SLACK_MAX_TEXT = 40_000
/** Block Kit: at most 50 blocks in one message. */
export const SLACK_MAX_BLOCKS = 50

const slackWebhookUrl = webhookUrlSchema(/^\/services\/[A-Za-z0-9]+\/[A-Za-z0-9]+\/[A-Za-z0-9]+\/?$/, 'https://hooks.slack.com/services/T…/B…/…')

export const slackConfigSchema = z
  .strictObject({
    /** From "Incoming Webhooks" in the Slack app's settings; the destination channel is fixed by it. */
    webhook_url: slackWebhookUrl,
    /** Display name override (honoured by legacy webhooks; app webhooks post as the app). */
    username: z.string().min(1).max(80).optional(),
    icon_url: imageUrlSchema.optional(),
    icon_emoji: z
      .string()
      .regex(/^:[a-z0-9_+'-]+:$/, 'must be an emoji code like :rocket:')
      .optional(),
  })
  .superRefine((config, ctx) => {
    if (config.icon_url !== undefined && config.icon_emoji !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['icon_emoji'], message: 'give icon_url or icon_emoji, not both' })
    }
  })

export type SlackConfig = z.output<typeof slackConfigSchema>

export const slackOptionsSchema = z.strictObject({
  /** Block Kit blocks, passed through as they are; content.text becomes the notification fallback. */
  blocks: z
    .array(z.record(z.string(), z.unknown()))
    .max(SLACK_MAX_BLOCKS, `Slack takes at most ${SLACK_MAX_BLOCKS} blocks`)
    .optional(),
})

/** What Slack's error strings mean, for the message an operator reads. */
const SLACK_ERRORS: Record<string, string> = {
  invalid_payload: 'Slack could not read the message',
  no_text: 'the message has neither text nor blocks',
  missing_text_or_fallback_or_attachments: 'the message has neither text nor blocks',
  invalid_blocks: 'Slack refused the blocks',
  user_not_found: 'the user the webhook posts to does not exist',
  action_prohibited: 'the workspace restricts this webhook',
  invalid_token: 'the token in the webhook URL is not valid',
  posting_to_general_channel_denied: 'only admins may post to this channel',
  channel_not_found: "the webhook's channel no longer exists",
  no_service: 'the webhook was removed or disabled',
  no_team: 'the workspace no longer exists',
  team_disabled: 'the workspace is disabled',
  channel_is_archived: "the webhook's channel is archived",
  rollup_error: 'Slack failed to post the message',
}

/** The JSON an incoming webhook takes (https://api.slack.com/messaging/webhooks). */
function slackPayload(msg: OutboundMessage, config: SlackConfig) {
  const options = sendOptions(slackOptionsSchema, msg.options, 'slack')
  const text = msg.content.text
  return {
    ...(text !== undefined && text !== '' ? { text } : {}),
    ...(options.blocks && options.blocks.length > 0 ? { blocks: options.blocks } : {}),
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.icon_emoji !== undefined ? { icon_emoji: config.icon_emoji } : {}),
    ...(config.icon_url !== undefined ? { icon_url: config.icon_url } : {}),
  }
}

/**
 * Slack answers errors as a bare string in a plain-text body with the HTTP status
 * (`410 channel_is_archived`); that string becomes the code.
 */
async function slackError(res: Response, webhookUrl: string): Promise<ConnectorError> {
  const status = res.status
  if (status >= 300 && status < 400) return redirectError(status)
  const body = redact((await res.text()).trim().slice(0, ERROR_BODY_CHARS), webhookUrl)
  const slackCode = /^[a-z][a-z0-9_]{0,63}$/.test(body) ? body : undefined
  const meaning = slackCode !== undefined ? SLACK_ERRORS[slackCode] : undefined
  const message = `Slack answered HTTP ${status}${body ? ` ${body}` : ''}${meaning ? `: ${meaning}` : ''}`
  if (status === 429) {
    return new ConnectorError('rate-limited', slackCode ?? 'rate_limited', message, parseRetryAfter(res.headers.get('retry-after')))
  }
  const code = slackCode ?? `http_${status}`
  if (status === 408 || status >= 500) return new ConnectorError('transient', code, message)
  return new ConnectorError('permanent', code, message)
}

export const slackConnector: Connector<SlackConfig> = {
  type: 'slack',
  capabilities: ['send', 'health'],
  configSchema: slackConfigSchema,
  // The URL's path is the credential: masked like a secret, checked by the guard like a URL.
  secretKeys: ['webhook_url'],
  urlKeys: ['webhook_url'],
  optionsSchema: slackOptionsSchema,
  checkDraft(draft) {
    return checkChatDraft(draft, {
      provider: 'Slack',
      richField: 'options.slack.blocks',
      hasRich: hasItems(draft.options, 'slack', 'blocks'),
      maxText: SLACK_MAX_TEXT,
    })
  },
  async send(msg, ctx) {
    const url = ctx.config.webhook_url
    const res = await postWebhook(ctx, url, url, slackPayload(msg, ctx.config))
    // Slack answers 200 `ok` and keeps no id a caller could use: there is no provider message id.
    if (res.status >= 200 && res.status < 300) return { status: 'sent' }
    throw await slackError(res, url)
  },
  async health(ctx) {
    return webhookHealth(slackWebhookUrl, ctx.config.webhook_url, 'Slack')
  },
}
