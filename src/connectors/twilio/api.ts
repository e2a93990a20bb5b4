/**
 * Calls to Twilio's REST API (2010-04-01): form-encoded requests with HTTP Basic auth
 * (account SID : auth token), and Twilio's error JSON `{code, message, more_info, status}`
 * turned into classified connector errors.
 */
import { UrlRejectedError } from '../../lib/url-guard'
import { parseRetryAfter } from '../http'
import { type ConnectorContext, ConnectorError, type Health } from '../types'

export const DEFAULT_BASE_URL = 'https://api.twilio.com'
/** Twilio answers a create within a second or two; past this the attempt is retried. */
const REQUEST_TIMEOUT_MS = 15_000
/** How much of a non-JSON error body goes into the message. */
const ERROR_BODY_CHARS = 200

export interface TwilioConfig {
  account_sid: string
  auth_token: string
  messaging_service_sid?: string
  base_url: string
}

/** Twilio's REST error body. */
interface TwilioErrorBody {
  code?: number
  message?: string
  more_info?: string
  status?: number
}

/** Codes that mean "slow down" whatever HTTP status carries them. */
// 21611: the sender has more than 10 hours of messages queued; Twilio asks to send again later.
const RATE_LIMIT_CODES = new Set([20429, 14107, 21611])
/** Codes that mean the credentials are wrong: nothing will work until the channel is fixed. */
const AUTH_CODES = new Set([20003, 20005])

export function accountPath(config: TwilioConfig, suffix: string): string {
  return `${config.base_url.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(config.account_sid)}${suffix}`
}

/** One request to Twilio; network failures and timeouts come back as classified errors. */
export async function twilioRequest(
  ctx: ConnectorContext<TwilioConfig>,
  method: 'GET' | 'POST',
  url: string,
  form?: URLSearchParams,
): Promise<Response> {
  const { account_sid: sid, auth_token: token } = ctx.config
  const headers: Record<string, string> = {
    authorization: `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`,
    accept: 'application/json',
    'user-agent': ctx.userAgent,
  }
  if (form) headers['content-type'] = 'application/x-www-form-urlencoded'
  try {
    return await ctx.fetch(url, { method, headers, body: form?.toString(), signal: ctx.signal, timeoutMs: REQUEST_TIMEOUT_MS })
  } catch (err) {
    if (err instanceof UrlRejectedError) throw new ConnectorError('permanent', 'url_rejected', err.message)
    const name = err instanceof Error ? err.name : ''
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new ConnectorError('transient', 'timeout', 'no answer from Twilio in time')
    }
    throw new ConnectorError('transient', 'network_error', `cannot reach Twilio: ${err instanceof Error ? err.message : String(err)}`)
  }
}

async function readErrorBody(res: Response): Promise<{ body: TwilioErrorBody | null; text: string }> {
  const text = await res.text()
  try {
    const json: unknown = JSON.parse(text)
    if (json && typeof json === 'object') return { body: json as TwilioErrorBody, text }
  } catch {
    // A proxy's HTML error page, say: classified by status alone.
  }
  return { body: null, text }
}

/** A non-2xx answer from Twilio as a classified error; the code is Twilio's error code when it gave one. */
export async function twilioError(res: Response): Promise<ConnectorError> {
  const status = res.status
  const { body, text } = await readErrorBody(res)
  const twilioCode = typeof body?.code === 'number' ? body.code : undefined
  const code = twilioCode !== undefined ? String(twilioCode) : `http_${status}`
  const reason = body?.message?.trim() || text.trim().slice(0, ERROR_BODY_CHARS) || `HTTP ${status}`
  const described = twilioCode !== undefined ? `Twilio error ${twilioCode}: ${reason}` : `HTTP ${status} from Twilio: ${reason}`

  if (status === 429 || (twilioCode !== undefined && RATE_LIMIT_CODES.has(twilioCode))) {
    return new ConnectorError('rate-limited', code, `${described} (rate limited)`, parseRetryAfter(res.headers.get('retry-after')))
  }
  if (status === 408 || status >= 500) return new ConnectorError('transient', code, described)
  if (status === 401 || (twilioCode !== undefined && AUTH_CODES.has(twilioCode))) {
    return new ConnectorError('permanent', code, `authentication failed (${twilioCode ?? status}): check account_sid and auth_token`)
  }
  if (status >= 300 && status < 400) {
    return new ConnectorError('permanent', code, `HTTP ${status} from Twilio: redirects are not followed; check base_url`)
  }
  // Invalid or unreachable numbers, opted-out recipients, missing permissions, bad parameters:
  // the same request fails the same way every time.
  return new ConnectorError('permanent', code, described)
}

/** Fetches the account: the credentials work and the account can send. */
export async function checkAccount(ctx: ConnectorContext<TwilioConfig>): Promise<Health> {
  let res: Response
  try {
    res = await twilioRequest(ctx, 'GET', accountPath(ctx.config, '.json'))
  } catch (err) {
    return { ok: false, detail: (err as Error).message }
  }
  if (!res.ok) return { ok: false, detail: (await twilioError(res)).message }
  let account: { sid?: string; friendly_name?: string; status?: string; type?: string }
  try {
    account = (await res.json()) as typeof account
  } catch {
    return { ok: false, detail: 'Twilio answered the account request with something that is not JSON; check base_url' }
  }
  const name = account.friendly_name ? `"${account.friendly_name}" (${ctx.config.account_sid})` : ctx.config.account_sid
  if (account.status && account.status !== 'active') return { ok: false, detail: `account ${name} is ${account.status}` }
  const trial = account.type === 'Trial' ? '; trial account: it can only send to verified numbers' : ''
  return { ok: true, detail: `account ${name} is active${trial}` }
}
