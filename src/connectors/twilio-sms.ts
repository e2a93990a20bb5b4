/**
 * The `twilio-sms` connector: SMS and MMS through Twilio's Programmable Messaging REST API,
 * incoming messages and delivery reports through Twilio's signed webhooks. A terminal is a
 * sender number in E.164; without one the channel's Messaging Service picks the sender.
 */
import { z } from 'zod'
import { checkUrlSyntax, UrlRejectedError } from '../lib/url-guard'
import { accountPath, checkAccount, DEFAULT_BASE_URL, type TwilioConfig, twilioError, twilioRequest } from './twilio/api'
import { parseTwilioCallback } from './twilio/inbound'
import { type Connector, type ConnectorContext, ConnectorError, type DraftProblem, type OutboundDraft } from './types'

/** E.164: a plus, a country code that does not start with 0, at most 15 digits in all. */
export const E164 = /^\+[1-9]\d{6,14}$/
/** Twilio refuses longer bodies (error 21617). */
const MAX_BODY_CHARS = 1600
/** Twilio takes at most 10 MediaUrl per message (error 21623). */
const MAX_MEDIA = 10

export const twilioConfigSchema = z.strictObject({
  account_sid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be an Account SID: "AC" and 32 hex digits'),
  auth_token: z.string().min(1).max(256).regex(/^\S+$/, 'must not contain spaces'),
  messaging_service_sid: z
    .string()
    .regex(/^MG[0-9a-fA-F]{32}$/, 'must be a Messaging Service SID: "MG" and 32 hex digits')
    .optional(),
  base_url: z
    .string()
    .superRefine((url, ctx) => {
      try {
        checkUrlSyntax(url)
      } catch (err) {
        if (!(err instanceof UrlRejectedError)) throw err
        ctx.addIssue({ code: 'custom', message: err.message })
      }
    })
    .default(DEFAULT_BASE_URL),
})

/** What an SMS or MMS cannot carry, or Twilio would refuse. */
function checkDraft(draft: OutboundDraft): DraftProblem[] {
  const problems: DraftProblem[] = []
  const { content } = draft
  if (typeof draft.to !== 'string' || !E164.test(draft.to)) {
    problems.push({ field: 'to', message: 'must be a phone number in E.164 format, e.g. +15551234567' })
  }
  if (draft.from !== null && !E164.test(draft.from)) {
    problems.push({ field: 'from', message: 'must be a sender number in E.164 format, e.g. +15551234567' })
  }
  if (content.html !== undefined) problems.push({ field: 'content.html', message: 'SMS carries plain text only; use content.text' })
  if (content.subject !== undefined) problems.push({ field: 'content.subject', message: 'SMS has no subject' })
  if (content.text !== undefined && content.text.length > MAX_BODY_CHARS) {
    problems.push({ field: 'content.text', message: `Twilio takes at most ${MAX_BODY_CHARS} characters` })
  }
  const attachments = content.attachments ?? []
  attachments.forEach((attachment, i) => {
    if (attachment.content_base64 !== undefined) {
      problems.push({
        field: `content.attachments.${i}.content_base64`,
        message: 'Twilio fetches MMS media itself: give a public url instead',
      })
    }
  })
  if (attachments.length > MAX_MEDIA) {
    problems.push({ field: 'content.attachments', message: `Twilio takes at most ${MAX_MEDIA} media per message` })
  }
  if (!content.text && attachments.length === 0 && content.html === undefined) {
    problems.push({ field: 'content.text', message: 'is required unless there are attachments' })
  }
  return problems
}

/** The channel's inbound_url, when the dispatcher passes it: Twilio posts delivery reports there. */
function statusCallbackUrl(ctx: ConnectorContext<TwilioConfig>): string | undefined {
  const url = (ctx as ConnectorContext<TwilioConfig> & { callbackUrl?: unknown }).callbackUrl
  return typeof url === 'string' && url !== '' ? url : undefined
}

export const twilioSmsConnector: Connector<TwilioConfig> = {
  type: 'twilio-sms',
  capabilities: ['send', 'receive', 'status-callback', 'media', 'health'],
  configSchema: twilioConfigSchema,
  secretKeys: ['auth_token'],
  urlKeys: ['base_url'],
  checkDraft,

  async send(msg, ctx) {
    const { config } = ctx
    if (typeof msg.to !== 'string') throw new ConnectorError('permanent', 'invalid_recipient', 'the recipient must be a phone number')
    const form = new URLSearchParams({ To: msg.to })
    if (msg.from) form.append('From', msg.from)
    else if (config.messaging_service_sid) form.append('MessagingServiceSid', config.messaging_service_sid)
    else {
      throw new ConnectorError('permanent', 'no_sender', 'the channel has no sender: add a terminal (a Twilio number) or set messaging_service_sid')
    }
    if (msg.content.text) form.append('Body', msg.content.text)
    for (const attachment of msg.content.attachments ?? []) {
      if (attachment.url === undefined) {
        throw new ConnectorError('permanent', 'attachment_not_supported', `attachment "${attachment.filename}" has no url; Twilio only fetches media by URL`)
      }
      form.append('MediaUrl', attachment.url)
    }
    const callback = statusCallbackUrl(ctx)
    if (callback) form.append('StatusCallback', callback)

    const res = await twilioRequest(ctx, 'POST', accountPath(config, '/Messages.json'), form)
    if (!res.ok) throw await twilioError(res)
    let sid: unknown
    try {
      sid = ((await res.json()) as { sid?: unknown }).sid
    } catch {
      sid = undefined
    }
    // Twilio has accepted the message (queued/accepted); delivery reports arrive by callback.
    return { status: 'sent', providerMessageId: typeof sid === 'string' ? sid : undefined }
  },

  health: checkAccount,
  parseInbound: parseTwilioCallback,
}
