/** /v1/namespaces/{ns}/webhooks: subscriber endpoints, their delivery log and recovery. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Deps } from '../../domain/deps'
import { listDeliveries, recoverDeliveries, retryDelivery } from '../../domain/webhooks/deliveries'
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhooks,
  rotateWebhookSecret,
  updateWebhook,
  webhookView,
} from '../../domain/webhooks/endpoints'
import { webhookHeadersSchema } from '../../config/webhooks-schema'
import type { AppEnv } from '../env'
import { scoped } from '../middleware/auth'
import { bodyProblems, commonProblems, json, listOf, nsParams } from '../schemas'

const webhookInput = z.strictObject({
  url: z.string().min(1).max(2048).openapi({ example: 'https://hooks.example.com/omnigate' }),
  description: z.string().max(500).optional(),
  event_types: z.array(z.string()).max(50).optional().openapi({ description: 'Omitted or ["*"] = every event', example: ['message.delivered', 'message.failed'] }),
  channels: z.array(z.string()).max(100).optional().openapi({ description: 'Channel names or ids: only their events' }),
  headers: webhookHeadersSchema.optional(),
  enabled: z.boolean().optional(),
  rate_limit: z.int().min(1).max(10_000).nullable().optional().openapi({ description: 'Deliveries per second at most' }),
})
const webhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string(),
    event_types: z.array(z.string()),
    channels: z.array(z.string()),
    headers: z.record(z.string(), z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable(),
    rate_limit: z.number().nullable(),
    failing_since: z.string().nullable(),
    secret: z.string().optional().openapi({ description: 'whsec_…: only in the answers to create and rotate-secret' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Webhook')
const deliverySchema = z.object({ id: z.string(), event_id: z.string(), event_type: z.string(), status: z.string(), attempts: z.number() }).passthrough().openapi('WebhookDelivery')

const hookParams = nsParams.extend({ id: z.string() })
const deliveryParams = hookParams.extend({ delivery_id: z.string() })
const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } })
const tags = ['webhooks']
const read = scoped('webhooks:read')
const write = scoped('webhooks:write')

const routes = {
  list: createRoute({ method: 'get', path: '/', tags, ...read, summary: 'List webhook endpoints', request: { params: nsParams }, responses: { 200: json(listOf(webhookSchema), 'Endpoints'), ...commonProblems } }),
  create: createRoute({ method: 'post', path: '/', tags, ...write, summary: 'Add an endpoint; its secret is shown only in this answer', request: { params: nsParams, body: body(webhookInput) }, responses: { 201: json(webhookSchema, 'Created'), ...commonProblems, ...bodyProblems } }),
  show: createRoute({ method: 'get', path: '/{id}', tags, ...read, summary: 'An endpoint', request: { params: hookParams }, responses: { 200: json(webhookSchema, 'The endpoint'), ...commonProblems } }),
  update: createRoute({ method: 'patch', path: '/{id}', tags, ...write, summary: 'Change an endpoint (enabled: true re-enables a disabled one)', request: { params: hookParams, body: body(webhookInput.partial()) }, responses: { 200: json(webhookSchema, 'Updated'), ...commonProblems, ...bodyProblems } }),
  remove: createRoute({ method: 'delete', path: '/{id}', tags, ...write, summary: 'Delete an endpoint and its deliveries', request: { params: hookParams }, responses: { 204: { description: 'Deleted' }, ...commonProblems } }),
  rotate: createRoute({ method: 'post', path: '/{id}/rotate-secret', tags, ...write, summary: 'A new secret; the old one keeps signing beside it for 24 h', request: { params: hookParams }, responses: { 200: json(webhookSchema, 'The endpoint with its new secret'), ...commonProblems } }),
  deliveries: createRoute({
    method: 'get',
    path: '/{id}/deliveries',
    tags,
    ...read,
    summary: 'Deliveries, newest first, each with its attempts',
    request: {
      params: hookParams,
      query: z.strictObject({
        limit: z.coerce.number().int().min(1).max(100).default(50),
        cursor: z.string().max(100).optional(),
        status: z.enum(['pending', 'succeeded', 'failed']).optional(),
        event_type: z.string().max(100).optional(),
        since: z.iso.datetime({ offset: true }).optional(),
      }),
    },
    responses: { 200: json(listOf(deliverySchema), 'A page of deliveries'), ...commonProblems, 422: bodyProblems[422] },
  }),
  retry: createRoute({ method: 'post', path: '/{id}/deliveries/{delivery_id}/retry', tags, ...write, summary: 'Send one delivery again now', request: { params: deliveryParams }, responses: { 200: json(deliverySchema, 'Queued'), ...commonProblems } }),
  recover: createRoute({
    method: 'post',
    path: '/{id}/recover',
    tags,
    ...write,
    summary: 'Send again every failed delivery since a time',
    request: { params: hookParams, body: body(z.strictObject({ since: z.iso.datetime({ offset: true }) })) },
    responses: { 200: json(z.object({ recovered: z.number() }), 'How many were queued again'), ...commonProblems, ...bodyProblems },
  }),
}

export function webhooksRoutes(deps: Deps) {
  const view = (row: Parameters<typeof webhookView>[1], secret?: string) => webhookView(deps, row, secret) as never
  return new OpenAPIHono<AppEnv>()
    .openapi(routes.list, async (c) => c.json({ data: (await listWebhooks(deps, c.get('namespaceId'))).map((w) => view(w)), next_cursor: null } as never, 200))
    .openapi(routes.create, async (c) => {
      const created = await createWebhook(deps, c.get('namespaceId'), c.req.valid('json'))
      return c.json(view(created.webhook, created.secret), 201)
    })
    .openapi(routes.show, async (c) => c.json(view(await getWebhook(deps, c.get('namespaceId'), c.req.valid('param').id)), 200))
    .openapi(routes.update, async (c) => c.json(view(await updateWebhook(deps, c.get('namespaceId'), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(routes.remove, async (c) => {
      await deleteWebhook(deps, c.get('namespaceId'), c.req.valid('param').id)
      return c.body(null, 204)
    })
    .openapi(routes.rotate, async (c) => {
      const rotated = await rotateWebhookSecret(deps, c.get('namespaceId'), c.req.valid('param').id)
      return c.json(view(rotated.webhook, rotated.secret), 200)
    })
    .openapi(routes.deliveries, async (c) =>
      c.json((await listDeliveries(deps, c.get('namespaceId'), c.req.valid('param').id, c.req.valid('query'))) as never, 200),
    )
    .openapi(routes.retry, async (c) => {
      const p = c.req.valid('param')
      return c.json((await retryDelivery(deps, c.get('namespaceId'), p.id, p.delivery_id)) as never, 200)
    })
    .openapi(routes.recover, async (c) =>
      c.json((await recoverDeliveries(deps, c.get('namespaceId'), c.req.valid('param').id, c.req.valid('json').since)) as never, 200),
    )
}
