/**
 * A namespace's life cycle: how its provisioning went (and its first API key, once), and
 * deleting it. Both are for an owner of the namespace or an instance admin.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import type { Deps } from '../../domain/deps'
import { errors } from '../../domain/errors'
import { deletionView, disableNamespace } from '../../domain/provisioning/deprovision'
import { namespaceProvisioningJob, provisioningView, takeApiKey } from '../../domain/provisioning/jobs'
import type { AppEnv } from '../env'
import { scoped } from '../middleware/auth'
import { commonProblems, json, nsParams, provisioningSchema } from '../schemas'

const tags = ['namespaces']

const deletedSchema = z
  .object({ id: z.string(), slug: z.string(), status: z.string(), disabled_at: z.string().nullable(), purge_after: z.string().nullable() })
  .openapi('DeletedNamespace')

/**
 * An owner of the namespace or an instance admin; anyone else (applications included) gets 403.
 * @example createRoute({ …, middleware: [requireScope(…), ownerOrAdmin()] })
 */
function ownerOrAdmin(): MiddlewareHandler<AppEnv> {
  return async function ownerOrAdminMiddleware(c, next) {
    const principal = c.get('principal')
    const isOwner = principal.kind === 'user' && (principal.instanceAdmin || c.get('access').role === 'owner')
    if (!isOwner) throw errors.ownerRequired('only an owner of the namespace or an instance admin can do this')
    await next()
  }
}

const ownerScoped = (scope: Parameters<typeof scoped>[0]) => {
  const base = scoped(scope)
  return { ...base, middleware: [...base.middleware, ownerOrAdmin()] }
}

const routes = {
  status: createRoute({
    method: 'get',
    path: '/provisioning',
    tags,
    ...ownerScoped('apps:read'),
    summary: 'How provisioning went (owners and instance admins); the new API key is shown once, to an owner',
    request: { params: nsParams },
    responses: { 200: json(provisioningSchema, 'The provisioning job'), ...commonProblems },
  }),
  remove: createRoute({
    method: 'delete',
    path: '/',
    tags,
    ...ownerScoped('members:write'),
    summary: 'Delete the namespace: disabled at once, every row purged after [retention] purge_grace_days (owners and instance admins)',
    request: { params: nsParams },
    responses: { 202: json(deletedSchema, 'Disabled; purged after purge_after'), ...commonProblems },
  }),
}

export function provisioningRoutes(deps: Deps) {
  return new OpenAPIHono<AppEnv>()
    .openapi(routes.status, async (c) => {
      const access = c.get('access')
      const job = await namespaceProvisioningJob(deps.store, access.namespaceId)
      // The key goes to an owner only: an instance admin looking on does not use it up.
      const apiKey = access.role === 'owner' && job.status === 'done' ? await takeApiKey(deps, job.id) : null
      c.header('Cache-Control', 'no-store')
      return c.json(provisioningView(apiKey ? await namespaceProvisioningJob(deps.store, access.namespaceId) : job, apiKey), 200)
    })
    .openapi(routes.remove, async (c) => c.json(deletionView(await disableNamespace(deps, c.get('namespaceId'))), 202))
}
