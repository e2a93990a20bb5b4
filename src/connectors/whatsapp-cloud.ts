/**
 * The `whatsapp-cloud` connector: Meta's WhatsApp Cloud API over the Graph API. One message is
 * one Graph request (text, one media by link, or a template); callbacks bring inbound messages
 * and delivery statuses. A terminal's address is a phone number id; without terminals the
 * channel's `phone_number_id` sends. Parts live in ./whatsapp/.
 */
import { type Connector, ConnectorError, type ConnectorContext, InboundError } from './types'
import { buildMessageBody, describeGraphError, failedRequest, failedResponse, graphError } from './whatsapp/graph'
import {
  checkWhatsappDraft,
  isPhoneNumberId,
  type WhatsappConfig,
  whatsappConfigSchema,
  whatsappOptionsSchema,
} from './whatsapp/schema'
import { parseNotification, verifiedBody, verifySubscription } from './whatsapp/webhook'

export { whatsappConfigSchema, whatsappOptionsSchema } from './whatsapp/schema'

/** `{base_url}/{api_version}/{path}` */
function graphUrl(config: WhatsappConfig, path: string): string {
  return `${config.base_url}/${config.api_version}/${path}`
}

function graphHeaders(ctx: ConnectorContext<WhatsappConfig>, json: boolean): Headers {
  const headers = new Headers({ authorization: `Bearer ${ctx.config.access_token}`, 'user-agent': ctx.userAgent })
  if (json) headers.set('content-type', 'application/json')
  return headers
}

/** The wamid of an accepted message: `{"messages": [{"id": "wamid…"}]}`. */
async function acceptedId(res: Response): Promise<string | undefined> {
  try {
    const json = (await res.json()) as { messages?: { id?: unknown }[] }
    const id = json?.messages?.[0]?.id
    return typeof id === 'string' ? id : undefined
  } catch {
    return undefined
  }
}

export const whatsappCloudConnector: Connector<WhatsappConfig> = {
  type: 'whatsapp-cloud',
  capabilities: ['send', 'receive', 'status-callback', 'media', 'templates', 'health'],
  configSchema: whatsappConfigSchema,
  secretKeys: ['access_token', 'app_secret', 'verify_token'],
  urlKeys: ['base_url'],
  optionsSchema: whatsappOptionsSchema,
  checkDraft: checkWhatsappDraft,

  async send(msg, ctx) {
    const sender = msg.from ?? ctx.config.phone_number_id
    // checkDraft refuses these already; checked again because the id goes into the URL path.
    if (!isPhoneNumberId(sender)) throw new ConnectorError('permanent', 'invalid_sender', `"${sender}" is not a phone number ID`)
    if (typeof msg.to !== 'string') throw new ConnectorError('permanent', 'invalid_recipient', 'the recipient must be a phone number')
    const options = whatsappOptionsSchema.safeParse(msg.options['whatsapp-cloud'] ?? {})
    if (!options.success) throw new ConnectorError('permanent', 'invalid_options', `options.whatsapp-cloud: ${options.error.message}`)

    let res: Response
    try {
      res = await ctx.fetch(graphUrl(ctx.config, `${sender}/messages`), {
        method: 'POST',
        headers: graphHeaders(ctx, true),
        body: JSON.stringify(buildMessageBody(msg, options.data)),
        signal: ctx.signal,
      })
    } catch (err) {
      throw failedRequest(err)
    }
    if (res.status < 200 || res.status >= 300) throw await failedResponse(res)
    return { status: 'sent', providerMessageId: await acceptedId(res) }
  },

  async health(ctx) {
    const { config } = ctx
    let res: Response
    try {
      res = await ctx.fetch(graphUrl(config, config.phone_number_id), { method: 'GET', headers: graphHeaders(ctx, false), signal: ctx.signal })
    } catch (err) {
      return { ok: false, detail: `the Graph API did not answer: ${failedRequest(err).message}` }
    }
    const text = await res.text()
    if (res.status < 200 || res.status >= 300) {
      const error = graphError(text)
      return { ok: false, detail: error ? describeGraphError(error, res.status) : `HTTP ${res.status} from the Graph API` }
    }
    let phone: { display_phone_number?: string; verified_name?: string; quality_rating?: string } = {}
    try {
      phone = JSON.parse(text)
    } catch {
      // A 2xx is enough to know the token and the number work.
    }
    const parts = [`phone number ${config.phone_number_id}`]
    if (phone.display_phone_number) parts[0] += ` (${phone.display_phone_number}${phone.verified_name ? `, ${phone.verified_name}` : ''})`
    if (phone.quality_rating) parts.push(`quality ${phone.quality_rating}`)
    if (!config.app_secret || !config.verify_token) parts.push('callbacks are refused until app_secret and verify_token are set')
    return { ok: true, detail: parts.join('; ') }
  },

  async parseInbound(req, ctx) {
    if (req.method === 'GET') return { response: verifySubscription(req, ctx.config) }
    if (req.method !== 'POST') throw new InboundError(405, 'callbacks are GET (verification) or POST')
    const raw = await verifiedBody(req, ctx.config)
    const result = parseNotification(raw, ctx)
    // Meta retries anything but a 200, so the answer is a plain 200 once the body is verified.
    return { ...result, response: new Response(null, { status: 200 }) }
  },
}
