/**
 * The in-process workers: the dispatcher and the named scheduled jobs. Started and stopped with
 * the server.
 */
import { Cron } from 'croner'
import { lt } from 'drizzle-orm'
import type { Config } from '../config'
import type { Deps } from '../domain/deps'
import { IDEMPOTENCY_TTL_MS } from '../domain/messages/send'
import type { Logger } from '../lib/log'
import { idempotencyKeys } from '../store/schema'
import { Dispatcher } from './dispatcher'

export interface JobInfo {
  name: string
  schedule: string
  nextRun: Date | null
}

export class Engine {
  readonly dispatcher: Dispatcher
  private readonly jobs: Cron[] = []
  private readonly shutdownTimeoutMs: number

  constructor(
    private readonly deps: Deps,
    config: Config['engine'],
    private readonly log: Logger,
  ) {
    this.shutdownTimeoutMs = config.shutdown_timeout_ms
    this.dispatcher = new Dispatcher(
      deps,
      {
        concurrency: config.concurrency,
        batchSize: config.batch_size,
        pollIntervalMs: config.poll_interval_ms,
        leaseMs: config.lease_ms,
        maxAttempts: config.max_attempts,
        maxAgeSeconds: config.max_age_seconds,
        backoffBaseMs: config.backoff_base_ms,
        backoffMaxMs: config.backoff_max_ms,
        sendTimeoutMs: config.send_timeout_ms,
        shutdownTimeoutMs: config.shutdown_timeout_ms,
      },
      log,
    )
  }

  start(): void {
    this.deps.signalWork = () => this.dispatcher.wake()
    this.dispatcher.start()
    this.job('idempotency-keys-cleanup', '17 * * * *', async () => {
      await this.deps.store.write((tx) => tx.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, Date.now() - IDEMPOTENCY_TTL_MS)))
    })
  }

  async stop(): Promise<void> {
    for (const job of this.jobs) job.stop()
    this.deps.signalWork = undefined
    await this.dispatcher.stop()
    // A job that is mid-run finishes before the store closes under it.
    const deadline = Date.now() + this.shutdownTimeoutMs
    while (this.jobs.some((j) => j.isBusy()) && Date.now() < deadline) await Bun.sleep(10)
  }

  listJobs(): JobInfo[] {
    return this.jobs.map((j) => ({ name: j.name ?? '', schedule: j.getPattern() ?? '', nextRun: j.nextRun() }))
  }

  /** A named job that never overlaps itself and logs its failures. */
  private job(name: string, pattern: string, run: () => Promise<void>): void {
    this.jobs.push(
      new Cron(pattern, { name, protect: true, catch: (error) => this.log.error('job failed', { job: name, error: String(error) }) }, run),
    )
  }
}
