/**
 * The in-process workers: the dispatcher and the named scheduled jobs. Started and stopped with
 * the server.
 */
import { lt } from 'drizzle-orm'
import type { Config } from '../config'
import type { Deps } from '../domain/deps'
import { evaluateChannelHealth } from '../domain/analytics/health'
import { pruneMinuteRollups } from '../domain/analytics/rollups'
import { pruneIdempotencyKeys } from '../domain/messages/send'
import { purgeDueNamespaces } from '../domain/provisioning/purge'
import { applyRetention } from '../domain/retention'
import type { Logger } from '../lib/log'
import { outsideRequest } from '../lib/request-context'
import { pendingStatuses } from '../store/schema'
import { Dispatcher } from './dispatcher'
import { type JobInfo, JobRunner } from './jobs'
import { InboundListeners } from './listeners'
import { Provisioner } from './provisioner'
import { WebhookDeliverer } from './webhook-deliverer'
import type { SmtpListener } from './smtp-listener'

/**
 * The engines started on one `deps` (tests start several): `deps.signalWork` wakes them all, so
 * stopping one does not leave the others to their polls.
 */
const wakers = new WeakMap<Deps, Set<() => void>>()
function wakersOf(deps: Deps): Set<() => void> {
  let set = wakers.get(deps)
  if (!set) {
    const engines = new Set<() => void>()
    wakers.set(deps, (set = engines))
    deps.signalWork = () => {
      for (const wake of engines) wake()
    }
  }
  return set
}

const PENDING_STATUS_TTL_MS = 7 * 24 * 60 * 60 * 1000

export type { JobInfo }

export class Engine {
  readonly dispatcher: Dispatcher
  readonly deliverer: WebhookDeliverer
  readonly listeners: InboundListeners
  readonly provisioner: Provisioner
  smtp: SmtpListener | null = null
  readonly jobs: JobRunner
  private readonly shutdownTimeoutMs: number
  private offDeliveries: (() => void) | null = null
  private readonly wake = () =>
    outsideRequest(() => {
      this.dispatcher.wake()
      this.deliverer.wake()
    })

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
    this.provisioner = new Provisioner(deps, { pollIntervalMs: Math.max(config.poll_interval_ms, 1000), shutdownTimeoutMs: config.shutdown_timeout_ms }, log)
    this.jobs = new JobRunner(deps.store, log)
    this.defineJobs()
  }

  /**
   * Every scheduled job is declared here, not in start(), so `omnigate jobs list` sees them
   * without starting anything. Each runs once across instances (a lease row in `job_runs`).
   */
  private defineJobs(): void {
    // In batches: an hour of keys at a busy gateway is millions of rows, too many for one write.
    this.job('idempotency-keys-cleanup', '17 * * * *', async (signal) => {
      await pruneIdempotencyKeys(this.deps.store, Date.now(), { signal })
    })
    this.job('pending-statuses-cleanup', '23 * * * *', async () => {
      // A report whose send never got recorded within a week will not be matched any more.
      await this.deps.store.write((tx) => tx.delete(pendingStatuses).where(lt(pendingStatuses.createdAt, Date.now() - PENDING_STATUS_TTL_MS)))
    })
    // Hourly, so each run has about an hour's worth to purge: short, in batches of 500 rows.
    this.job('retention', '41 * * * *', async (signal) => {
      const report = await applyRetention(this.deps, { signal })
      for (const bad of report.invalidOverrides) this.log.warn('retention override ignored', { namespace: bad.namespace, problem: bad.problem })
      if (report.contentPurged + report.eventsDeleted + report.deliveriesDeleted > 0) {
        this.log.info('retention applied', {
          content_purged: report.contentPurged,
          events_deleted: report.eventsDeleted,
          deliveries_deleted: report.deliveriesDeleted,
          batches: report.batches,
        })
      }
    })
    // Channels failing or recovered (src/domain/analytics/health.ts says why a job and not the hot path).
    this.job('channel-health', '* * * * *', async () => {
      const changes = await evaluateChannelHealth(this.deps)
      for (const c of changes) {
        if (c.status === 'failing') this.log.warn('channel failing', { channel_id: c.channelId })
        else this.log.info('channel recovered', { channel_id: c.channelId })
      }
    })
    this.job('analytics-prune', '29 * * * *', async (signal) => {
      const deleted = await pruneMinuteRollups(this.deps, { signal })
      if (deleted > 0) this.log.info('minute rollups pruned', { rows: deleted })
    })
    // Deleted namespaces past their grace period: every row, in batches of 500.
    this.job('namespace-purge', '53 * * * *', async (signal) => {
      const report = await purgeDueNamespaces(this.deps, { signal })
      if (report.purged.length > 0) this.log.info('namespaces purged', { namespaces: report.purged.join(','), rows: Object.values(report.rows).reduce((a, b) => a + b, 0) })
    })
  }

  async start(): Promise<void> {
    this.provisioner.start()
    // Woken from a request's commit: the workers' own log lines must not carry its request id.
    wakersOf(this.deps).add(this.wake)
    // Deliveries written by anything (a completed send, a provider's callback, a cancel, a job)
    // are claimed once they commit, not at the deliverer's next poll.
    this.offDeliveries = this.deps.store.onCommit('webhook_deliveries', () => outsideRequest(() => this.deliverer.wake()))
    this.dispatcher.start()
    this.deliverer.start()
    this.listeners.start()
    // smtp-server and mailparser are loaded only when the listener is on (idle memory, start-up).
    if (this.fullConfig.smtp.enabled) this.smtp = await (await import('./smtp-listener')).startSmtpListener(this.deps, this.fullConfig, this.log)
    this.jobs.start()
  }

  async stop(): Promise<void> {
    // No new job starts from here; one mid-run is asked to stop at its next batch.
    const jobsStopped = this.jobs.stop(this.shutdownTimeoutMs)
    wakersOf(this.deps).delete(this.wake)
    this.offDeliveries?.()
    // Every part is stopped even if one before it fails; the first failure is thrown at the end.
    const failures: unknown[] = []
    const stop = async (part: string, fn: () => Promise<void> | undefined) => {
      try {
        await fn()
      } catch (error) {
        failures.push(error)
        this.log.error('engine part failed to stop', { part, error: String(error) })
      }
    }
    await stop('smtp', () => this.smtp?.stop())
    await stop('listeners', () => this.listeners.stop())
    await stop('dispatcher', () => this.dispatcher.stop())
    await stop('deliverer', () => this.deliverer.stop())
    await stop('provisioner', () => this.provisioner.stop())
    // A job that is mid-run finishes before the store closes under it.
    await stop('jobs', () => jobsStopped)
    if (failures.length > 0) throw failures[0]
  }

  listJobs(): JobInfo[] {
    return this.jobs.list()
  }

  /** A named job that never overlaps itself (here or on another instance) and logs its failures. */
  private job(name: string, pattern: string, run: (signal: AbortSignal) => Promise<void>): void {
    this.jobs.define({ name, schedule: pattern, run })
  }
}
