/**
 * A fake Web Push service on loopback that checks what real push services check and records every
 * request, so tests can decrypt what a browser would receive. Sources relied on:
 * - RFC 8030 §5: a push is a POST to the subscription's endpoint, answered `201 Created` with a
 *   `Location` naming the push message resource; §5.2 `TTL` is required; §5.3 `Urgency` is one of
 *   very-low | low | normal | high; §5.4 `Topic` is at most 32 URL-safe base64 characters.
 * - RFC 8292 §3: `Authorization: vapid t=<JWT>, k=<public key>`; the JWT is ES256, `aud` is the
 *   origin of the endpoint, `exp` at most 24 hours ahead, `sub` a mailto: or https: contact.
 *   §4.2: a subscription made with an applicationServerKey refuses another key with 403.
 * - RFC 8291: `Content-Encoding: aes128gcm`, one record of at most 4096 bytes.
 * - Error answers and errno values as Mozilla autopush documents them
 *   (mozilla-services/autopush-rs docs/src/errors.md, docs/src/http.md):
 *   `{"code": 410, "errno": 103, "error": "Gone", "message": "…"}`; 400 errno 111 missing header,
 *   112 bad TTL, 113 bad Topic, 110 bad crypto; 401 errno 109; 404 errno 102; 410 errno 103;
 *   413 errno 104; 429 errno 201 with Retry-After; 500 errno 999.
 */
import { Hono } from 'hono'
import { importJWK, type JWTPayload, jwtVerify } from 'jose'

export interface PushRequest {
  token: string
  /** Header names lower-cased. */
  headers: Record<string, string>
  /** The encrypted body as received. */
  body: Uint8Array
  /** The verified VAPID claims, when the Authorization header passed. */
  claims?: JWTPayload
  /** The public key from `k=`. */
  vapidKey?: string
  /** What the fake answered. */
  status: number
}

export interface PushServiceOptions {
  /** The VAPID `sub` to insist on; any mailto:/https: contact when absent. */
  subject?: string
  /** How to answer a push that passed every check; n counts those from 1. Default: 201. */
  respond?: (req: PushRequest, n: number) => Response | undefined
}

export interface FakePushService {
  /** e.g. `http://127.0.0.1:41234` */
  origin: string
  /** Every request that arrived, in order, with the status it got. */
  received: PushRequest[]
  /** A new subscription endpoint; bound to the VAPID key when given (RFC 8292 §4.2). */
  endpoint(applicationServerKey?: string): string
  /** The browser unsubscribed: later pushes to it are 410 Gone. */
  expire(endpoint: string): void
  stop(): Promise<void>
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 410: 'Gone',
  413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
}

/** An error answer in autopush's shape. */
export function pushError(status: number, errno: number, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ code: status, errno, error: STATUS_TEXT[status] ?? 'Error', message }, { status, headers })
}

const MAX_BODY_BYTES = 4096
const MAX_EXP_AHEAD_S = 24 * 60 * 60

/** Verifies `vapid t=…, k=…` for this origin; the claims, or an error answer. */
async function verifyVapid(header: string | undefined, origin: string, subject?: string): Promise<{ claims: JWTPayload; key: string } | Response> {
  const match = /^vapid t=([A-Za-z0-9_.-]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '')
  if (!match) return pushError(401, 109, 'Missing or malformed vapid Authorization header')
  const [, token, key] = match as unknown as [string, string, string]
  const point = Buffer.from(key, 'base64url')
  if (point.length !== 65 || point[0] !== 0x04) return pushError(401, 109, 'k is not an uncompressed P-256 key')
  try {
    const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }
    const { payload } = await jwtVerify(token, await importJWK(jwk, 'ES256'), {
      algorithms: ['ES256'],
      audience: origin,
      requiredClaims: ['aud', 'exp', 'sub'],
    })
    if (payload.exp! > Date.now() / 1000 + MAX_EXP_AHEAD_S) return pushError(401, 109, 'exp is more than 24 hours ahead')
    if (!/^(mailto:|https:)/.test(String(payload.sub))) return pushError(401, 109, 'sub must be a mailto: or https: contact')
    if (subject !== undefined && payload.sub !== subject) return pushError(401, 109, `sub ${payload.sub} is not ${subject}`)
    return { claims: payload, key }
  } catch (err) {
    return pushError(401, 109, `Invalid VAPID token: ${(err as Error).message}`)
  }
}

export function startPushService(opts: PushServiceOptions = {}): FakePushService {
  const received: PushRequest[] = []
  /** token → the applicationServerKey it was made with ('' when none). */
  const subscriptions = new Map<string, string>()
  const expired = new Set<string>()
  let passed = 0
  let origin = ''

  async function check(req: PushRequest, authorization: string | undefined): Promise<Response> {
    if (expired.has(req.token)) return pushError(410, 103, 'Expired URL endpoint')
    const boundKey = subscriptions.get(req.token)
    if (boundKey === undefined) return pushError(404, 102, 'Invalid URL endpoint')
    const vapid = await verifyVapid(authorization, origin, opts.subject)
    if (vapid instanceof Response) return vapid
    ;[req.claims, req.vapidKey] = [vapid.claims, vapid.key]
    if (boundKey && vapid.key !== boundKey) return pushError(403, 109, 'VAPID key does not match the one the subscription was made with')
    const ttl = req.headers.ttl
    if (ttl === undefined) return pushError(400, 111, 'Missing TTL header')
    if (!/^\d+$/.test(ttl)) return pushError(400, 112, 'Invalid TTL header value')
    if (req.headers['content-encoding'] !== 'aes128gcm') return pushError(400, 110, 'Content-Encoding must be aes128gcm')
    const urgency = req.headers.urgency
    if (urgency !== undefined && !['very-low', 'low', 'normal', 'high'].includes(urgency)) return pushError(400, 111, 'Invalid Urgency header')
    const topic = req.headers.topic
    if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(topic)) return pushError(400, 113, 'Invalid Topic header value')
    if (req.body.length > MAX_BODY_BYTES) return pushError(413, 104, 'Data payload too large')
    passed++
    const id = crypto.randomUUID()
    return opts.respond?.(req, passed) ?? new Response(null, { status: 201, headers: { location: `${origin}/m/${id}`, ttl } })
  }

  const app = new Hono()
  app.post('/push/:token', async (c) => {
    const req: PushRequest = {
      token: c.req.param('token'),
      headers: Object.fromEntries(c.req.raw.headers),
      body: new Uint8Array(await c.req.arrayBuffer()),
      status: 0,
    }
    received.push(req)
    const res = await check(req, c.req.header('authorization'))
    req.status = res.status
    return res
  })

  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: app.fetch })
  origin = `http://127.0.0.1:${server.port}`
  return {
    origin,
    received,
    endpoint(applicationServerKey) {
      const token = crypto.randomUUID().replaceAll('-', '')
      subscriptions.set(token, applicationServerKey ?? '')
      return `${origin}/push/${token}`
    },
    expire(endpoint) {
      expired.add(endpoint.slice(endpoint.lastIndexOf('/') + 1))
    },
    stop: () => server.stop(true),
  }
}
