/** /v1/namespaces/{ns}/channels and their terminals. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import { channelView, createChannel, deleteChannel, getChannel, listChannels, testChannel, updateChannel } from '../../domain/channels'
import { createTerminal, deleteTerminal, listTerminals, terminalView, updateTerminal } from '../../domain/channels/terminals'
import type { Deps } from '../../domain/deps'
import type { AppEnv } from '../env'
import { scoped } from '../middleware/auth'
import { bodyProblems, channelSchema, commonProblems, conflictProblem, json, nsParams, terminalSchema } from '../schemas'

const channelCreateSchema = z.strictObject({
  name: z.string().min(1).max(63).openapi({ example: 'alerts' }),
  type: z.string().min(1).openapi({ example: 'http' }),
  config: z.record(z.string(), z.unknown()).optional().openapi({ description: "Validated by the connector's schema" }),
  status: z.enum(['active', 'paused']).optional(),
  max_attempts: z.int().min(1).max(100).nullable().optional(),
  max_age_seconds: z.int().min(1).nullable().optional(),
  rate_limit: z.int().min(1).max(10_000).nullable().optional().openapi({ description: 'Messages per second sent through the channel at most (per instance); null = no limit' }),
})
const channelPatchSchema = channelCreateSchema.omit({ name: true, type: true })
const terminalCreateSchema = z.strictObject({
  address: z.string().min(1).max(512),
  name: z.string().max(200).optional(),
  default: z.boolean().optional(),
})
const terminalPatchSchema = terminalCreateSchema.omit({ address: true })

const channelParams = nsParams.extend({ channel: z.string().openapi({ description: 'Channel id or name' }) })
const terminalParams = channelParams.extend({ terminal: z.string().openapi({ description: 'Terminal id or address' }) })
const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } })
const tags = ['channels']
const read = scoped('channels:read')
const write = scoped('channels:write')

const routes = {
  list: createRoute({ method: 'get', path: '/', tags, ...read, summary: 'List channels', request: { params: nsParams }, responses: { 200: json(z.object({ data: z.array(channelSchema), next_cursor: z.null() }), 'Channels'), ...commonProblems } }),
  create: createRoute({ method: 'post', path: '/', tags, ...write, summary: 'Create a channel', request: { params: nsParams, body: body(channelCreateSchema) }, responses: { 201: json(channelSchema, 'Created'), ...commonProblems, ...bodyProblems, ...conflictProblem } }),
  show: createRoute({ method: 'get', path: '/{channel}', tags, ...read, summary: 'A channel', request: { params: channelParams }, responses: { 200: json(channelSchema, 'The channel'), ...commonProblems } }),
  update: createRoute({ method: 'patch', path: '/{channel}', tags, ...write, summary: 'Update status, limits or config (a new config replaces the old)', request: { params: channelParams, body: body(channelPatchSchema) }, responses: { 200: json(channelSchema, 'Updated'), ...commonProblems, ...bodyProblems } }),
  remove: createRoute({ method: 'delete', path: '/{channel}', tags, ...write, summary: 'Delete a channel that never carried a message', request: { params: channelParams }, responses: { 204: { description: 'Deleted' }, ...commonProblems, ...conflictProblem } }),
  test: createRoute({ method: 'post', path: '/{channel}/test', tags, ...write, summary: "Check the channel's credentials with its provider", request: { params: channelParams }, responses: { 200: json(z.object({ ok: z.boolean(), detail: z.string().optional() }), 'Result'), ...commonProblems } }),
  terminals: createRoute({ method: 'get', path: '/{channel}/terminals', tags, ...read, summary: "List a channel's terminals", request: { params: channelParams }, responses: { 200: json(z.object({ data: z.array(terminalSchema), next_cursor: z.null() }), 'Terminals'), ...commonProblems } }),
  addTerminal: createRoute({ method: 'post', path: '/{channel}/terminals', tags, ...write, summary: 'Add a terminal', request: { params: channelParams, body: body(terminalCreateSchema) }, responses: { 201: json(terminalSchema, 'Created'), ...commonProblems, ...bodyProblems, ...conflictProblem } }),
  updateTerminal: createRoute({ method: 'patch', path: '/{channel}/terminals/{terminal}', tags, ...write, summary: 'Rename a terminal or make it the default', request: { params: terminalParams, body: body(terminalPatchSchema) }, responses: { 200: json(terminalSchema, 'Updated'), ...commonProblems, ...bodyProblems } }),
  removeTerminal: createRoute({ method: 'delete', path: '/{channel}/terminals/{terminal}', tags, ...write, summary: 'Remove a terminal', request: { params: terminalParams }, responses: { 204: { description: 'Deleted' }, ...commonProblems } }),
}

export function channelsRoutes(deps: Deps) {
  const view = (row: Parameters<typeof channelView>[1]) => channelView(deps, row) as never
  return new OpenAPIHono<AppEnv>()
    .openapi(routes.list, async (c) => c.json({ data: (await listChannels(deps, c.get('namespaceId'))).map(view), next_cursor: null } as never, 200))
    .openapi(routes.create, async (c) => c.json(view(await createChannel(deps, c.get('namespaceId'), c.req.valid('json'))), 201))
    .openapi(routes.show, async (c) => c.json(view(await getChannel(deps, c.get('namespaceId'), c.req.valid('param').channel)), 200))
    .openapi(routes.update, async (c) =>
      c.json(view(await updateChannel(deps, c.get('namespaceId'), c.req.valid('param').channel, c.req.valid('json'))), 200),
    )
    .openapi(routes.remove, async (c) => {
      await deleteChannel(deps, c.get('namespaceId'), c.req.valid('param').channel)
      return c.body(null, 204)
    })
    .openapi(routes.test, async (c) => c.json((await testChannel(deps, c.get('namespaceId'), c.req.valid('param').channel)) as never, 200))
    .openapi(routes.terminals, async (c) =>
      c.json({ data: (await listTerminals(deps, c.get('namespaceId'), c.req.valid('param').channel)).map(terminalView), next_cursor: null } as never, 200),
    )
    .openapi(routes.addTerminal, async (c) =>
      c.json(terminalView(await createTerminal(deps, c.get('namespaceId'), c.req.valid('param').channel, c.req.valid('json'))) as never, 201),
    )
    .openapi(routes.updateTerminal, async (c) => {
      const p = c.req.valid('param')
      return c.json(terminalView(await updateTerminal(deps, c.get('namespaceId'), p.channel, p.terminal, c.req.valid('json'))) as never, 200)
    })
    .openapi(routes.removeTerminal, async (c) => {
      const p = c.req.valid('param')
      await deleteTerminal(deps, c.get('namespaceId'), p.channel, p.terminal)
      return c.body(null, 204)
    })
}
