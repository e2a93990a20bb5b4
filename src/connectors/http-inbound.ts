/**
 * Inbound for the `http` channel: a system of the tenant's POSTs JSON to
 * `/inbound/{channel_id}`, signed with the channel's `inbound_secret`, to hand omnigate inbound
 * messages and status reports on messages it sent through that channel.
 *
 * Authentication, either of:
 * - `x-omnigate-timestamp: <unix seconds>` and
 *   `x-omnigate-signature: v1=<hex HMAC-SHA256(inbound_secret, "<timestamp>.<raw body>")>`,
 *   the timestamp within 5 minutes of the gateway's clock (replays of old requests are refused);
 * - `Authorization: Bearer <inbound_secret>` (a shared secret, for systems that cannot sign).
 *
 * Body: `{"messages": [{"from", "to"?, "id", "content": {…}, "metadata"?}],
 *         "statuses": [{"id", "status": "sent"|"delivered"|"read"|"failed", "error_code"?, "error_message"?, "timestamp"?}]}`
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { contentSchema } from '../domain/messages/input'
import { zodFieldErrors } from '../lib/zod-errors'
import { type InboundContext, InboundError, type InboundResult } from './types'

/** Signed requests older (or newer) than this are refused: a captured request cannot be replayed later. */
const MAX_SKEW_SECONDS = 300

const inboundBodySchema = z.strictObject({
  messages: z
    .array(
      z.strictObject({
        from: z.string().min(1).max(512),
        to: z.string().min(1).max(512).optional(),
        // Required: it makes a replayed request (within the signature window) store nothing twice.
        id: z.string().min(1).max(255),
        content: contentSchema,
        metadata: z.record(z.string(), z.string().max(1024)).optional(),
      }),
    )
    .max(1000)
    .default([]),
  statuses: z
    .array(
      z.strictObject({
        id: z.string().min(1).max(255),
        status: z.enum(['sent', 'delivered', 'read', 'failed']),
        error_code: z.string().max(100).optional(),
        error_message: z.string().max(1000).optional(),
        timestamp: z.iso.datetime({ offset: true }).optional(),
      }),
    )
    .max(1000)
    .default([]),
})

function same(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)]
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Signs a body the way the gateway checks it: over the exact bytes sent (for clients and tests). */
export function signHttpInbound(secret: string, timestamp: number, body: string | Uint8Array): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`
}

function authenticate(req: Request, secret: string, body: Uint8Array): void {
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.get('authorization') ?? '')?.[1]
  if (bearer !== undefined) {
    if (!same(bearer, secret)) throw new InboundError(403, 'the bearer secret does not match the channel inbound_secret')
    return
  }
  const timestamp = Number(req.headers.get('x-omnigate-timestamp'))
  const signature = req.headers.get('x-omnigate-signature') ?? ''
  if (!Number.isInteger(timestamp) || !signature) {
    throw new InboundError(403, 'sign the request (x-omnigate-timestamp, x-omnigate-signature) or send Authorization: Bearer <inbound_secret>')
  }
  if (Math.abs(Date.now() / 1000 - timestamp) > MAX_SKEW_SECONDS) {
    throw new InboundError(403, `x-omnigate-timestamp is more than ${MAX_SKEW_SECONDS} s away from the gateway's clock`)
  }
  // Several signatures may be sent during a secret rotation: any valid one will do.
  const expected = signHttpInbound(secret, timestamp, body)
  if (!signature.split(/[\s,]+/).some((candidate) => same(candidate, expected))) {
    throw new InboundError(403, 'x-omnigate-signature does not match')
  }
}

export async function parseHttpInbound(req: Request, ctx: InboundContext<{ inbound_secret?: string }>): Promise<InboundResult> {
  if (req.method !== 'POST') throw new InboundError(405, 'send inbound messages with POST')
  const secret = ctx.config.inbound_secret
  if (!secret) throw new InboundError(403, 'inbound is off for this channel: set config.inbound_secret')
  // The signature covers the bytes as sent: decoding first would drop a byte-order mark.
  const raw = new Uint8Array(await req.arrayBuffer())
  authenticate(req, secret, raw)
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder().decode(raw))
  } catch {
    throw new InboundError(400, 'the body is not valid JSON')
  }
  const parsed = inboundBodySchema.safeParse(json)
  if (!parsed.success) {
    const first = zodFieldErrors(parsed.error)[0]!
    throw new InboundError(400, `${first.field}: ${first.message}`)
  }
  const { messages, statuses } = parsed.data
  return {
    response: Response.json({ ok: true, messages: messages.length, statuses: statuses.length }),
    messages: messages.map((m) => ({ from: m.from, to: m.to, content: m.content, providerMessageId: m.id, metadata: m.metadata })),
    statuses: statuses.map((s) => ({
      providerMessageId: s.id,
      status: s.status,
      errorCode: s.error_code,
      errorMessage: s.error_message,
      at: s.timestamp ? Date.parse(s.timestamp) : undefined,
    })),
  }
}
