/** /v1/namespaces/{ns}/messages: send, batch, list, read, cancel. */
import { createHash } from 'node:crypto'
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { Deps } from '../../domain/deps'
import { errors } from '../../domain/errors'
import { listMessagesSchema, sendBatchSchema, sendMessageSchema } from '../../domain/messages/input'
import { cancelMessage, getMessage, listMessages } from '../../domain/messages/query'
import { type Accepted, sendMessage, sendMessages } from '../../domain/messages/send'
import type { Principal } from '../../domain/identity/principal'
import { nestedDeeperThan } from '../../lib/json-depth'
import type { AppEnv } from '../env'
import { scoped } from '../middleware/auth'
import {
  acceptedSchema,
  bodyProblems,
  commonProblems,
  conflictProblem,
  json,
  listOf,
  messageEventSchema,
  messageSchema,
  nsParams,
} from '../schemas'

export const idempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters')
    .optional()
    .openapi({ description: 'Same key and body within 24 h returns the first response' }),
})

/**
 * JSON with object keys sorted, so the same request hashes the same whatever its key order.
 * Only an object whose keys are out of order is rebuilt (sorted); the rest is JSON.stringify's
 * own work. On a 100-message batch this was a fifth of the server's CPU with a replacer that
 * rebuilt every object (test/api/messages.test.ts checks replays across key orders).
 */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, sortedKeys)
}

function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      const sorted: Record<string, unknown> = {}
      for (const key of keys.sort()) sorted[key] = record[key]
      return sorted
    }
  }
  return value
}

/** Deeper than any message needs (a WhatsApp template's components nest ~5 levels). */
export const MAX_SEND_DEPTH = 32

/** A validated send body that nests too deep is refused before anything walks it. */
export function checkSendDepth(body: unknown): void {
  if (nestedDeeperThan(body, MAX_SEND_DEPTH)) {
    throw errors.validation(`(body): is nested more than ${MAX_SEND_DEPTH} levels deep`, [{ field: '(body)', message: `is nested more than ${MAX_SEND_DEPTH} levels deep` }])
  }
}

/**
 * The Idempotency-Key of a POST to `route` (the router's template, e.g.
 * `/v1/namespaces/:ns/messages`), with a hash of what it asked for. The send lane
 * (src/http/send-lane.ts) hashes the same way, so a key replays whichever path served it.
 */
export function idempotencyOf(key: string | undefined, route: string, body: unknown) {
  if (key === undefined) return undefined
  const requestHash = createHash('sha256').update(`POST ${route}\n${canonicalJson(body)}`).digest('hex')
  return { key, requestHash }
}

export const applicationOf = (p: Principal) => (p.kind === 'application' ? p.applicationId : null)

function answer(c: Context, accepted: Accepted) {
  if (accepted.replayed) c.header('idempotent-replayed', 'true')
  return c.json(accepted.body as never, accepted.status as 202)
}

const send = createRoute({
  method: 'post',
  path: '/',
  summary: 'Send a message',
  tags: ['messages'],
  ...scoped('messages:send'),
  request: {
    params: nsParams,
    headers: idempotencyHeader,
    body: { required: true, content: { 'application/json': { schema: sendMessageSchema } } },
  },
  responses: {
    202: json(acceptedSchema, 'Accepted: queued, or scheduled when send_at is in the future'),
    ...commonProblems,
    ...bodyProblems,
    409: conflictProblem[409],
  },
})

const batch = createRoute({
  method: 'post',
  path: '/batch',
  summary: 'Send up to 1,000 messages atomically',
  tags: ['messages'],
  ...scoped('messages:send'),
  request: {
    params: nsParams,
    headers: idempotencyHeader,
    body: { required: true, content: { 'application/json': { schema: sendBatchSchema } } },
  },
  responses: {
    202: json(z.object({ data: z.array(acceptedSchema) }), 'All accepted, in request order'),
    ...commonProblems,
    ...bodyProblems,
    409: conflictProblem[409],
  },
})

const list = createRoute({
  method: 'get',
  path: '/',
  summary: 'List messages, newest first',
  tags: ['messages'],
  ...scoped('messages:read'),
  request: { params: nsParams, query: listMessagesSchema },
  responses: { 200: json(listOf(messageSchema), 'A page of messages'), ...commonProblems, 422: bodyProblems[422] },
})

const idParams = nsParams.extend({ id: z.string().openapi({ example: 'msg_019a...' }) })

const show = createRoute({
  method: 'get',
  path: '/{id}',
  summary: 'A message with its event timeline',
  tags: ['messages'],
  ...scoped('messages:read'),
  request: { params: idParams },
  responses: {
    200: json(messageSchema.extend({ events: z.array(messageEventSchema) }), 'The message'),
    ...commonProblems,
  },
})

const cancel = createRoute({
  method: 'post',
  path: '/{id}/cancel',
  summary: 'Cancel a scheduled message',
  tags: ['messages'],
  ...scoped('messages:send'),
  request: { params: idParams },
  responses: {
    200: json(messageSchema.extend({ events: z.array(messageEventSchema) }), 'The cancelled message'),
    ...commonProblems,
    409: conflictProblem[409],
  },
})

export function messagesRoutes(deps: Deps) {
  return new OpenAPIHono<AppEnv>()
    .openapi(send, async (c) => {
      const body = c.req.valid('json')
      checkSendDepth(body)
      const ctx = { applicationId: applicationOf(c.get('principal')), idempotency: idempotencyOf(c.req.header('idempotency-key'), c.req.routePath, body) }
      return answer(c, await sendMessage(deps, c.get('namespaceId'), body, ctx))
    })
    .openapi(batch, async (c) => {
      const body = c.req.valid('json')
      checkSendDepth(body)
      const ctx = { applicationId: applicationOf(c.get('principal')), idempotency: idempotencyOf(c.req.header('idempotency-key'), c.req.routePath, body) }
      return answer(c, await sendMessages(deps, c.get('namespaceId'), body.messages, ctx))
    })
    .openapi(list, async (c) => c.json((await listMessages(deps, c.get('namespaceId'), c.req.valid('query'))) as never, 200))
    .openapi(show, async (c) => c.json((await getMessage(deps, c.get('namespaceId'), c.req.valid('param').id)) as never, 200))
    .openapi(cancel, async (c) =>
      c.json((await cancelMessage(deps, c.get('namespaceId'), c.req.valid('param').id)) as never, 200),
    )
}
