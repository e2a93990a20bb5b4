/** Response and parameter schemas for the OpenAPI document (request bodies live in the domain). */
import { z } from '@hono/zod-openapi'

export const problemSchema = z
  .object({
    type: z.string(),
    code: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    request_id: z.string().optional(),
  })
  .openapi('Problem')

/** A problem+json response of the OpenAPI document. */
export const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problemSchema } },
})

/** The problems every authenticated route can answer. */
export const commonProblems = {
  401: problem('Missing, unknown, revoked or expired credential'),
  403: problem('The credential lacks the scope this route needs'),
  404: problem('No such namespace or resource (also for another namespace)'),
}

export const bodyProblems = {
  400: problem('Malformed JSON'),
  413: problem('Body too large'),
  415: problem('Body is not application/json'),
  422: problem('Validation failed; `errors` names each bad field'),
}

export const conflictProblem = { 409: problem('Conflict') }

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})

export const nsParams = z.object({ ns: z.string().openapi({ description: 'Namespace slug or id', example: 'demo' }) })

export const errorDetail = z.object({ code: z.string(), message: z.string().nullable() }).nullable()

export const messageSchema = z
  .object({
    id: z.string().openapi({ example: 'msg_019a...' }),
    direction: z.enum(['outbound', 'inbound']),
    status: z.string().openapi({ example: 'delivered' }),
    channel: z.object({ id: z.string(), name: z.string(), type: z.string() }),
    from: z.string().nullable(),
    to: z.union([z.string(), z.record(z.string(), z.unknown())]),
    content: z.record(z.string(), z.unknown()),
    metadata: z.record(z.string(), z.string()),
    options: z.record(z.string(), z.unknown()),
    send_at: z.string().nullable(),
    attempts: z.number().int(),
    provider_message_id: z.string().nullable(),
    error: errorDetail,
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Message')

export const messageEventSchema = z
  .object({
    status: z.string(),
    at: z.string(),
    attempt: z.number().int().nullable(),
    provider_message_id: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string().nullable(), class: z.string().nullable().optional() }).nullable(),
  })
  .openapi('MessageEvent')

export const acceptedSchema = z
  .object({ id: z.string(), status: z.enum(['queued', 'scheduled']), send_at: z.string().nullable(), created_at: z.string() })
  .openapi('AcceptedMessage')

export const channelSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    type: z.string(),
    status: z.enum(['active', 'paused', 'failing']).or(z.string()),
    config: z.record(z.string(), z.unknown()).openapi({ description: 'Secret values are masked' }),
    max_attempts: z.number().int().nullable(),
    max_age_seconds: z.number().int().nullable(),
    rate_limit: z.number().int().nullable().openapi({ description: 'Messages per second the dispatcher sends at most' }),
    capabilities: z.array(z.string()),
    inbound_url: z.string().nullable().openapi({ description: 'Where the provider sends callbacks' }),
    health: z
      .object({
        success_rate_1h: z.number().nullable(),
        last_error: z.object({ code: z.string(), message: z.string().nullable(), at: z.string() }).nullable(),
      })
      .optional(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Channel')

export const terminalSchema = z
  .object({
    id: z.string(),
    channel_id: z.string(),
    address: z.string(),
    name: z.string(),
    default: z.boolean(),
    created_at: z.string(),
  })
  .openapi('Terminal')

export const listOf = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), next_cursor: z.string().nullable() })

/** A namespace's provisioning job, as its owner (or an instance admin) sees it. */
export const provisioningSchema = z
  .object({
    id: z.string(),
    namespace: z.string(),
    status: z.enum(['provisioning', 'ready', 'failed']),
    step: z.string().openapi({ description: 'The last step done: created, namespace, owner, channel, application, quotas, done' }),
    plan: z.string().nullable(),
    error: z.string().nullable(),
    attempts: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
    api_key: z.string().optional().openapi({ description: 'The API key provisioning made: in the first answer its owner gets once it is ready, never again' }),
  })
  .openapi('ProvisioningStatus')

/** A person's account (never a secret). */
export const userSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    display_name: z.string(),
    verified: z.boolean(),
    disabled: z.boolean(),
    instance_admin: z.boolean(),
    created_at: z.string(),
  })
  .openapi('User')
