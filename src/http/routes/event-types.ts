/** GET /v1/event-types: every event a webhook can subscribe to, with its schema and an example. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import { eventTypeCatalog } from '../../domain/webhooks/event-types'
import type { AppEnv } from '../env'
import { commonProblems, json } from '../schemas'

const route = createRoute({
  method: 'get',
  path: '/',
  tags: ['webhooks'],
  summary: 'Event types, each with its JSON schema and an example payload',
  responses: {
    200: json(z.object({ data: z.array(z.object({ type: z.string(), description: z.string(), schema: z.any(), example: z.any() })) }), 'The catalog'),
    401: commonProblems[401],
  },
})

export function eventTypesRoutes() {
  const catalog = { data: eventTypeCatalog() }
  return new OpenAPIHono<AppEnv>().openapi(route, (c) => c.json(catalog as never, 200))
}
