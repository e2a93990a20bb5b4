/** Every event a webhook can subscribe to, with its JSON schema and an example (`GET /v1/event-types`). */

export const MESSAGE_EVENT_TYPES = [
  'message.queued',
  'message.sending',
  'message.sent',
  'message.delivered',
  'message.read',
  'message.failed',
  'message.cancelled',
  'message.received',
] as const

export const EVENT_TYPES = [...MESSAGE_EVENT_TYPES, 'channel.failing', 'channel.recovered', 'webhook.disabled'] as const
export type EventType = (typeof EVENT_TYPES)[number]

const envelope = (dataSchema: object) => ({
  type: 'object',
  required: ['type', 'id', 'timestamp', 'namespace', 'data'],
  properties: {
    type: { type: 'string' },
    id: { type: 'string', description: 'The event id; also the webhook-id header' },
    timestamp: { type: 'string', format: 'date-time', description: 'When the event happened' },
    namespace: { type: 'string' },
    data: dataSchema,
  },
})

const messageData = {
  type: 'object',
  required: ['message', 'event'],
  properties: {
    message: {
      type: 'object',
      required: ['id', 'direction', 'status', 'channel', 'to', 'created_at'],
      properties: {
        id: { type: 'string' },
        direction: { enum: ['outbound', 'inbound'] },
        status: { type: 'string' },
        channel: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, type: { type: 'string' } } },
        terminal: { type: ['object', 'null'], properties: { id: { type: 'string' }, address: { type: 'string' } } },
        from: { type: ['string', 'null'] },
        to: { type: ['string', 'object'] },
        content: { type: 'object', description: 'Only on message.received' },
        metadata: { type: 'object', additionalProperties: { type: 'string' } },
        attempts: { type: 'integer' },
        provider_message_id: { type: ['string', 'null'] },
        error: { type: ['object', 'null'] },
        created_at: { type: 'string', format: 'date-time' },
      },
    },
    event: {
      type: 'object',
      properties: {
        status: { type: 'string' },
        attempt: { type: ['integer', 'null'] },
        error: { type: ['object', 'null'] },
      },
    },
  },
}

const exampleMessage = {
  id: 'msg_01a2151867af76a9a81172a68c0231c4',
  direction: 'outbound',
  status: 'delivered',
  channel: { id: 'ch_01a2151867af76a9a81172a68c0231c0', name: 'sandbox', type: 'sandbox' },
  terminal: null,
  from: null,
  to: 'alice@example.com',
  metadata: { order: '42' },
  attempts: 1,
  provider_message_id: 'sbx_01a2151867af76a9a81172a68c0231c4',
  error: null,
  created_at: '2026-11-25T10:00:00.000Z',
}

export function eventTypeCatalog() {
  const message = MESSAGE_EVENT_TYPES.map((type) => {
    const status = type.slice('message.'.length)
    const example = { ...exampleMessage, status, ...(type === 'message.received' ? { direction: 'inbound', content: { text: 'hi' } } : {}) }
    return {
      type,
      description: type === 'message.received' ? 'An inbound message arrived (content included)' : `A message became ${status}`,
      schema: envelope(messageData),
      example: {
        type,
        id: 'evt_01a2151867af76a9a81172a68c0231c9',
        timestamp: '2026-11-25T10:00:01.000Z',
        namespace: 'acme',
        data: { message: example, event: { status, attempt: 1, error: null } },
      },
    }
  })
  const webhookDisabled = {
    type: 'webhook.disabled',
    description: 'An endpoint was disabled: it answered 410 Gone, or failed without a success for too long',
    schema: envelope({ type: 'object', properties: { webhook: { type: 'object' }, reason: { type: 'string' } } }),
    example: {
      type: 'webhook.disabled',
      id: 'evt_01a2151867af76a9a81172a68c0231ca',
      timestamp: '2026-11-25T10:00:02.000Z',
      namespace: 'acme',
      data: { webhook: { id: 'wh_01a2…', url: 'https://hooks.example.com/…' }, reason: 'gone' },
    },
  }
  const channel = (['channel.failing', 'channel.recovered'] as const).map((type) => ({
    type,
    description:
      type === 'channel.failing'
        ? "A channel's failure rate crossed its threshold (≥ 50 % of ≥ 10 attempts in 15 minutes); checked every minute"
        : 'A failing channel fell back under its threshold',
    schema: envelope({
      type: 'object',
      properties: { channel: { type: 'object' }, window: { type: 'object' }, last_error: { type: ['object', 'null'] } },
    }),
    example: {
      type,
      id: 'evt_01a2151867af76a9a81172a68c0231cb',
      timestamp: '2026-11-25T10:00:03.000Z',
      namespace: 'acme',
      data: {
        channel: { id: 'ch_01a2151867af76a9a81172a68c0231c0', name: 'sms', type: 'twilio-sms', status: type === 'channel.failing' ? 'failing' : 'active' },
        window: {
          minutes: 15,
          attempts: 40,
          failures: type === 'channel.failing' ? 31 : 2,
          failure_rate: type === 'channel.failing' ? 0.775 : 0.05,
          threshold: 0.5,
          min_attempts: 10,
        },
        last_error: { code: '30003', message: 'Unreachable destination handset', at: '2026-11-25T10:00:02.000Z' },
      },
    },
  }))
  return [...message, ...channel, webhookDisabled]
}
