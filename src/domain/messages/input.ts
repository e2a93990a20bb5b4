/** The send request, shared by the HTTP API, the batch endpoint and the CLI. */
import { z } from 'zod'

const MAX_TEXT = 100_000
/** RFC 3339 with an explicit offset, so a send time is never ambiguous. */
const rfc3339 = z.iso.datetime({ offset: true, message: 'must be an RFC 3339 date-time with an offset, e.g. 2026-01-02T15:04:05Z' })

export const attachmentSchema = z
  .strictObject({
    filename: z.string().min(1).max(255),
    content_type: z.string().min(1).max(255).optional(),
    url: z.string().max(2048).optional(),
    content_base64: z.string().optional(),
  })
  .refine((a) => (a.url === undefined) !== (a.content_base64 === undefined), {
    message: 'give exactly one of url or content_base64',
  })

export const contentSchema = z
  .strictObject({
    text: z.string().max(MAX_TEXT).optional(),
    html: z.string().max(MAX_TEXT * 10).optional(),
    subject: z.string().max(998).optional(),
    attachments: z.array(attachmentSchema).max(20).optional(),
  })
  .refine((c) => c.text !== undefined || c.html !== undefined || (c.attachments?.length ?? 0) > 0, {
    message: 'must have text, html or attachments',
  })

export const sendMessageSchema = z.strictObject({
  channel: z.string().min(1).max(100),
  from: z.string().min(1).max(512).optional(),
  to: z.union([z.string().min(1).max(512), z.record(z.string(), z.unknown())]),
  content: contentSchema,
  metadata: z
    .record(z.string().min(1).max(64), z.string().max(1024))
    .refine((m) => Object.keys(m).length <= 50, { message: 'at most 50 keys' })
    .optional(),
  send_at: rfc3339.optional(),
  options: z.record(z.string(), z.unknown()).optional(),
})

export type SendMessageInput = z.infer<typeof sendMessageSchema>

export const sendBatchSchema = z.strictObject({
  // The configured messages.max_batch (at most 10,000) is checked before anything is resolved.
  messages: z.array(sendMessageSchema).min(1).max(10_000),
})

export const MESSAGE_STATUSES = [
  'scheduled',
  'queued',
  'sending',
  'sent',
  'delivered',
  'read',
  'failed',
  'cancelled',
  'expired',
  'received',
] as const

export const listMessagesSchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  // A message id, as `next_cursor` gives it: anything else would silently restart or end the list.
  cursor: z.string().regex(/^msg_[0-9a-f]{32}$/, 'is not a cursor this list returned').optional(),
  status: z.enum(MESSAGE_STATUSES).optional(),
  channel: z.string().max(100).optional(),
  direction: z.enum(['outbound', 'inbound']).optional(),
  recipient: z.string().max(512).optional(),
  since: rfc3339.optional(),
  until: rfc3339.optional(),
})

export type ListMessagesInput = z.infer<typeof listMessagesSchema>
