/**
 * A fake Twilio REST API (2010-04-01) on loopback for the `twilio-sms` connector. It checks what
 * Twilio checks and answers in Twilio's shapes. What it relies on:
 * - Message create: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded `To`,
 *   `From` or `MessagingServiceSid`, `Body` and/or `MediaUrl` (repeated, at most 10),
 *   `StatusCallback`; answered 201 with the Message resource (`sid` "SM…", `status` queued, or
 *   accepted through a Messaging Service) — twilio.com/docs/messaging/api/message-resource and the
 *   `MessageResource` interface of the `twilio` npm package (lib/rest/api/v2010/account/message).
 * - Errors: JSON `{code, message, more_info, status}` with the HTTP status (the `twilio` package's
 *   RestException reads exactly these); 401/20003 "Authenticate" for bad credentials (twilio-node
 *   issues #559, twilio-video-app-react #841); 21604 To required, 21603 From required, 21602 body
 *   required (21619 through a Messaging Service), 21211 invalid To, 21617 body over 1600
 *   characters, 21623 too many media — twilio.com/docs/api/errors/{code}.
 * - Account fetch: `GET /2010-04-01/Accounts/{AccountSid}.json` → `{sid, friendly_name, status, type}`.
 * - Webhooks it would send are signed with `X-Twilio-Signature`; `signedCallback` builds one with
 *   the official `twilio` package, independently of the connector's own code.
 */
import { Hono } from 'hono'
import twilio from 'twilio'

export interface TwilioRequest {
  method: string
  path: string
  headers: Record<string, string>
  /** The form parameters in order (a name may repeat). */
  form: [string, string][]
}

export interface FakeTwilioOptions {
  accountSid: string
  authToken: string
  /** Overrides the answer to a valid message create; n counts them from 1. Return undefined for the default. */
  respond?: (req: TwilioRequest, n: number) => Response | undefined | Promise<Response | undefined>
  /** The account resource: status active|suspended|closed, type Full|Trial. */
  account?: { status?: string; type?: string; friendly_name?: string }
}

export interface FakeTwilio {
  /** The base_url to configure, e.g. `http://127.0.0.1:41234`. */
  url: string
  /** Every request that reached the fake, including refused ones. */
  received: TwilioRequest[]
  /** The sids of the messages it accepted, in order. */
  created: string[]
  stop(): Promise<void>
}

/** Twilio's error body, with the status it comes with. */
export function twilioErrorResponse(status: number, code: number, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }, { status, headers })
}

const hex = (n: number) => [...crypto.getRandomValues(new Uint8Array(n / 2))].map((b) => b.toString(16).padStart(2, '0')).join('')
const E164 = /^\+[1-9]\d{1,14}$/

export function startFakeTwilio(opts: FakeTwilioOptions): FakeTwilio {
  const received: TwilioRequest[] = []
  const created: string[] = []
  let valid = 0
  const app = new Hono<{ Variables: { request: TwilioRequest } }>()

  // Record everything, then check Basic auth like Twilio does before anything else.
  app.use('*', async (c, next) => {
    const raw = await c.req.raw.clone().text()
    const form = /^application\/x-www-form-urlencoded/i.test(c.req.header('content-type') ?? '') ? [...new URLSearchParams(raw).entries()] : []
    const request: TwilioRequest = { method: c.req.method, path: new URL(c.req.url).pathname, headers: Object.fromEntries(c.req.raw.headers), form }
    received.push(request)
    c.set('request', request)
    const auth = c.req.header('authorization') ?? ''
    const expected = `Basic ${Buffer.from(`${opts.accountSid}:${opts.authToken}`).toString('base64')}`
    if (auth !== expected) {
      return twilioErrorResponse(401, 20003, 'Authenticate', { 'www-authenticate': 'Basic realm="Twilio API"' })
    }
    await next()
  })

  const notFound = (path: string) => twilioErrorResponse(404, 20404, `The requested resource ${path} was not found`)

  app.get('/2010-04-01/Accounts/:file', (c) => {
    if (c.req.param('file') !== `${opts.accountSid}.json`) return notFound(c.req.path)
    return c.json({
      sid: opts.accountSid,
      friendly_name: opts.account?.friendly_name ?? 'My first Twilio account',
      status: opts.account?.status ?? 'active',
      type: opts.account?.type ?? 'Full',
      owner_account_sid: opts.accountSid,
      date_created: new Date().toUTCString(),
      uri: `/2010-04-01/Accounts/${opts.accountSid}.json`,
    })
  })

  app.post('/2010-04-01/Accounts/:sid/Messages.json', async (c) => {
    if (c.req.param('sid') !== opts.accountSid) return notFound(c.req.path)
    const req = c.get('request')
    // A body that is not form-encoded reads as no parameters at all, as at Twilio.
    const all = (name: string) => req.form.filter(([k]) => k === name).map(([, v]) => v)
    const one = (name: string) => all(name)[0]
    const [to, from, service, body, media] = [one('To'), one('From'), one('MessagingServiceSid'), one('Body'), all('MediaUrl')]
    if (!to) return twilioErrorResponse(400, 21604, "A 'To' phone number is required.")
    if (!from && !service) return twilioErrorResponse(400, 21603, "A 'From' phone number is required.")
    if (!body && media.length === 0) {
      return service && !from
        ? twilioErrorResponse(400, 21619, 'A text message body or media urls must be specified.')
        : twilioErrorResponse(400, 21602, 'Message body is required.')
    }
    if (!E164.test(to)) return twilioErrorResponse(400, 21211, `The 'To' number ${to} is not a valid phone number.`)
    if (body && body.length > 1600) return twilioErrorResponse(400, 21617, 'The concatenated message body exceeds the 1600 character limit.')
    if (media.length > 10) return twilioErrorResponse(400, 21623, 'The number of media files exceeds the allowed limit of 10.')

    const override = await opts.respond?.(req, ++valid)
    if (override) return override
    const sid = `SM${hex(32)}`
    created.push(sid)
    const now = new Date().toUTCString()
    return c.json(
      {
        account_sid: opts.accountSid,
        api_version: '2010-04-01',
        body: body ?? '',
        date_created: now,
        date_sent: null,
        date_updated: now,
        direction: 'outbound-api',
        error_code: null,
        error_message: null,
        from: from ?? null,
        messaging_service_sid: service ?? null,
        num_media: String(media.length),
        num_segments: '1',
        price: null,
        price_unit: 'USD',
        sid,
        status: service && !from ? 'accepted' : 'queued',
        subresource_uris: { media: `/2010-04-01/Accounts/${opts.accountSid}/Messages/${sid}/Media.json` },
        to,
        uri: `/2010-04-01/Accounts/${opts.accountSid}/Messages/${sid}.json`,
      },
      201,
    )
  })

  app.notFound((c) => notFound(c.req.path))

  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: app.fetch })
  return {
    url: `http://127.0.0.1:${server.port}`,
    received,
    created,
    stop: () => server.stop(true),
  }
}

/**
 * A webhook as Twilio sends it: form-encoded parameters, signed with the auth token over the
 * URL it calls (by the official `twilio` package). Pass the result to `app.request(path, …)`.
 */
export function signedCallback(authToken: string, url: string, params: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(authToken, url, params),
      'user-agent': 'TwilioProxy/1.1',
    },
    body: new URLSearchParams(params).toString(),
  }
}

/** Whether the official package accepts a signature for these parameters (for checking the checker). */
export function twilioAccepts(authToken: string, signature: string, url: string, params: Record<string, string>): boolean {
  return twilio.validateRequest(authToken, signature, url, params)
}
