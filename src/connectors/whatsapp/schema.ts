/**
 * What a `whatsapp-cloud` channel is configured with, what a message may ask of it in
 * `options["whatsapp-cloud"]`, and what the Cloud API cannot carry (checked when a message is
 * accepted, so it fails with a 422 instead of at the provider).
 */
import { z } from 'zod'
import { checkUrlSyntax, UrlRejectedError } from '../../lib/url-guard'
import type { DraftProblem, OutboundDraft } from '../types'

/** The Graph API version new channels call: the one this connector was written against. */
export const DEFAULT_API_VERSION = 'v21.0'
export const DEFAULT_BASE_URL = 'https://graph.facebook.com'

/** Limits of the Cloud API: a text body is at most 4096 characters, a media caption 1024. */
export const MAX_TEXT_CHARS = 4096
export const MAX_CAPTION_CHARS = 1024

/** E.164: a country code that does not start with 0, at most 15 digits; a leading + is optional. */
const E164 = /^\+?[1-9]\d{6,14}$/
/** Phone number ids are the numeric Graph ids shown in WhatsApp Manager, not phone numbers. */
const PHONE_NUMBER_ID = /^\d{1,32}$/

export const whatsappConfigSchema = z.strictObject({
  /** A system-user (or temporary) access token with whatsapp_business_messaging. */
  access_token: z.string().min(1),
  /** The sending number's id: the sender when a message has no terminal. */
  phone_number_id: z.string().regex(PHONE_NUMBER_ID, 'must be the numeric phone number ID from WhatsApp Manager'),
  /** The Meta app's secret: verifies X-Hub-Signature-256 on callbacks. Without it callbacks are refused. */
  app_secret: z.string().min(1).optional(),
  /** The token typed into the app's webhook settings: answers the GET verification handshake. */
  verify_token: z.string().min(1).optional(),
  api_version: z
    .string()
    .regex(/^v\d+\.\d+$/, 'must look like v21.0')
    .default(DEFAULT_API_VERSION),
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
    .transform((url) => url.replace(/\/+$/, ''))
    .default(DEFAULT_BASE_URL),
})

export type WhatsappConfig = z.output<typeof whatsappConfigSchema>

/** Template language: Meta's locale codes (`en`, `en_US`, `pt_BR`, `fil`). */
const LANGUAGE = z.string().regex(/^[a-z]{2,3}(_[A-Za-z0-9]{2,4})?$/, 'must be a template language code such as en_US')

export const whatsappOptionsSchema = z.strictObject({
  /** Sends an approved template instead of free-form text (the only way outside the 24 h window). */
  template: z
    .strictObject({
      name: z.string().regex(/^[a-z0-9_]{1,512}$/, 'must be the template name: lowercase letters, digits and underscores'),
      /** `en_US`, or Meta's own `{"code": "en_US"}`. */
      language: z.union([LANGUAGE, z.strictObject({ code: LANGUAGE, policy: z.literal('deterministic').optional() })]),
      /** Passed to Meta as given: header/body/button parameters of the template. */
      components: z
        .array(z.looseObject({ type: z.string().min(1).max(32), parameters: z.array(z.record(z.string(), z.unknown())).optional() }))
        .max(20)
        .optional(),
    })
    .optional(),
  /** Let WhatsApp render a preview of the first URL in a text message (off by default). */
  preview_url: z.boolean().optional(),
})

export type WhatsappOptions = z.output<typeof whatsappOptionsSchema>

/** The Cloud API media type an attachment is sent as, by its content type. */
export function mediaKind(contentType: string | undefined): 'image' | 'video' | 'audio' | 'document' {
  const type = (contentType ?? '').toLowerCase()
  if (type.startsWith('image/')) return 'image'
  if (type.startsWith('video/')) return 'video'
  if (type.startsWith('audio/')) return 'audio'
  return 'document'
}

/** The recipient as the Cloud API wants it: digits only. */
export function recipientDigits(to: string): string {
  return to.trim().replace(/^\+/, '')
}

export function isPhoneNumberId(value: string): boolean {
  return PHONE_NUMBER_ID.test(value)
}

/** Everything in a draft the Cloud API cannot carry as one message. */
export function checkWhatsappDraft(draft: OutboundDraft): DraftProblem[] {
  const problems: DraftProblem[] = []
  const { content } = draft
  if (typeof draft.to !== 'string' || !E164.test(draft.to.trim())) {
    problems.push({ field: 'to', message: 'must be a phone number in E.164 format, e.g. +14155550123' })
  }
  if (draft.from !== null && !isPhoneNumberId(draft.from)) {
    problems.push({ field: 'from', message: 'must be a WhatsApp phone number ID (digits, from WhatsApp Manager)' })
  }
  if (content.html !== undefined) {
    problems.push({ field: 'content.html', message: 'WhatsApp cannot carry HTML; send content.text' })
  }
  if (content.subject !== undefined) {
    problems.push({ field: 'content.subject', message: 'WhatsApp messages have no subject' })
  }

  const attachments = content.attachments ?? []
  for (const [i, attachment] of attachments.entries()) {
    if (attachment.url === undefined) {
      problems.push({ field: `content.attachments.${i}.content_base64`, message: 'WhatsApp takes media by URL only; give url' })
    }
  }
  if (attachments.length > 1) {
    problems.push({ field: 'content.attachments', message: 'a WhatsApp message carries at most one attachment; send one message each' })
  }

  const extras = draft.options['whatsapp-cloud']
  const template = extras && typeof extras === 'object' && (extras as { template?: unknown }).template !== undefined
  if (template && attachments.length > 0) {
    problems.push({ field: 'content.attachments', message: 'a template message carries its media in the template components' })
  }

  const text = content.text
  if (!template && text !== undefined) {
    const first = attachments[0]
    if (first && mediaKind(first.content_type) === 'audio') {
      problems.push({ field: 'content.text', message: 'an audio message has no caption; send the text separately' })
    } else if (first && text.length > MAX_CAPTION_CHARS) {
      problems.push({ field: 'content.text', message: `a media caption is at most ${MAX_CAPTION_CHARS} characters` })
    } else if (!first && text.length > MAX_TEXT_CHARS) {
      problems.push({ field: 'content.text', message: `a WhatsApp text is at most ${MAX_TEXT_CHARS} characters` })
    }
  }
  return problems
}
