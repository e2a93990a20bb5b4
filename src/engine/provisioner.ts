/**
 * The provisioner: finishes provisioning jobs that nobody is running — a job whose runner
 * crashed (its lease ran out), one waiting to retry after a transient error, one enqueued by a
 * process that did not wait for it. Each job resumes after the last step it recorded.
 */
import { hostname } from 'node:os'
import type { Deps } from '../domain/deps'
import { claimProvisioningJobs, type ProvisioningJob, releaseProvisioningJob } from '../domain/provisioning/jobs'
import { PROVISIONING_LEASE_MS, runProvisioningJob } from '../domain/provisioning/steps'
import type { Logger } from '../lib/log'
import { ClaimLoop } from './claim-loop'

export interface ProvisionerOptions {
  pollIntervalMs: number
  shutdownTimeoutMs: number
  /** Jobs run at once; tenants are created a few a day, so a couple is plenty. */
  concurrency?: number
  leaseMs?: number
}

export class Provisioner {
  readonly owner = `${hostname()}:${process.pid}:prv:${Math.random().toString(36).slice(2, 8)}`
  private readonly loop: ClaimLoop<ProvisioningJob>

  constructor(
    private readonly deps: Deps,
    opts: ProvisionerOptions,
    private readonly log: Logger,
  ) {
    const leaseMs = opts.leaseMs ?? PROVISIONING_LEASE_MS
    const concurrency = opts.concurrency ?? 2
    this.loop = new ClaimLoop<ProvisioningJob>(
      {
        name: 'provisioner',
        concurrency,
        batchSize: concurrency,
        pollIntervalMs: opts.pollIntervalMs,
        shutdownTimeoutMs: opts.shutdownTimeoutMs,
        claim: async (limit) => ({ items: await claimProvisioningJobs(deps.store, this.owner, limit, leaseMs, Date.now()) }),
        process: (job, signal) => this.run(job, signal, leaseMs),
        release: (job) => releaseProvisioningJob(deps.store, this.owner, job.id),
      },
      log,
    )
  }

  start(): void {
    this.loop.start()
  }

  wake(): void {
    this.loop.wake()
  }

  stop(): Promise<void> {
    return this.loop.stop()
  }

  private async run(job: ProvisioningJob, signal: AbortSignal, leaseMs: number): Promise<void> {
    const result = await runProvisioningJob(this.deps, job, this.owner, { leaseMs, signal })
    if (result?.status === 'failed') this.log.warn('provisioning failed', { job: job.id, namespace: job.slug, error: result.error ?? '' })
    else if (result?.status === 'done') this.log.info('namespace provisioned', { job: job.id, namespace: job.slug })
  }
}
