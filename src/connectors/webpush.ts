/**
 * The `webpush` connector: Web Push (RFC 8030) to a browser's push subscription, the payload
 * encrypted for that browser (RFC 8291, aes128gcm) and the request signed with the channel's VAPID
 * key pair (RFC 8292). The push service URL is the subscription's endpoint, so there is no
 * base_url: every endpoint goes through the guarded fetch at send time.
 */
import { createECDH, ECDH } from 'node:crypto'
import { importJWK, jwtVerify } from 'jose'
import type webpushType from 'web-push'
import { z } from 'zod'
import { checkUrlSyntax, UrlRejectedError } from '../lib/url-guard'
import { parseRetryAfter } from './http'
import { type Connector, ConnectorError, type DraftProblem, type OutboundMessage } from './types'

/** Push services keep a message at most about four weeks (web-push's own maximum TTL). */
const MAX_TTL_SECONDS = 2_419_200
/** One day: long enough to reach a device that is off overnight, short enough not to surprise. */
const DEFAULT_TTL_SECONDS = 86_400
/**
 * RFC 8291 §4: the encrypted body is one 4096-byte record at most; minus the 86-byte header, the
 * 16-byte tag and the padding delimiter, that leaves 3993 bytes of plaintext.
 */
export const MAX_PAYLOAD_BYTES = 3993
/** How much of an error response goes into the message: enough to read the service's reason. */
const ERROR_BODY_CHARS = 200
const URGENCIES = ['very-low', 'low', 'normal', 'high'] as const
const BASE64URL = /^[A-Za-z0-9_-]+$/
/** Subscription keys as browsers export them (unpadded), padding tolerated. */
const BASE64URL_PADDED = /^[A-Za-z0-9_-]+={0,2}$/
/** RFC 8030 §5.4: a topic is at most 32 characters of the URL-safe base64 alphabet. */
const TOPIC = /^[A-Za-z0-9_-]{1,32}$/

/** An uncompressed P-256 point (65 bytes, 0x04 first) that lies on the curve. */
function isP256Point(bytes: Buffer): boolean {
  if (bytes.length !== 65 || bytes[0] !== 0x04) return false
  try {
    ECDH.convertKey(bytes, 'prime256v1')
    return true
  } catch {
    return false
  }
}

/** Why two VAPID keys are not one P-256 pair, or null when they are. */
function vapidPairProblem(publicKey: string, privateKey: string): { key: string; message: string } | null {
  if (!BASE64URL.test(publicKey) || !isP256Point(Buffer.from(publicKey, 'base64url'))) {
    return { key: 'vapid_public_key', message: 'must be an uncompressed P-256 public key, base64url without padding (65 bytes)' }
  }
  const secret = Buffer.from(privateKey, 'base64url')
  if (!BASE64URL.test(privateKey) || secret.length !== 32) {
    return { key: 'vapid_private_key', message: 'must be a P-256 private key, base64url without padding (32 bytes)' }
  }
  const ecdh = createECDH('prime256v1')
  try {
    ecdh.setPrivateKey(secret)
  } catch {
    return { key: 'vapid_private_key', message: 'is not a valid P-256 private key' }
  }
  if (ecdh.getPublicKey('base64url') !== publicKey) {
    return { key: 'vapid_public_key', message: 'does not belong to vapid_private_key; give the pair generated together' }
  }
  return null
}

export const webpushConfigSchema = z
  .strictObject({
    vapid_public_key: z.string().optional(),
    vapid_private_key: z.string().optional(),
    subject: z.string().superRefine((subject, ctx) => {
      const url = URL.canParse(subject) ? new URL(subject) : null
      if (!url || (url.protocol !== 'mailto:' && url.protocol !== 'https:') || url.href === 'mailto:') {
        ctx.addIssue({ code: 'custom', message: 'must be a mailto: address or an https: URL where the push service operator can reach you' })
      } else if (url.hostname === 'localhost') {
        // Apple's push service answers BadJwtToken to a localhost subject.
        ctx.addIssue({ code: 'custom', message: 'must not point to localhost: push services refuse it' })
      }
    }),
    ttl_seconds: z.int().min(0).max(MAX_TTL_SECONDS).default(DEFAULT_TTL_SECONDS),
    urgency: z.enum(URGENCIES).optional(),
  })
  .superRefine((config, ctx) => {
    const { vapid_public_key: publicKey, vapid_private_key: privateKey } = config
    if (publicKey === undefined && privateKey === undefined) return
    if (publicKey === undefined || privateKey === undefined) {
      const [missing, given] = publicKey === undefined ? ['vapid_public_key', 'vapid_private_key'] : ['vapid_private_key', 'vapid_public_key']
      ctx.addIssue({ code: 'custom', path: [missing], message: `is required with ${given}; give both keys, or neither to have them generated` })
      return
    }
    const problem = vapidPairProblem(publicKey, privateKey)
    if (problem) ctx.addIssue({ code: 'custom', path: [problem.key], message: problem.message })
  })

export type WebpushConfig = z.output<typeof webpushConfigSchema>

/** `options.webpush` of a message: per-message push headers and extra payload fields. */
export const webpushOptionsSchema = z.strictObject({
  ttl_seconds: z.int().min(0).max(MAX_TTL_SECONDS).optional(),
  urgency: z.enum(URGENCIES).optional(),
  topic: z.string().regex(TOPIC, 'at most 32 characters of A-Z, a-z, 0-9, - and _').optional(),
  payload: z.record(z.string(), z.unknown()).optional(),
})

type WebpushOptions = z.output<typeof webpushOptionsSchema>
type Subscription = { endpoint: string; keys: { p256dh: string; auth: string } }

/** What the service worker receives: `title`, `body`, `data`, then `options.webpush.payload` over them. */
export function pushPayload(content: OutboundMessage['content'], metadata: Record<string, string> | undefined, options: WebpushOptions) {
  return JSON.stringify({ title: content.subject, body: content.text, data: metadata, ...options.payload })
}

/** What is wrong with a recipient as a push subscription (browsers' `PushSubscription.toJSON()`). */
function subscriptionProblems(to: string | Record<string, unknown>): DraftProblem[] {
  if (typeof to === 'string') {
    // A JSON object sent as a string is already reported by the message checks.
    if (to.startsWith('{')) return []
    return [{ field: 'to', message: 'must be a push subscription object {"endpoint": …, "keys": {"p256dh": …, "auth": …}}, not a string' }]
  }
  const problems: DraftProblem[] = []
  for (const key of Object.keys(to)) {
    if (!['endpoint', 'expirationTime', 'keys'].includes(key)) problems.push({ field: `to.${key}`, message: 'unknown field' })
  }
  if (typeof to.endpoint !== 'string') problems.push({ field: 'to.endpoint', message: 'is required: the push service URL of the subscription' })
  else {
    try {
      checkUrlSyntax(to.endpoint)
    } catch (err) {
      if (!(err instanceof UrlRejectedError)) throw err
      problems.push({ field: 'to.endpoint', message: err.message })
    }
  }
  if (to.expirationTime !== undefined && to.expirationTime !== null && typeof to.expirationTime !== 'number') {
    problems.push({ field: 'to.expirationTime', message: 'must be null or a time in ms since the epoch' })
  }
  const keys = to.keys
  if (keys === null || typeof keys !== 'object' || Array.isArray(keys)) {
    return [...problems, { field: 'to.keys', message: 'is required: {"p256dh": …, "auth": …} from the subscription' }]
  }
  const { p256dh, auth } = keys as Record<string, unknown>
  if (typeof p256dh !== 'string' || !BASE64URL_PADDED.test(p256dh) || !isP256Point(Buffer.from(p256dh, 'base64url'))) {
    problems.push({ field: 'to.keys.p256dh', message: "must be the browser's P-256 public key, base64url (65 bytes)" })
  }
  if (typeof auth !== 'string' || !BASE64URL_PADDED.test(auth) || Buffer.from(auth, 'base64url').length !== 16) {
    problems.push({ field: 'to.keys.auth', message: 'must be the 16-byte authentication secret, base64url' })
  }
  return problems
}

function failedRequest(err: unknown): ConnectorError {
  if (err instanceof UrlRejectedError) return new ConnectorError('permanent', 'url_rejected', err.message)
  const name = err instanceof Error ? err.name : ''
  if (name === 'TimeoutError' || name === 'AbortError') return new ConnectorError('transient', 'timeout', 'the push service did not answer in time')
  return new ConnectorError('transient', 'network_error', err instanceof Error ? err.message : String(err))
}

/** The service's reason: autopush answers `{code, errno, error, message}`, others plain text. */
async function reason(res: Response): Promise<string> {
  const text = (await res.text()).trim()
  try {
    const json = JSON.parse(text) as { message?: unknown; errno?: unknown }
    if (typeof json.message === 'string') return `${json.message}${typeof json.errno === 'number' ? ` (errno ${json.errno})` : ''}`
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, ERROR_BODY_CHARS)
}

async function failedResponse(res: Response): Promise<ConnectorError> {
  const status = res.status
  const why = await reason(res)
  const said = why ? `: ${why}` : ''
  if (status === 404 || status === 410) {
    return new ConnectorError(
      'permanent',
      'subscription_gone',
      `HTTP ${status}${said}. The push subscription is gone (the browser unsubscribed or it expired): delete it and stop sending to it`,
    )
  }
  if (status === 413) {
    return new ConnectorError('permanent', 'payload_too_large', `HTTP 413${said}. The encrypted payload is too large for the push service`)
  }
  if (status === 429) {
    return new ConnectorError('rate-limited', 'http_429', `HTTP 429${said}`, parseRetryAfter(res.headers.get('retry-after')))
  }
  if (status === 401 || status === 403) {
    return new ConnectorError(
      'permanent',
      'vapid_rejected',
      `HTTP ${status}${said}. The push service refused the VAPID authorization: the subscription was made with another ` +
        'VAPID public key, or the subject is not accepted',
    )
  }
  if (status === 408 || status >= 500) return new ConnectorError('transient', `http_${status}`, `HTTP ${status} from the push service${said}`)
  if (status >= 300 && status < 400) {
    return new ConnectorError('permanent', `http_${status}`, `HTTP ${status}: redirects are not followed; the subscription endpoint must be final`)
  }
  return new ConnectorError('permanent', `http_${status}`, `HTTP ${status} from the push service${said}`)
}

let webpushModule: Promise<typeof webpushType> | null = null
/** web-push, loaded on first use: ~13 MB of idle memory that only web push channels need. */
function loadWebpush(): Promise<typeof webpushType> {
  webpushModule ??= import('web-push').then((m) => m.default)
  return webpushModule
}

/**
 * A VAPID key pair as web-push's `generateVAPIDKeys` makes it (a P-256 pair: the uncompressed
 * 65-byte public point and the 32-byte private scalar, base64url), without loading web-push
 * when a channel is created.
 */
function generateVapidKeys(): { publicKey: string; privateKey: string } {
  const curve = createECDH('prime256v1')
  curve.generateKeys()
  const pad = (b: Buffer, n: number) => (b.length < n ? Buffer.concat([Buffer.alloc(n - b.length), b]) : b)
  return { publicKey: pad(curve.getPublicKey(), 65).toString('base64url'), privateKey: pad(curve.getPrivateKey(), 32).toString('base64url') }
}

/** Signs a VAPID JWT for a made-up audience and verifies it with the public key: the pair works. */
async function checkVapidKeys(config: WebpushConfig): Promise<void> {
  const { vapid_public_key: publicKey, vapid_private_key: privateKey, subject } = config
  if (!publicKey || !privateKey) throw new Error('the channel has no VAPID keys; replace its config to have them generated')
  const audience = 'https://example.invalid'
  const webpush = await loadWebpush()
  const { Authorization } = webpush.getVapidHeaders(audience, subject, publicKey, privateKey, 'aes128gcm')
  const token = /^vapid t=([^,]+), k=/.exec(Authorization)?.[1]
  if (!token) throw new Error('web-push produced no VAPID token')
  const point = Buffer.from(publicKey, 'base64url')
  const key = await importJWK({
    kty: 'EC',
    crv: 'P-256',
    x: point.subarray(1, 33).toString('base64url'),
    y: point.subarray(33).toString('base64url'),
  }, 'ES256')
  await jwtVerify(token, key, { audience, subject })
}

export const webpushConnector: Connector<WebpushConfig> = {
  type: 'webpush',
  capabilities: ['send', 'health'],
  configSchema: webpushConfigSchema,
  secretKeys: ['vapid_private_key'],
  optionsSchema: webpushOptionsSchema,
  prepareConfig(config, previous) {
    if (config.vapid_public_key !== undefined) return config
    // A replaced config (PATCH, a config file without keys) keeps the stored pair: new keys
    // would silently break every browser subscription made with the old one.
    if (previous?.vapid_public_key && previous.vapid_private_key) {
      return { ...config, vapid_public_key: previous.vapid_public_key, vapid_private_key: previous.vapid_private_key }
    }
    const keys = generateVapidKeys()
    return { ...config, vapid_public_key: keys.publicKey, vapid_private_key: keys.privateKey }
  },
  checkDraft(draft) {
    const problems = subscriptionProblems(draft.to)
    if (draft.content.attachments?.length) {
      problems.push({ field: 'content.attachments', message: 'web push cannot carry attachments; link to them in options.webpush.payload' })
    }
    if (draft.content.html !== undefined) {
      problems.push({ field: 'content.html', message: 'web push notifications are plain text; put the body in content.text' })
    }
    const options = webpushOptionsSchema.safeParse(draft.options.webpush ?? {})
    // Metadata is not part of the draft, so this is a lower bound; send checks the whole payload.
    const size = Buffer.byteLength(pushPayload(draft.content, undefined, options.success ? options.data : {}))
    if (size > MAX_PAYLOAD_BYTES) {
      problems.push({ field: 'content.text', message: `the push payload would be ${size} bytes; web push carries at most ${MAX_PAYLOAD_BYTES}` })
    }
    return problems
  },
  async send(msg, ctx) {
    const { config } = ctx
    const options = webpushOptionsSchema.parse(msg.options.webpush ?? {})
    const payload = pushPayload(msg.content, msg.metadata, options)
    const size = Buffer.byteLength(payload)
    if (size > MAX_PAYLOAD_BYTES) {
      throw new ConnectorError('permanent', 'payload_too_large', `the push payload is ${size} bytes; at most ${MAX_PAYLOAD_BYTES} fit`)
    }
    const webpush = await loadWebpush()
    let details: ReturnType<typeof webpush.generateRequestDetails>
    try {
      const to = msg.to as Subscription
      details = webpush.generateRequestDetails({ endpoint: to.endpoint, keys: { p256dh: to.keys.p256dh, auth: to.keys.auth } }, payload, {
        vapidDetails: { subject: config.subject, publicKey: config.vapid_public_key!, privateKey: config.vapid_private_key! },
        TTL: options.ttl_seconds ?? config.ttl_seconds,
        urgency: options.urgency ?? config.urgency,
        topic: options.topic,
        contentEncoding: 'aes128gcm',
      })
    } catch (err) {
      throw new ConnectorError('permanent', 'invalid_request', `cannot build the push request: ${(err as Error).message}`)
    }
    const headers = new Headers({ 'user-agent': ctx.userAgent })
    // fetch sets Content-Length from the body itself.
    for (const [name, value] of Object.entries(details.headers)) if (name.toLowerCase() !== 'content-length') headers.set(name, String(value))

    let res: Response
    try {
      res = await ctx.fetch(details.endpoint, { method: details.method, headers, body: details.body, signal: ctx.signal })
    } catch (err) {
      throw failedRequest(err)
    }
    if (res.status >= 200 && res.status < 300) {
      // RFC 8030 §5: the Location header names the push message resource.
      return { status: 'sent', providerMessageId: res.headers.get('location') ?? undefined }
    }
    throw await failedResponse(res)
  },
  async health(ctx) {
    try {
      await checkVapidKeys(ctx.config)
      return { ok: true, detail: `VAPID key pair signs and verifies; public key ${ctx.config.vapid_public_key}` }
    } catch (err) {
      return { ok: false, detail: `VAPID keys do not work: ${(err as Error).message}` }
    }
  },
}
