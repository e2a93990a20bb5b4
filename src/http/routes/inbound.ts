/**
 * `/inbound/{channel_id}`: provider callbacks (inbound messages, status reports, verification
 * handshakes). Not under /v1 and not authenticated by API key: each connector verifies its
 * provider's own signature and answers in the provider's own format.
 */
import { Hono } from 'hono'
import type { Deps } from '../../domain/deps'
import { receiveCallback } from '../../domain/inbound'

export function inboundRoutes(deps: Deps) {
  return new Hono().on(['GET', 'POST'], '/:channelId', (c) => receiveCallback(deps, c.req.param('channelId'), c.req.raw))
}
