/**
 * A fake Slack incoming-webhook endpoint (hooks.slack.com) on loopback.
 *
 * What it checks, as Slack does:
 * - the path is `/services/{team}/{service}/{token}`: an unknown team or service is 404
 *   `no_service`, a wrong token 403 `invalid_token`;
 * - the body is JSON sent as application/json, else 400 `invalid_payload` (Slack also takes a
 *   form-encoded `payload=` field, which the connector never sends, so the fake refuses it to catch
 *   a regression);
 * - the message has `text` or `blocks`, else 400 `no_text`; at most 50 blocks, each with a
 *   `type`, else 400 `invalid_blocks`.
 * Success is HTTP 200 with the plain-text body `ok`.
 *
 * Error answers are bare strings in a text body with the HTTP status, as listed in Slack's
 * "Improving error conditions for Incoming Webhooks" (api.slack.com/changelog/
 * 2016-05-17-changes-to-errors-for-incoming-webhooks: 400 invalid_payload / user_not_found,
 * 403 action_prohibited, 404 channel_not_found, 410 channel_is_archived, 500 rollup_error), plus
 * no_service, no_team, invalid_token, invalid_blocks and missing_text_or_fallback_or_attachments
 * from the webhook error list of api.slack.com/messaging/webhooks (as collected by
 * routeforms.com/tools/slack-webhook-error-decoder), and 429 with Retry-After (seconds) for its
 * rate limit of about one message per second. A message without text answers `no_text`, the
 * older name of the same refusal, as the connector's brief lists it.
 */
import { Hono } from 'hono'

/** Slack's error strings with the HTTP status it sends them with. */
export const SLACK_ERROR_STATUS = {
  invalid_payload: 400,
  no_text: 400,
  missing_text_or_fallback_or_attachments: 400,
  invalid_blocks: 400,
  user_not_found: 400,
  action_prohibited: 403,
  invalid_token: 403,
  posting_to_general_channel_denied: 403,
  channel_not_found: 404,
  no_service: 404,
  no_team: 404,
  channel_is_archived: 410,
  rollup_error: 500,
} as const

export type SlackErrorCode = keyof typeof SLACK_ERROR_STATUS

/** Slack's answer for one of its errors: the bare string, with its status. */
export function slackErrorAnswer(code: SlackErrorCode): Response {
  return new Response(code, { status: SLACK_ERROR_STATUS[code], headers: { 'content-type': 'text/plain; charset=utf-8' } })
}

/** Slack's rate-limit answer. */
export function slackRateLimitAnswer(retryAfterSeconds: number): Response {
  return new Response('rate_limited', { status: 429, headers: { 'retry-after': String(retryAfterSeconds), 'content-type': 'text/plain' } })
}

export interface SlackRequest {
  method: string
  /** Path and query. */
  path: string
  /** Header names lower-cased. */
  headers: Record<string, string>
  rawBody: string
  /** The parsed JSON body, when it parsed. */
  body: unknown
}

export interface FakeSlack {
  /** `http://127.0.0.1:<port>` */
  origin: string
  /** The webhook URL of the workspace's one webhook, as Slack shows it. */
  webhookUrl: string
  /** Every request, in order, including refused ones. */
  received: SlackRequest[]
  /** The bodies of the messages Slack posted (answered 200 ok). */
  posted: Record<string, unknown>[]
  /** Answers for the next valid requests, used once each and in order, instead of posting. */
  answerNext(...answers: Response[]): void
  stop(): Promise<void>
}

const TEAM = 'T0001OMNI'
const SERVICE = 'B0002HOOK'
const TOKEN = 'xQ9fakeSlackWebhookToken7'

const plain = (text: string, status: number) => new Response(text, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } })

/** Starts the fake on an ephemeral loopback port. */
export function startFakeSlack(): FakeSlack {
  const received: SlackRequest[] = []
  const posted: Record<string, unknown>[] = []
  const scripted: Response[] = []

  const app = new Hono()
  app.post('/services/:team/:service/:token', async (c) => {
    const rawBody = await c.req.text()
    let body: unknown
    try {
      body = JSON.parse(rawBody)
    } catch {
      body = undefined
    }
    const url = new URL(c.req.url)
    received.push({ method: 'POST', path: url.pathname + url.search, headers: Object.fromEntries(c.req.raw.headers), rawBody, body })

    const { team, service, token } = c.req.param()
    if (team !== TEAM || service !== SERVICE) return slackErrorAnswer('no_service')
    if (token !== TOKEN) return slackErrorAnswer('invalid_token')
    if (!/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) return slackErrorAnswer('invalid_payload')
    if (!body || typeof body !== 'object' || Array.isArray(body)) return slackErrorAnswer('invalid_payload')

    const message = body as Record<string, unknown>
    const hasText = typeof message.text === 'string' && message.text.trim() !== ''
    const blocks = message.blocks
    if (blocks !== undefined) {
      if (!Array.isArray(blocks) || blocks.length > 50) return slackErrorAnswer('invalid_blocks')
      if (!blocks.every((b) => b && typeof b === 'object' && typeof (b as { type?: unknown }).type === 'string')) {
        return slackErrorAnswer('invalid_blocks')
      }
    }
    if (!hasText && !(Array.isArray(blocks) && blocks.length > 0)) return slackErrorAnswer('no_text')

    const answer = scripted.shift()
    if (answer) return answer
    posted.push(message)
    return plain('ok', 200)
  })
  // Anything else on hooks.slack.com is a 404 with a bare reason, like the real host.
  app.all('*', () => plain('invalid_url', 404))

  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: app.fetch })
  const origin = `http://127.0.0.1:${server.port}`
  return {
    origin,
    webhookUrl: `${origin}/services/${TEAM}/${SERVICE}/${TOKEN}`,
    received,
    posted,
    answerNext: (...answers) => void scripted.push(...answers),
    stop: () => server.stop(true),
  }
}

/** The token segment of the fake's webhook URL, to check that it never shows up anywhere. */
export const FAKE_SLACK_TOKEN = TOKEN
