/** `omnigate jobs`: the scheduled jobs, their last and next runs; run one now. */
import type { Command } from 'commander'
import { Engine } from '../engine/engine'
import { isRunning, listJobRuns } from '../engine/jobs'
import { silentLogger } from '../lib/log'
import { action, globals, printJson, printTable, UsageError, withGateway } from './context'

const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString())

export function registerJobs(program: Command): void {
  const jobs = program.command('jobs').description('scheduled jobs (cleanup, retention, …)')

  jobs
    .command('list')
    .description('every job: schedule, last run and its status, next run')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const at = Date.now()
        const rows = await withGateway(cmd, async (deps, config) => {
          const runs = new Map((await listJobRuns(deps.store)).map((r) => [r.name, r]))
          return new Engine(deps, config, silentLogger).listJobs().map((job) => {
            const run = runs.get(job.name)
            return {
              name: job.name,
              schedule: job.schedule,
              last_run: iso(run?.lastStartedAt),
              status: isRunning(run, at) ? 'running' : (run?.lastStatus ?? 'never run'),
              next_run: job.nextRun?.toISOString() ?? null,
              last_error: run?.lastStatus === 'error' ? run.lastError : null,
            }
          })
        })
        printTable(globals(cmd), rows)
      }),
    )

  jobs
    .command('run <name>')
    .description('run a job now, here (it waits its turn if another instance is running it)')
    .action(
      action(async (name: string, _opts: unknown, cmd: Command) => {
        const outcome = await withGateway(cmd, async (deps, config) => {
          // The runner logs why a run failed or did not start (a busy database); that is the answer.
          const failures: string[] = []
          const log = { ...silentLogger, error: (message: string, fields?: { error?: unknown }) => void failures.push(fields?.error === undefined ? message : `${message}: ${String(fields.error)}`) }
          const engine = new Engine(deps, config, log)
          if (!engine.listJobs().some((j) => j.name === name)) {
            throw new UsageError(`no job named "${name}" (jobs: ${engine.listJobs().map((j) => j.name).join(', ')})`)
          }
          const result = await engine.jobs.run(name)
          return { result, error: failures.join('; ') }
        })
        if (outcome.result === 'skipped') throw new Error(`job ${name} is running elsewhere now; try again when it finishes`)
        if (outcome.result === 'error') throw new Error(`job ${name}: ${outcome.error}`)
        if (globals(cmd).json) printJson({ job: name, status: 'ok' })
        else console.log(`job ${name} finished`)
      }),
    )
}
