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
import { idempotencyKeys, pendingStatuses } from '../store/schema'
import { Dispatcher } from './dispatcher'
import { InboundListeners } from './listeners'
import { WebhookDeliverer } from './webhook-deliverer'
import { type SmtpListener, startSmtpListener } from './smtp-listener'

const PENDING_STATUS_TTL_MS = 7 * 24 * 60 * 60 * 1000

export interface JobInfo {
  name: string
  schedule: string
  nextRun: Date | null
}

export class Engine {
  readonly dispatcher: Dispatcher
  readonly deliverer: WebhookDeliverer
  readonly listeners: InboundListeners
  smtp: SmtpListener | null = null
  private readonly jobs: Cron[] = []
  private readonly shutdownTimeoutMs: number

  constructor(
    private readonly deps: Deps,
    private readonly fullConfig: Config,
    private readonly log: Logger,
  ) {
    const config = fullConfig.engine
    this.listeners = new InboundListeners(deps, log)
    const hooks = fullConfig.webhooks
    this.deliverer = new WebhookDeliverer(
      deps,
      {
        scheduleMs: hooks.retry_schedule_ms,
        timeoutMs: hooks.timeout_ms,
        disableAfterMs: hooks.disable_after_hours * 3_600_000,
        perEndpointConcurrency: hooks.per_endpoint_concurrency,
        concurrency: hooks.concurrency,
        batchSize: config.batch_size,
        pollIntervalMs: config.poll_interval_ms,
        shutdownTimeoutMs: config.shutdown_timeout_ms,
      },
      log,
    )
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

  async start(): Promise<void> {
    this.deps.signalWork = () => {
      this.dispatcher.wake()
      this.deliverer.wake()
    }
    this.dispatcher.start()
    this.deliverer.start()
    this.listeners.start()
    this.smtp = await startSmtpListener(this.deps, this.fullConfig, this.log)
    this.job('idempotency-keys-cleanup', '17 * * * *', async () => {
      await this.deps.store.write((tx) => tx.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, Date.now() - IDEMPOTENCY_TTL_MS)))
    })
    this.job('pending-statuses-cleanup', '23 * * * *', async () => {
      // A report whose send never got recorded within a week will not be matched any more.
      await this.deps.store.write((tx) => tx.delete(pendingStatuses).where(lt(pendingStatuses.createdAt, Date.now() - PENDING_STATUS_TTL_MS)))
    })
  }

  async stop(): Promise<void> {
    for (const job of this.jobs) job.stop()
    this.deps.signalWork = undefined
    await this.smtp?.stop()
    await this.listeners.stop()
    await this.dispatcher.stop()
    await this.deliverer.stop()
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
