/** /v1/jobs: the scheduled jobs with their last and next runs, as `omnigate jobs list` shows them (instance admins). */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Deps } from '../../domain/deps'
import { Engine } from '../../engine/engine'
import { isRunning, listJobRuns } from '../../engine/jobs'
import { silentLogger } from '../../lib/log'
import type { AppEnv } from '../env'
import { json, listOf, problem } from '../schemas'
import { requireInstanceAdmin } from './namespaces-admin'

const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString())

const jobSchema = z
  .object({
    name: z.string().openapi({ example: 'retention' }),
    schedule: z.string().openapi({ description: 'A cron pattern (server local time)', example: '41 * * * *' }),
    status: z.enum(['running', 'ok', 'error', 'never run']).openapi({ description: 'Running now (on any instance), else how the last run ended' }),
    last_started_at: z.string().nullable(),
    last_finished_at: z.string().nullable(),
    last_error: z.string().nullable(),
    next_run: z.string().nullable(),
  })
  .openapi('Job')

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['instance'],
  middleware: [requireInstanceAdmin()],
  summary: 'The scheduled jobs: schedule, last run and how it ended, next run (instance admins)',
  responses: { 200: json(listOf(jobSchema), 'Jobs'), 401: problem('Missing or invalid credentials'), 403: problem('Not an instance admin') },
})

export type JobOverview = z.infer<typeof jobSchema>

/**
 * Every job the engine declares (an engine built only to list them, never started, as the CLI
 * does) with its lease row: what `omnigate jobs list` prints.
 */
export function jobsOverview(deps: Deps): () => Promise<JobOverview[]> {
  let engine: Engine | null = null
  return async function listJobs() {
    engine ??= new Engine(deps, deps.config, silentLogger)
    const at = Date.now()
    const runs = new Map((await listJobRuns(deps.store)).map((r) => [r.name, r]))
    return engine.listJobs().map((job) => {
      const run = runs.get(job.name)
      const status = isRunning(run, at) ? 'running' : ((run?.lastStatus as 'ok' | 'error' | null | undefined) ?? 'never run')
      return {
        name: job.name,
        schedule: job.schedule,
        status,
        last_started_at: iso(run?.lastStartedAt),
        last_finished_at: iso(run?.lastFinishedAt),
        last_error: run?.lastStatus === 'error' ? (run.lastError ?? null) : null,
        next_run: job.nextRun?.toISOString() ?? null,
      }
    })
  }
}

export function jobsAdminRoutes(deps: Deps) {
  const listJobs = jobsOverview(deps)
  return new OpenAPIHono<AppEnv>().openapi(list, async (c) => c.json({ data: await listJobs(), next_cursor: null }, 200))
}
