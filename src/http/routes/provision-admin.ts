/**
 * An instance admin's namespace life cycle beyond create and delete: `POST /v1/provisioning`
 * provisions a namespace with a plan (and an owner), as `omnigate namespace create --plan
 * --owner` does; `POST /v1/namespaces/{ns}/restore` undoes a delete during its grace period, as
 * `omnigate namespace restore` does.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Deps } from '../../domain/deps'
import { deletionView, restoreNamespace } from '../../domain/provisioning/deprovision'
import { provisioningView } from '../../domain/provisioning/jobs'
import { provisionByOperator } from '../../domain/provisioning/provision'
import type { AppEnv } from '../env'
import { scoped } from '../middleware/auth'
import { bodyProblems, commonProblems, json, nsParams, problem, provisioningSchema } from '../schemas'
import { requireInstanceAdmin } from './namespaces-admin'

/** How long a request waits for the new namespace; the engine's provisioner finishes a slower one. */
export const PROVISION_REQUEST_WAIT_MS = 10_000

const tags = ['namespaces']

export const provisionInput = z.strictObject({
  slug: z.string().min(1).max(63).openapi({ example: 'acme' }),
  plan: z.string().min(1).max(63).optional().openapi({ description: 'A plan of [[plans]]; default: [signup] default_plan' }),
  owner: z.string().min(1).max(254).optional().openapi({ description: "The owner's e-mail: an existing user becomes owner; anyone else is invited by mail" }),
})

const provisionedSchema = provisioningSchema
  .extend({ invited_owner: z.string().nullable().openapi({ description: 'The owner invited by mail (no account yet), if any' }) })
  .openapi('ProvisionedNamespace')

const restoredSchema = z
  .object({ id: z.string(), slug: z.string(), status: z.string(), disabled_at: z.string().nullable(), purge_after: z.string().nullable() })
  .openapi('RestoredNamespace')

const routes = {
  provision: createRoute({
    method: 'post',
    path: '/',
    tags,
    middleware: [requireInstanceAdmin()],
    summary: 'Provision a namespace with a plan: sandbox channel, application and API key, plan quotas, owner (instance admins)',
    request: { body: { required: true, content: { 'application/json': { schema: provisionInput } } } },
    responses: {
      201: json(provisionedSchema, 'Ready (with api_key, once) or failed (see error)'),
      202: json(provisionedSchema, 'Still provisioning: the engine finishes it (omnigate provisioning list)'),
      401: commonProblems[401],
      403: problem('Not an instance admin'),
      404: problem('No such owner, and the instance cannot mail an invitation'),
      409: problem('The slug is taken'),
      ...bodyProblems,
    },
  }),
  restore: createRoute({
    method: 'post',
    path: '/restore',
    tags,
    middleware: [...scoped('members:write').middleware, requireInstanceAdmin()],
    security: scoped('members:write').security,
    summary: 'Undo a delete during the grace period: the namespace is active again (instance admins)',
    request: { params: nsParams },
    responses: { 200: json(restoredSchema, 'The namespace now'), ...commonProblems, 409: problem('Its purge has begun: it cannot be restored') },
  }),
}

export function provisionAdminRoutes(deps: Deps) {
  return new OpenAPIHono<AppEnv>().openapi(routes.provision, async (c) => {
    const input = c.req.valid('json')
    const result = await provisionByOperator(deps, { slug: input.slug, plan: input.plan, ownerEmail: input.owner }, PROVISION_REQUEST_WAIT_MS)
    const view = provisioningView(result.job, result.apiKey)
    return c.json({ ...view, invited_owner: result.invited }, view.status === 'provisioning' ? 202 : 201)
  })
}

export function namespaceRestoreRoutes(deps: Deps) {
  return new OpenAPIHono<AppEnv>().openapi(routes.restore, async (c) => c.json(deletionView(await restoreNamespace(deps, c.get('namespaceId'))), 200))
}
