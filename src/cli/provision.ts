/**
 * Tenants' life cycle from the command line: provisioning a namespace the way signup does
 * (`namespace create SLUG --plan P --owner EMAIL`), exporting, deleting and restoring one, and
 * `omnigate provisioning list|retry|purge`.
 */
import type { Command } from 'commander'
import { now } from '../domain/deps'
import { recordAudit } from '../domain/audit'
import { checkPassword, hashPassword, insertUser } from '../domain/identity/users'
import { getNamespace } from '../domain/namespaces'
import { deletionView, disableNamespace, restoreNamespace } from '../domain/provisioning/deprovision'
import { exportNamespace } from '../domain/provisioning/export'
import { listProvisioningJobs, provisioningView, retryProvisioningJob } from '../domain/provisioning/jobs'
import { provisionByOperator, provisionNow } from '../domain/provisioning/provision'
import { purgeDueNamespaces } from '../domain/provisioning/purge'
import { readNewPassword } from './admin'
import { action, globals, printJson, printTable, UsageError, withGateway } from './context'

const system = { type: 'system' as const, id: null }

/** `namespace create SLUG --plan P --owner EMAIL`: the full provisioning; prints the API key once. */
export async function provisionFromCli(cmd: Command, slug: string, opts: { plan?: string; owner?: string }): Promise<void> {
  const result = await withGateway(cmd, (deps) =>
    provisionByOperator(deps, {
      slug,
      plan: opts.plan,
      ownerEmail: opts.owner,
      // No mail to invite with: the account is made here, its password read like `member add` does.
      createOwner: async (email) => {
        const password = await readNewPassword(`no account for ${email} yet; its password`)
        checkPassword(password)
        const passwordHash = await hashPassword(password)
        // The operator vouches for the address.
        return (await deps.store.tx((tx) => insertUser(tx, { email, passwordHash, verified: true }, now(deps)))).id
      },
    }),
  )
  const view = provisioningView(result.job, result.apiKey)
  if (globals(cmd).json) return printJson({ ...view, invited_owner: result.invited })
  if (view.status !== 'ready') {
    process.exitCode = 1
    const why = view.status === 'failed' ? `failed after step ${view.step}: ${view.error}` : `still provisioning after step ${view.step}; the engine finishes it`
    process.stderr.write(`error: namespace ${slug}: ${why} (see omnigate provisioning list, job ${view.id})\n`)
    return
  }
  console.log(`provisioned namespace ${slug} (plan ${view.plan}) with channel sandbox and application default`)
  if (result.invited) console.log(`invited ${result.invited} as owner; the link was mailed`)
  if (result.apiKey) {
    console.log('its API key, shown only now:')
    console.log(result.apiKey)
  }
}

/** The reader of standard output went away (`omnigate namespace export acme | head`). */
class ReaderGone extends Error {}

/**
 * Lines to standard output that respect the pipe: a large export waits for its reader instead
 * of filling memory, and stops (ReaderGone) when the reader closes it, instead of an EPIPE
 * stack trace and a wait for a `drain` that never comes.
 */
function stdoutLines() {
  let gone = false
  let wake: (() => void) | null = null
  const onError = () => {
    gone = true
    wake?.()
  }
  process.stdout.on('error', onError)
  process.stdout.on('close', onError)
  return {
    async write(line: string): Promise<void> {
      if (gone) throw new ReaderGone()
      let flowing: boolean
      try {
        flowing = process.stdout.write(`${line}\n`)
      } catch (error) {
        if ((error as { code?: string }).code !== 'EPIPE') throw error
        gone = true
        throw new ReaderGone()
      }
      // The error may already have been reported, during the write itself.
      if (!flowing && !gone) {
        await new Promise<void>((resolve) => {
          wake = resolve
          process.stdout.once('drain', resolve)
        })
        wake = null
      }
      if (gone) throw new ReaderGone()
    },
    close(): void {
      process.stdout.off('error', onError)
      process.stdout.off('close', onError)
    },
  }
}

/** `namespace export|delete|restore`, added to the `namespace` command group. */
export function registerNamespaceLifecycle(ns: Command): void {
  ns.command('export <namespace>')
    .description('write every row of a namespace to stdout as NDJSON (secrets stay sealed or are left out)')
    .action(
      action(async (ref: string, _opts: unknown, cmd: Command) => {
        const out = stdoutLines()
        let summary: Awaited<ReturnType<typeof exportNamespace>>
        try {
          summary = await withGateway(cmd, async (deps) => exportNamespace(deps, (await getNamespace(deps, ref)).id, out.write))
        } catch (error) {
          // `| head`: the reader has what it wanted; stopping is the answer, not an error.
          if (error instanceof ReaderGone) return
          throw error
        } finally {
          out.close()
        }
        const rows = Object.values(summary.tables).reduce((a, b) => a + b, 0)
        process.stderr.write(`exported ${rows} rows from ${Object.keys(summary.tables).length} tables\n`)
      }),
    )
  ns.command('delete <namespace>')
    .description('disable a namespace now (keys refused, nothing sent) and purge all its data after [retention] purge_grace_days')
    .action(
      action(async (ref: string, _opts: unknown, cmd: Command) => {
        const row = await withGateway(cmd, async (deps) => {
          const namespace = await getNamespace(deps, ref)
          const disabled = await disableNamespace(deps, namespace.id)
          await recordAudit(deps.store, { namespaceId: namespace.id, actor: system, action: 'cli namespace delete', resource: { type: 'namespace', id: namespace.id }, at: now(deps) })
          return disabled
        })
        const view = deletionView(row)
        if (globals(cmd).json) printJson(view)
        else console.log(`namespace ${view.slug} is disabled; its data is purged after ${view.purge_after}`)
      }),
    )
  ns.command('restore <namespace>')
    .description('undo a delete during the grace period')
    .action(
      action(async (ref: string, _opts: unknown, cmd: Command) => {
        const row = await withGateway(cmd, async (deps) => restoreNamespace(deps, (await getNamespace(deps, ref)).id))
        if (globals(cmd).json) printJson(deletionView(row))
        else console.log(`namespace ${row.slug} is ${row.status}`)
      }),
    )
}

export function registerProvisioning(program: Command): void {
  const cmd = program.command('provisioning').description('jobs that build new namespaces, and the purge of deleted ones')
  cmd
    .command('list')
    .description('provisioning jobs, newest first')
    .option('--limit <n>', 'at most this many', '50')
    .action(
      action(async (opts: { limit: string }, c: Command) => {
        const limit = Number(opts.limit)
        if (!(Number.isInteger(limit) && limit > 0)) throw new UsageError('--limit must be a positive whole number')
        const rows = (await withGateway(c, (deps) => listProvisioningJobs(deps.store, limit))).map((j) => provisioningView(j))
        printTable(
          globals(c),
          rows.map((v) => ({ id: v.id, namespace: v.namespace, status: v.status, step: v.step, plan: v.plan, attempts: v.attempts, error: v.error })),
          rows,
        )
      }),
    )
  cmd
    .command('retry <job-id>')
    .description('run a failed provisioning job again from the step it failed at')
    .action(
      action(async (jobId: string, _opts: unknown, c: Command) => {
        const { job, apiKey } = await withGateway(c, async (deps) => {
          const retried = await retryProvisioningJob(deps, jobId)
          // A signup's key belongs to its owner (shown at GET …/provisioning); an operator's job has no one else to show it to.
          return provisionNow(deps, jobId, { waitMs: 30_000, revealKey: retried.userId === null })
        })
        const view = provisioningView(job, apiKey)
        if (globals(c).json) printJson(view)
        else {
          console.log(`job ${view.id} (${view.namespace}): ${view.status} at step ${view.step}${view.error ? `: ${view.error}` : ''}`)
          if (apiKey) console.log(`its API key, shown only now:\n${apiKey}`)
        }
      }),
    )
  cmd
    .command('purge')
    .description('purge now the deleted namespaces whose grace period is over (the namespace-purge job does it hourly)')
    .action(
      action(async (_opts: unknown, c: Command) => {
        const report = await withGateway(c, (deps) => purgeDueNamespaces(deps))
        if (globals(c).json) printJson(report)
        else if (report.purged.length === 0) console.log('nothing to purge')
        else console.log(`purged ${report.purged.join(', ')} (${Object.values(report.rows).reduce((a, b) => a + b, 0)} rows)`)
      }),
    )
}
