/**
 * What the `slack` and `discord` connectors share: both post JSON to an incoming-webhook URL whose
 * path carries a secret token, so the URL is validated by shape, never shown whole, and kept out
 * of every error message (those are stored on the message and may be logged).
 */
import { z } from 'zod'
import { checkUrlSyntax, UrlRejectedError } from '../lib/url-guard'
import { type ConnectorContext, ConnectorError, type DraftProblem, type Health, type OutboundDraft } from './types'

/** Per-request timeout: both services answer in well under a second when they are healthy. */
export const WEBHOOK_TIMEOUT_MS = 10_000
/** How much of an error answer goes into the message: enough for the provider's reason. */
export const ERROR_BODY_CHARS = 200

/**
 * A webhook URL: http(s), no credentials, and a path of the provider's shape, so a URL copied from
 * the wrong page fails on create instead of on every send.
 */
export function webhookUrlSchema(path: RegExp, example: string) {
  return z
    .string()
    .max(2048)
    .superRefine((url, ctx) => {
      let parsed: URL
      try {
        parsed = checkUrlSyntax(url)
      } catch (err) {
        if (!(err instanceof UrlRejectedError)) throw err
        ctx.addIssue({ code: 'custom', message: err.message })
        return
      }
      // The URL itself is not echoed: its path is the secret.
      if (!path.test(parsed.pathname)) ctx.addIssue({ code: 'custom', message: `must be a webhook URL of the form ${example}` })
    })
}

/** An image URL the provider fetches itself (not the gateway), so only its syntax is checked. */
export const imageUrlSchema = z
  .string()
  .max(2048)
  .superRefine((url, ctx) => {
    try {
      checkUrlSyntax(url)
    } catch (err) {
      if (!(err instanceof UrlRejectedError)) throw err
      ctx.addIssue({ code: 'custom', message: err.message })
    }
  })

/** Removes the webhook URL (and its path alone) from a text that may be stored or logged. */
export function redact(text: string, webhookUrl: string): string {
  let out = text.split(webhookUrl).join('<webhook_url>')
  try {
    const { pathname } = new URL(webhookUrl)
    if (pathname.length > 1) out = out.split(pathname).join('/…')
    // The secret is the path's last segment: hidden wherever it shows (a rewritten path too).
    const token = pathname.split('/').filter(Boolean).at(-1)
    if (token && token.length >= 16) out = out.split(token).join('…')
  } catch {
    // An unparseable URL never reached fetch, so nothing of it can be in the text.
  }
  return out
}

/** POSTs JSON to the webhook; a request that gets no answer becomes a classified ConnectorError. */
export async function postWebhook(ctx: ConnectorContext, url: string, webhookUrl: string, body: unknown): Promise<Response> {
  try {
    return await ctx.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': ctx.userAgent },
      body: JSON.stringify(body),
      timeoutMs: WEBHOOK_TIMEOUT_MS,
      signal: ctx.signal,
    })
  } catch (err) {
    if (err instanceof UrlRejectedError) throw new ConnectorError('permanent', 'url_rejected', redact(err.message, webhookUrl))
    const name = err instanceof Error ? err.name : ''
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new ConnectorError('transient', 'timeout', `no response within ${WEBHOOK_TIMEOUT_MS} ms`)
    }
    const message = err instanceof Error ? err.message : String(err)
    throw new ConnectorError('transient', 'network_error', redact(message, webhookUrl))
  }
}

/**
 * `options[type]` as the schema reads it. They were checked when the message was accepted, so a
 * refusal here (a row from before a schema change) is final rather than retried.
 */
export function sendOptions<T>(schema: z.ZodType<T>, options: Record<string, unknown>, type: string): T {
  const parsed = schema.safeParse(options[type] ?? {})
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const field = ['options', type, ...(issue?.path ?? [])].map(String).join('.')
  throw new ConnectorError('permanent', 'invalid_options', `${field}: ${issue?.message ?? 'invalid'}`)
}

/** A 3xx: following it would let the URL bounce the gateway elsewhere, so it is final. */
export function redirectError(status: number): ConnectorError {
  return new ConnectorError('permanent', `http_${status}`, `HTTP ${status}: redirects are not followed; check the webhook URL`)
}

/** Unicode code points, as the providers count characters (an emoji is one, not two). */
export const charCount = (text: string) => [...text].length

export interface ChatDraftRules {
  /** "Slack", "Discord": used in the messages. */
  provider: string
  /** The option that can stand in for text (`options.slack.blocks`). */
  richField: string
  /** Whether the draft carries that option (a non-empty array). */
  hasRich: boolean
  /** Longest text the provider takes, in characters. */
  maxText: number
}

/** What incoming webhooks cannot carry, for both providers. */
export function checkChatDraft(draft: OutboundDraft, rules: ChatDraftRules): DraftProblem[] {
  const problems: DraftProblem[] = []
  const { content } = draft
  if (typeof draft.to !== 'string') {
    problems.push({ field: 'to', message: `must be a string: it only labels the message, the ${rules.provider} webhook decides where it goes` })
  }
  if (content.html !== undefined) {
    problems.push({ field: 'content.html', message: `html is not supported by ${rules.provider} incoming webhooks; send content.text (markdown)` })
  }
  if (content.attachments !== undefined && content.attachments.length > 0) {
    problems.push({ field: 'content.attachments', message: `attachments are not supported by ${rules.provider} incoming webhooks` })
  }
  if (content.subject !== undefined) {
    problems.push({ field: 'content.subject', message: `${rules.provider} messages have no subject; put it in content.text` })
  }
  const text = content.text ?? ''
  if (text.trim() === '' && !rules.hasRich) {
    problems.push({ field: 'content.text', message: `is required unless ${rules.richField} is given` })
  } else if (charCount(text) > rules.maxText) {
    problems.push({ field: 'content.text', message: `is ${charCount(text)} characters; ${rules.provider} takes at most ${rules.maxText}` })
  }
  return problems
}

/** A non-empty array at options[type][key] (unvalidated input: anything may be there). */
export function hasItems(options: Record<string, unknown>, type: string, key: string): boolean {
  const extras = options[type]
  if (!extras || typeof extras !== 'object') return false
  const value = (extras as Record<string, unknown>)[key]
  return Array.isArray(value) && value.length > 0
}

/**
 * Incoming webhooks have no endpoint that checks a URL without posting, so health checks the URL's
 * shape only and says so.
 */
export function webhookHealth(schema: z.ZodType, webhookUrl: string, provider: string): Health {
  const parsed = schema.safeParse(webhookUrl)
  if (!parsed.success) return { ok: false, detail: `webhook_url: ${parsed.error.issues[0]?.message ?? 'invalid'}` }
  return { ok: true, detail: `webhook URL is well-formed; ${provider} has no test endpoint — send a message to check` }
}
