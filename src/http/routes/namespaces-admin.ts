/**
 * /v1/namespaces: the namespaces a caller can see (instance admins: all; users: theirs;
 * applications: their own), creating one, and a namespace's retention overrides (instance
 * admins only).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import { MAX_RETENTION_DAYS } from '../../config/operations-schema'
import type { Deps } from '../../domain/deps'
import { errors } from '../../domain/errors'
import { userNamespaces } from '../../domain/identity/members'
import { createNamespace, getNamespace, listNamespaces, namespaceView } from '../../domain/namespaces'
import { getNamespaceRetention, setNamespaceRetention } from '../../domain/retention'
import type { AppEnv } from '../env'
import { scoped } from '../middleware/auth'
import { bodyProblems, commonProblems, conflictProblem, json, listOf, nsParams } from '../schemas'

const namespaceSchema = z
  .object({
    id: z.string(),
    slug: z.string(),
    name: z.string(),
    status: z.string(),
    created_at: z.string(),
    role: z.string().nullable().openapi({ description: "The caller's role; null for applications and admins who are not members" }),
  })
  .openapi('Namespace')
const createSchema = z.strictObject({
  slug: z.string().min(1).max(63).openapi({ example: 'acme' }),
  name: z.string().min(1).max(200).optional(),
})
const days = (what: string) => z.number().int().openapi({ description: `${what}; 0 = kept forever` })
const retentionSchema = z
  .object({
    namespace: z.string(),
    message_days: days('Days after which message content is purged (what applies)'),
    event_days: days('Days after which message events are deleted (what applies)'),
    overrides: z.object({ message_days: z.number().int().optional(), event_days: z.number().int().optional() }).openapi({ description: "The namespace's own values; a key left out follows the default" }),
    defaults: z.object({ message_days: z.number().int(), event_days: z.number().int() }).openapi({ description: '[retention] in the config' }),
  })
  .openapi('NamespaceRetention')
// The same rules as `[[namespaces]] retention` in the config.
const overrideDays = () => z.int().min(0).max(MAX_RETENTION_DAYS).optional()
const retentionBody = z.strictObject({ message_days: overrideDays(), event_days: overrideDays() }).openapi({ example: { message_days: 30 } })
const tags = ['namespaces']
type NamespaceItem = ReturnType<typeof namespaceView> & { role: string | null }

const routes = {
  list: createRoute({ method: 'get', path: '/', tags, summary: 'Namespaces the caller can see', responses: { 200: json(listOf(namespaceSchema), 'Namespaces'), 401: commonProblems[401] } }),
  create: createRoute({ method: 'post', path: '/', tags, summary: 'Create a namespace (instance admins)', middleware: [requireInstanceAdmin()], request: { body: { required: true, content: { 'application/json': { schema: createSchema } } } }, responses: { 201: json(namespaceSchema, 'Created'), 401: commonProblems[401], 403: commonProblems[403], ...bodyProblems, ...conflictProblem } }),
  retention: createRoute({
    method: 'get',
    path: '/{ns}/retention',
    tags,
    ...adminScoped('members:read'),
    summary: "A namespace's retention: what applies, its own overrides and the defaults (instance admins)",
    request: { params: nsParams },
    responses: { 200: json(retentionSchema, 'The retention'), ...commonProblems },
  }),
  setRetention: createRoute({
    method: 'put',
    path: '/{ns}/retention',
    tags,
    ...adminScoped('members:write'),
    summary: "Replace a namespace's retention overrides ({} = the defaults); the hourly retention job applies them (instance admins)",
    request: { params: nsParams, body: { required: true, content: { 'application/json': { schema: retentionBody } } } },
    responses: { 200: json(retentionSchema, 'The retention now'), ...commonProblems, ...bodyProblems },
  }),
}

/**
 * Only an instance admin (a signed-in user with the flag); anyone else gets 403.
 * @example createRoute({ …, middleware: [requireInstanceAdmin()] })
 */
export function requireInstanceAdmin(): MiddlewareHandler<AppEnv> {
  return async function requireInstanceAdminMiddleware(c, next) {
    const principal = c.get('principal')
    if (principal.kind !== 'user' || !principal.instanceAdmin) throw errors.instanceAdminRequired('only an instance admin can do this')
    await next()
  }
}

/** The route's scope (instance admins hold every scope), then the instance-admin check. */
function adminScoped(scope: Parameters<typeof scoped>[0]) {
  const base = scoped(scope)
  return { ...base, middleware: [...base.middleware, requireInstanceAdmin()] }
}

export function namespacesAdminRoutes(deps: Deps) {
  return new OpenAPIHono<AppEnv>()
    .openapi(routes.list, async (c) => {
      const principal = c.get('principal')
      let data: NamespaceItem[]
      if (principal.kind === 'application') {
        data = [{ ...namespaceView(await getNamespace(deps, principal.namespaceId)), role: null }]
      } else {
        const mine = await userNamespaces(deps, principal.userId)
        if (principal.instanceAdmin) {
          const roles = new Map(mine.map((m) => [m.id, m.role]))
          data = (await listNamespaces(deps)).map((ns) => ({ ...namespaceView(ns), role: roles.get(ns.id) ?? null }))
        } else {
          data = mine.map((m) => ({ id: m.id, slug: m.slug, name: m.name, status: m.status, created_at: new Date(m.createdAt).toISOString(), role: m.role }))
        }
      }
      return c.json({ data, next_cursor: null }, 200)
    })
    .openapi(routes.create, async (c) => c.json({ ...namespaceView(await createNamespace(deps, c.req.valid('json'))), role: null }, 201))
    .openapi(routes.retention, async (c) => c.json(await getNamespaceRetention(deps, c.get('namespaceId')), 200))
    .openapi(routes.setRetention, async (c) => c.json(await setNamespaceRetention(deps, c.get('namespaceId'), c.req.valid('json')), 200))
}
