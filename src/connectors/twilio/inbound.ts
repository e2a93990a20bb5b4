/**
 * Twilio's messaging webhooks to `/inbound/{channel_id}`: an incoming SMS/MMS (the number's
 * "A message comes in" URL) or a status callback (the StatusCallback sent with each message).
 * Both are form-encoded POSTs signed with `X-Twilio-Signature`.
 */
import type { MessageContent } from '../../store/schema'
import { InboundError, type InboundContext, type InboundMessage, type InboundResult, type StatusUpdate } from '../types'
import type { TwilioConfig } from './api'
import { type FormParams, isValidTwilioSignature } from './signature'

/** An empty TwiML document: "received, nothing to reply". */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

/** Twilio's MessageStatus values that move an outbound message; the rest (queued, sending, accepted, …) are ignored. */
const STATUS_MAP: Record<string, StatusUpdate['status']> = {
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  undelivered: 'failed',
  failed: 'failed',
}

/** Short words for the delivery errors seen most (Twilio's error dictionary, 21xxx/30xxx). */
const ERROR_TEXT: Record<string, string> = {
  '21211': "invalid 'To' phone number",
  '21408': 'sending to this region is not enabled on the account',
  '21610': 'the recipient has unsubscribed (replied STOP)',
  '21612': 'Twilio cannot route between these numbers',
  '21614': "'To' is not a mobile number",
  '30001': 'carrier queue overflow',
  '30002': 'account suspended',
  '30003': 'unreachable destination handset',
  '30004': 'message blocked',
  '30005': 'unknown destination handset',
  '30006': 'landline or unreachable carrier',
  '30007': 'message filtered by the carrier',
  '30008': 'unknown carrier error',
  '30034': 'sender not registered for US A2P 10DLC',
}

/**
 * Failures that say the number itself will never take a message from us, so it is suppressed:
 * 21610 the recipient opted out at Twilio, 30005 the number is unknown or out of service, 30006
 * a landline (Twilio: "do not retry the same SMS to that destination"). Not 30003 (a phone that
 * is off) nor 30004 (Twilio lists temporary causes and content filtering next to opt-outs).
 */
const SUPPRESSING_CODES = new Set(['21610', '30005', '30006'])

/** Content types Twilio delivers MMS media in, for a readable file name. */
const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
  'video/mp4': 'mp4',
  'video/3gpp': '3gp',
  'audio/mpeg': 'mp3',
  'audio/amr': 'amr',
  'text/vcard': 'vcf',
  'text/x-vcard': 'vcf',
  'application/pdf': 'pdf',
}

async function readForm(req: Request): Promise<FormParams> {
  if (req.method !== 'POST') throw new InboundError(405, 'Twilio callbacks are POST requests')
  const type = req.headers.get('content-type') ?? ''
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    throw new InboundError(415, `expected an application/x-www-form-urlencoded body, got ${type || 'none'}`)
  }
  return [...new URLSearchParams(await req.text()).entries()]
}

/** Verifies the request came from Twilio for this channel's account, and returns its parameters. */
async function verifiedParams(req: Request, ctx: InboundContext<TwilioConfig>): Promise<Map<string, string>> {
  const signature = req.headers.get('x-twilio-signature')
  if (!signature) throw new InboundError(403, 'missing X-Twilio-Signature')
  const form = await readForm(req)
  // Twilio signs the URL it was given: the channel's inbound_url plus any query string the
  // operator added to it in the console.
  const signedUrl = ctx.callbackUrl + new URL(req.url).search
  if (!isValidTwilioSignature(ctx.config.auth_token, signature, signedUrl, form)) {
    throw new InboundError(403, 'X-Twilio-Signature does not match; check auth_token and that Twilio calls exactly the inbound_url')
  }
  const params = new Map(form)
  const account = params.get('AccountSid')
  if (account !== undefined && account !== ctx.config.account_sid) {
    throw new InboundError(403, 'the callback is for another Twilio account')
  }
  return params
}

function fileName(url: string, contentType: string | undefined, index: number): string {
  const last = url.split(/[?#]/)[0]!.split('/').filter(Boolean).pop() || `media-${index}`
  const ext = contentType ? EXTENSIONS[contentType.toLowerCase()] : undefined
  return ext && !last.includes('.') ? `${last}.${ext}` : last
}

function incomingMessage(params: Map<string, string>): InboundMessage {
  const from = params.get('From')
  const providerMessageId = params.get('MessageSid') ?? params.get('SmsMessageSid') ?? params.get('SmsSid')
  if (!from || !providerMessageId) throw new InboundError(400, 'an incoming message needs From and MessageSid')
  const count = Math.min(Number.parseInt(params.get('NumMedia') ?? '0', 10) || 0, 50)
  const attachments: NonNullable<MessageContent['attachments']> = []
  for (let i = 0; i < count; i++) {
    const url = params.get(`MediaUrl${i}`)
    if (!url) continue
    const contentType = params.get(`MediaContentType${i}`)
    attachments.push({ filename: fileName(url, contentType, i), url, ...(contentType ? { content_type: contentType } : {}) })
  }
  const body = params.get('Body') ?? ''
  const content: MessageContent = body !== '' || attachments.length === 0 ? { text: body } : {}
  if (attachments.length > 0) content.attachments = attachments
  const metadata: Record<string, string> = {}
  for (const [param, key] of [
    ['MessagingServiceSid', 'messaging_service_sid'],
    ['NumSegments', 'num_segments'],
    ['FromCountry', 'from_country'],
    // Twilio's Advanced Opt-Out names the keyword's kind (STOP, START, HELP), custom keywords included.
    ['OptOutType', 'opt_out_type'],
  ] as const) {
    const value = params.get(param)
    if (value) metadata[key] = value
  }
  return { from, to: params.get('To') || undefined, content, providerMessageId, metadata }
}

function statusUpdate(params: Map<string, string>, twilioStatus: string): StatusUpdate | null {
  const status = STATUS_MAP[twilioStatus]
  if (!status) return null
  const providerMessageId = params.get('MessageSid') ?? params.get('SmsSid')
  if (!providerMessageId) throw new InboundError(400, 'a status callback needs MessageSid')
  if (status !== 'failed') return { providerMessageId, status }
  const code = params.get('ErrorCode') || undefined
  const text = code ? (ERROR_TEXT[code] ?? 'see https://www.twilio.com/docs/api/errors/' + code) : 'no error code given'
  const update: StatusUpdate = {
    providerMessageId,
    status,
    errorCode: code ?? `twilio_${twilioStatus}`,
    errorMessage: `Twilio reports the message ${twilioStatus}${code ? ` (error ${code})` : ''}: ${text}`,
  }
  const recipient = params.get('To')
  if (code && SUPPRESSING_CODES.has(code) && recipient) update.suppress = { recipient, reason: 'bounce' }
  return update
}

/** What one Twilio webhook amounts to. */
export async function parseTwilioCallback(req: Request, ctx: InboundContext<TwilioConfig>): Promise<InboundResult> {
  const params = await verifiedParams(req, ctx)
  // Status callbacks carry MessageStatus (older ones only SmsStatus); an incoming message has
  // SmsStatus "received" and no MessageStatus.
  const twilioStatus = params.get('MessageStatus') ?? (params.get('SmsStatus') !== 'received' ? params.get('SmsStatus') : undefined)
  if (twilioStatus !== undefined) {
    const update = statusUpdate(params, twilioStatus.toLowerCase())
    return { response: new Response(null, { status: 204 }), statuses: update ? [update] : [] }
  }
  return {
    response: new Response(EMPTY_TWIML, { status: 200, headers: { 'content-type': 'text/xml; charset=utf-8' } }),
    messages: [incomingMessage(params)],
  }
}
