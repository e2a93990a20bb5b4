/** /v1/users: every user of the instance with their namespaces (instance admins only). */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Deps } from '../../domain/deps'
import { listUsers, setUserDisabled } from '../../domain/instance/users'
import type { AppEnv } from '../env'
import { bodyProblems, conflictProblem, json, listOf, problem, userSchema } from '../schemas'
import { requireInstanceAdmin } from './namespaces-admin'


export const userListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(100).optional(),
  email: z.string().max(254).optional().openapi({ description: 'Only addresses containing this text' }),
})

/** An account with the namespaces it belongs to (an instance admin's view). */
const userWithNamespacesSchema = userSchema
  .extend({ namespaces: z.array(z.object({ namespace: z.string(), role: z.string() })) })
  .openapi('UserWithNamespaces')

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['instance'],
  middleware: [requireInstanceAdmin()],
  summary: 'Every user of the instance, newest first, with the namespaces they belong to (instance admins)',
  request: { query: userListQuery },
  responses: {
    200: json(listOf(userWithNamespacesSchema), 'A page of users'),
    401: problem('Missing or invalid credentials'),
    403: problem('Not an instance admin'),
    422: problem('A bad query parameter'),
  },
})

const update = createRoute({
  method: 'patch',
  path: '/{id}',
  tags: ['instance'],
  middleware: [requireInstanceAdmin()],
  summary: 'Disable or enable a user (instance admins): a disabled user cannot sign in, and their sessions end at once',
  request: {
    params: z.object({ id: z.string().openapi({ description: "The user's id or e-mail address" }) }),
    body: { required: true, content: { 'application/json': { schema: z.strictObject({ disabled: z.boolean() }) } } },
  },
  responses: {
    200: json(userSchema, 'The user'),
    401: problem('Missing or invalid credentials'),
    403: problem('Not an instance admin'),
    404: problem('No such user'),
    ...conflictProblem,
    ...bodyProblems,
  },
})

export function usersRoutes(deps: Deps) {
  return new OpenAPIHono<AppEnv>()
    .openapi(list, async (c) => c.json(await listUsers(deps, c.req.valid('query')), 200))
    .openapi(update, async (c) => {
      const principal = c.get('principal')
      const actor = principal.kind === 'user' ? principal.userId : null
      return c.json(await setUserDisabled(deps, actor, c.req.valid('param').id, c.req.valid('json').disabled), 200)
    })
}
