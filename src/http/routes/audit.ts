/** /v1/namespaces/{ns}/audit: the namespace's audit log, newest first. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import { listAudit } from '../../domain/audit'
import type { Deps } from '../../domain/deps'
import type { AppEnv } from '../env'
import { scoped } from '../middleware/auth'
import { bodyProblems, commonProblems, json, listOf, nsParams } from '../schemas'

const auditEntrySchema = z
  .object({
    id: z.string().openapi({ example: 'aud_019a…' }),
    actor_type: z.enum(['user', 'application', 'system']),
    actor_id: z.string().nullable(),
    action: z.string().openapi({ example: 'POST /v1/namespaces/{ns}/channels' }),
    resource_type: z.string().openapi({ example: 'channel' }),
    resource_id: z.string().nullable(),
    ip: z.string().nullable().openapi({ description: 'The client address (X-Forwarded-For only from server.trusted_proxies); null when unknown' }),
    detail: z.record(z.string(), z.unknown()).openapi({ description: 'Credential and request ids; never a request body or a secret' }),
    created_at: z.string(),
  })
  .openapi('AuditEntry')

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['audit'],
  ...scoped('audit:read'),
  summary: 'Audit log: who changed what, when, from where (newest first)',
  request: {
    params: nsParams,
    query: z.strictObject({
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: z.string().max(100).optional(),
      action: z.string().max(300).optional().openapi({ example: 'DELETE /v1/namespaces/{ns}/channels/{channel}' }),
      actor_id: z.string().max(100).optional().openapi({ description: 'A user or application id' }),
      since: z.iso.datetime({ offset: true }).optional(),
      until: z.iso.datetime({ offset: true }).optional(),
    }),
  },
  responses: { 200: json(listOf(auditEntrySchema), 'A page of entries'), ...commonProblems, 422: bodyProblems[422] },
})

export function auditRoutes(deps: Deps) {
  return new OpenAPIHono<AppEnv>().openapi(list, async (c) => c.json((await listAudit(deps, c.get('namespaceId'), c.req.valid('query'))) as never, 200))
}
