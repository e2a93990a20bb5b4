/** /v1/namespaces/{ns}/suppressions: recipients that are never sent to, per channel type. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Deps } from '../../domain/deps'
import { addSuppression, listSuppressions, removeSuppression } from '../../domain/suppressions'
import type { AppEnv } from '../env'
import { scoped } from '../middleware/auth'
import { bodyProblems, commonProblems, json, listOf, nsParams } from '../schemas'

const suppressionSchema = z
  .object({
    channel_type: z.string().openapi({ example: 'twilio-sms' }),
    recipient: z.string().openapi({ example: '+15550001111' }),
    reason: z.enum(['bounce', 'complaint', 'opt-out', 'manual']),
    detail: z.string(),
    created_at: z.string(),
  })
  .openapi('Suppression')

const addSchema = z.strictObject({
  channel_type: z.string().min(1).max(50),
  recipient: z.string().min(1).max(512),
  detail: z.string().max(500).optional(),
})

const entryParams = nsParams.extend({ channel_type: z.string(), recipient: z.string() })
const tags = ['suppressions']

const routes = {
  list: createRoute({
    method: 'get',
    path: '/',
    tags,
    ...scoped('messages:read'),
    summary: 'List suppressed recipients, newest first',
    request: {
      params: nsParams,
      query: z.strictObject({
        channel_type: z.string().max(50).optional(),
        limit: z.coerce.number().int().min(1).max(100).default(50),
        cursor: z.string().max(500).optional(),
      }),
    },
    responses: { 200: json(listOf(suppressionSchema), 'A page of entries'), ...commonProblems, 422: bodyProblems[422] },
  }),
  add: createRoute({
    method: 'post',
    path: '/',
    tags,
    ...scoped('messages:send'),
    summary: 'Suppress a recipient on one type of channel',
    request: { params: nsParams, body: { required: true, content: { 'application/json': { schema: addSchema } } } },
    responses: { 204: { description: 'Suppressed (also when it already was)' }, ...commonProblems, ...bodyProblems },
  }),
  remove: createRoute({
    method: 'delete',
    path: '/{channel_type}/{recipient}',
    tags,
    ...scoped('messages:send'),
    summary: 'Allow sending to a recipient again',
    request: { params: entryParams },
    responses: { 204: { description: 'Removed' }, ...commonProblems },
  }),
}

export function suppressionsRoutes(deps: Deps) {
  return new OpenAPIHono<AppEnv>()
    .openapi(routes.list, async (c) => c.json((await listSuppressions(deps, c.get('namespaceId'), c.req.valid('query'))) as never, 200))
    .openapi(routes.add, async (c) => {
      await addSuppression(deps, c.get('namespaceId'), c.req.valid('json'))
      return c.body(null, 204)
    })
    .openapi(routes.remove, async (c) => {
      const p = c.req.valid('param')
      await removeSuppression(deps, c.get('namespaceId'), p.channel_type, p.recipient)
      return c.body(null, 204)
    })
}
