/** /v1/namespaces/{ns}/apps: client applications, their API keys and their OAuth clients. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { type Deps, now } from '../../domain/deps'
import { invalidField } from '../../domain/errors'
import { apiKeyView, createApiKey, listApiKeys, revokeApiKey } from '../../domain/identity/api-keys'
import {
  applicationView,
  createApplication,
  deleteApplication,
  getApplication,
  listApplications,
  updateApplication,
} from '../../domain/identity/applications'
import { clientView, createClient, listClients, revokeClient } from '../../domain/identity/clients'
import { ALL_SCOPES } from '../../domain/identity/scopes'
import type { Principal } from '../../domain/identity/principal'
import type { AppEnv } from '../env'
import { scoped } from '../middleware/auth'
import { bodyProblems, commonProblems, conflictProblem, json, listOf, nsParams } from '../schemas'

const appInput = z.strictObject({
  name: z.string().min(1).max(100).openapi({ example: 'billing-service' }),
  description: z.string().max(500).optional(),
  rate_limit: z.int().min(1).max(100_000).nullable().optional().openapi({ description: 'API requests per second at most; null = the namespace limit only' }),
})
const credentialInput = z.strictObject({
  name: z.string().max(100).optional(),
  scopes: z
    .array(z.string())
    .max(ALL_SCOPES.length * 2)
    .optional()
    .openapi({ description: 'Default: every scope the caller holds. None the caller lacks.', example: ['messages:send'] }),
  expires_at: z.iso.datetime({ offset: true }).nullable().optional().openapi({ description: 'RFC 3339; omitted or null = never' }),
})

const appSchema = z
  .object({ id: z.string(), name: z.string(), description: z.string(), rate_limit: z.number().int().nullable(), created_at: z.string(), updated_at: z.string() })
  .openapi('Application')
const keySchema = z
  .object({
    id: z.string(),
    application_id: z.string(),
    name: z.string(),
    prefix: z.string().openapi({ example: 'og_live_AbCdEfGhIjKl…' }),
    scopes: z.array(z.string()),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    last_used_at: z.string().nullable().openapi({ description: 'When a request last authenticated with it (written within a minute; null: never)' }),
    created_at: z.string(),
  })
  .openapi('ApiKey')
const newKeySchema = keySchema.extend({ key: z.string().openapi({ description: 'og_live_…: shown only in this answer' }) }).openapi('NewApiKey')
const clientSchema = z
  .object({
    client_id: z.string(),
    application_id: z.string(),
    name: z.string(),
    scopes: z.array(z.string()),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('OAuthClient')
const newClientSchema = clientSchema.extend({ client_secret: z.string().openapi({ description: 'Shown only in this answer' }) }).openapi('NewOAuthClient')

const appParams = nsParams.extend({ app: z.string().openapi({ description: 'Application id or name' }) })
const keyParams = appParams.extend({ key_id: z.string() })
const clientParams = appParams.extend({ client_id: z.string() })
const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } })
const tags = ['applications']
const read = scoped('apps:read')
const write = scoped('apps:write')
const deleted = { 204: { description: 'Done' }, ...commonProblems }

const routes = {
  list: createRoute({ method: 'get', path: '/', tags, ...read, summary: 'List applications', request: { params: nsParams }, responses: { 200: json(listOf(appSchema), 'Applications'), ...commonProblems } }),
  create: createRoute({ method: 'post', path: '/', tags, ...write, summary: 'Create an application', request: { params: nsParams, body: body(appInput) }, responses: { 201: json(appSchema, 'Created'), ...commonProblems, ...bodyProblems, ...conflictProblem } }),
  show: createRoute({ method: 'get', path: '/{app}', tags, ...read, summary: 'An application', request: { params: appParams }, responses: { 200: json(appSchema, 'The application'), ...commonProblems } }),
  update: createRoute({ method: 'patch', path: '/{app}', tags, ...write, summary: 'Rename an application or change its description or rate limit', request: { params: appParams, body: body(appInput.partial()) }, responses: { 200: json(appSchema, 'Updated'), ...commonProblems, ...bodyProblems, ...conflictProblem } }),
  remove: createRoute({ method: 'delete', path: '/{app}', tags, ...write, summary: 'Delete an application; its keys and clients stop working at once', request: { params: appParams }, responses: deleted }),
  keys: createRoute({ method: 'get', path: '/{app}/keys', tags, ...read, summary: "An application's API keys (never their secrets)", request: { params: appParams }, responses: { 200: json(listOf(keySchema), 'API keys'), ...commonProblems } }),
  createKey: createRoute({ method: 'post', path: '/{app}/keys', tags, ...write, summary: 'A new API key; the key is shown only in this answer', request: { params: appParams, body: body(credentialInput) }, responses: { 201: json(newKeySchema, 'Created'), ...commonProblems, ...bodyProblems } }),
  revokeKey: createRoute({ method: 'delete', path: '/{app}/keys/{key_id}', tags, ...write, summary: 'Revoke an API key', request: { params: keyParams }, responses: deleted }),
  clients: createRoute({ method: 'get', path: '/{app}/clients', tags, ...read, summary: "An application's OAuth clients (never their secrets)", request: { params: appParams }, responses: { 200: json(listOf(clientSchema), 'OAuth clients'), ...commonProblems } }),
  createClient: createRoute({ method: 'post', path: '/{app}/clients', tags, ...write, summary: 'New OAuth client credentials; the secret is shown only in this answer', request: { params: appParams, body: body(credentialInput) }, responses: { 201: json(newClientSchema, 'Created'), ...commonProblems, ...bodyProblems } }),
  revokeClient: createRoute({ method: 'delete', path: '/{app}/clients/{client_id}', tags, ...write, summary: 'Revoke an OAuth client; its tokens stop working', request: { params: clientParams }, responses: deleted }),
}

/** `expires_at` as epoch ms; it must lie ahead, or the credential would be dead on arrival. */
function expiry(deps: Deps, value: string | null | undefined): number | null {
  if (value === undefined || value === null) return null
  const at = Date.parse(value)
  if (at <= now(deps)) throw invalidField('expires_at', 'must be in the future')
  return at
}

/**
 * No credential outlives the application credential that makes it: without `expires_at` it
 * expires with its creator (a key's expiry, a client token's own), and a later one is refused.
 * A person's credentials have no such bound.
 */
function lifetime(principal: Principal, expiresAt: number | null): number | null {
  const limit = principal.kind === 'application' ? principal.expiresAt : null
  if (limit === null) return expiresAt
  if (expiresAt === null) return limit
  if (expiresAt > limit) throw invalidField('expires_at', `must not be later than ${new Date(limit).toISOString()}, when the credential making it expires`)
  return expiresAt
}

type Ctx = Context<AppEnv>
const appOf = (deps: Deps, c: Ctx, ref: string) => getApplication(deps, c.get('namespaceId'), ref)

export function appsRoutes(deps: Deps) {
  const credential = async (c: Ctx, ref: string, input: z.infer<typeof credentialInput>) => ({
    applicationId: (await appOf(deps, c, ref)).id,
    name: input.name,
    scopes: input.scopes,
    expiresAt: lifetime(c.get('principal'), expiry(deps, input.expires_at)),
    // What the caller holds here is the most it can hand on.
    grantable: c.get('access').scopes,
  })
  return new OpenAPIHono<AppEnv>()
    .openapi(routes.list, async (c) => c.json({ data: (await listApplications(deps, c.get('namespaceId'))).map(applicationView), next_cursor: null }, 200))
    .openapi(routes.create, async (c) => {
      const input = c.req.valid('json')
      const row = await createApplication(deps, c.get('namespaceId'), { name: input.name, description: input.description, rateLimit: input.rate_limit })
      return c.json(applicationView(row), 201)
    })
    .openapi(routes.show, async (c) => c.json(applicationView(await appOf(deps, c, c.req.valid('param').app)), 200))
    .openapi(routes.update, async (c) => {
      const input = c.req.valid('json')
      const row = await updateApplication(deps, c.get('namespaceId'), c.req.valid('param').app, {
        name: input.name,
        description: input.description,
        rateLimit: input.rate_limit,
      })
      return c.json(applicationView(row), 200)
    })
    .openapi(routes.remove, async (c) => {
      await deleteApplication(deps, c.get('namespaceId'), c.req.valid('param').app)
      return c.body(null, 204)
    })
    .openapi(routes.keys, async (c) => {
      const app = await appOf(deps, c, c.req.valid('param').app)
      return c.json({ data: (await listApiKeys(deps, c.get('namespaceId'), app.id)).map(apiKeyView), next_cursor: null }, 200)
    })
    .openapi(routes.createKey, async (c) => {
      const created = await createApiKey(deps, c.get('namespaceId'), await credential(c, c.req.valid('param').app, c.req.valid('json')))
      return c.json({ ...apiKeyView(created.key), key: created.secret }, 201)
    })
    .openapi(routes.revokeKey, async (c) => {
      const p = c.req.valid('param')
      await revokeApiKey(deps, c.get('namespaceId'), p.key_id, (await appOf(deps, c, p.app)).id)
      return c.body(null, 204)
    })
    .openapi(routes.clients, async (c) => {
      const app = await appOf(deps, c, c.req.valid('param').app)
      return c.json({ data: (await listClients(deps, c.get('namespaceId'), app.id)).map(clientView), next_cursor: null }, 200)
    })
    .openapi(routes.createClient, async (c) => {
      const created = await createClient(deps, c.get('namespaceId'), await credential(c, c.req.valid('param').app, c.req.valid('json')))
      return c.json({ ...clientView(created.client), client_secret: created.secret }, 201)
    })
    .openapi(routes.revokeClient, async (c) => {
      const p = c.req.valid('param')
      await revokeClient(deps, c.get('namespaceId'), p.client_id, (await appOf(deps, c, p.app)).id)
      return c.body(null, 204)
    })
}
