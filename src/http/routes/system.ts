/** /v1/system and /v1/plans: the instance's health and its plans (instance admins only). */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Deps } from '../../domain/deps'
import { listPlans } from '../../domain/instance/plans'
import { systemStatus } from '../../domain/instance/status'
import type { AppEnv } from '../env'
import { json, listOf, problem } from '../schemas'
import { requireInstanceAdmin } from './namespaces-admin'

const refusals = { 401: problem('Missing or invalid credentials'), 403: problem('Not an instance admin') }
const tags = ['instance']

const systemSchema = z
  .object({
    version: z.string(),
    runtime: z.string().openapi({ example: 'bun 1.3.0' }),
    started_at: z.string(),
    uptime_seconds: z.number().int(),
    store: z.object({
      driver: z.enum(['bun-sqlite', 'libsql']),
      migrated: z.boolean(),
      bytes: z.number().int().openapi({ description: "The database's size (page count × page size)" }),
      free_bytes: z.number().int().openapi({ description: 'Of which free pages (VACUUM gives them back)' }),
      checkpoints: z
        .object({
          thread: z.enum(['not started', 'running', 'failed']),
          runs: z.number().int(),
          error: z.string().nullable(),
        })
        .nullable()
        .openapi({ description: 'The WAL checkpoint thread of an embedded SQLite store (null on libSQL); it starts once the store is written to in earnest' }),
    }),
    namespaces: z.record(z.string(), z.number().int()).openapi({ description: 'Namespaces by status', example: { active: 3, disabled: 1 } }),
    users: z.number().int().openapi({ description: 'Users not disabled' }),
  })
  .openapi('SystemStatus')

const planSchema = z
  .object({
    name: z.string(),
    messages_per_day: z.number().int().openapi({ description: '0 = unlimited' }),
    messages_per_month: z.number().int().openapi({ description: '0 = unlimited' }),
    requests_per_second: z.number().int().openapi({ description: '0 = unlimited' }),
    default: z.boolean().openapi({ description: 'The plan of `[signup] default_plan`' }),
    namespaces: z.number().int().openapi({ description: 'Namespaces provisioned with it' }),
  })
  .openapi('Plan')

const routes = {
  system: createRoute({ method: 'get', path: '/system', tags, middleware: [requireInstanceAdmin()], summary: 'Version, uptime, store driver and size (instance admins)', responses: { 200: json(systemSchema, 'The instance now'), ...refusals } }),
  plans: createRoute({ method: 'get', path: '/plans', tags, middleware: [requireInstanceAdmin()], summary: 'The plans of [[plans]] (instance admins)', responses: { 200: json(listOf(planSchema), 'Plans'), ...refusals } }),
}

export function systemRoutes(deps: Deps) {
  return new OpenAPIHono<AppEnv>()
    .openapi(routes.system, async (c) => c.json(await systemStatus(deps), 200))
    .openapi(routes.plans, async (c) => c.json({ data: await listPlans(deps), next_cursor: null }, 200))
}
