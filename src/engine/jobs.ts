/**
 * Named scheduled jobs (croner) that run once across instances: each run first takes the job's
 * lease row in `job_runs`, renews it while it works, and records its start, finish, status and
 * error there, which is what `omnigate jobs list` shows.
 */
import { hostname } from 'node:os'
import { Cron, scheduledJobs } from 'croner'
import { and, asc, eq, isNull, lte, or } from 'drizzle-orm'
import type { Logger } from '../lib/log'
import { jobRuns } from '../store/schema'
import type { Store } from '../store/store'

export interface JobSpec {
  name: string
  /** A cron pattern (croner syntax, the server's local time). */
  schedule: string
  /** The work; `signal` aborts when the engine stops or the lease is lost. */
  run: (signal: AbortSignal) => Promise<void>
}

export interface JobInfo {
  name: string
  schedule: string
  nextRun: Date | null
}

export type JobRun = typeof jobRuns.$inferSelect

/** `skipped`: another run holds the lease, or one started too recently (another instance's). */
export type RunResult = 'ok' | 'error' | 'skipped'

export interface JobRunnerOptions {
  /** How long a lease holds without renewal: a crashed instance's job is free again after this. */
  leaseMs?: number
  owner?: string
}

// A minute: long enough that a busy event loop does not lose it, short enough that a crashed
// instance's job is picked up by the next schedule. Renewed every quarter of it while running.
const DEFAULT_LEASE_MS = 60_000
/** Kept of a failed run's error message. */
const ERROR_CHARS = 1000

export class JobRunner {
  readonly owner: string
  private readonly leaseMs: number
  private readonly specs = new Map<string, JobSpec>()
  private readonly crons = new Map<string, Cron>()
  private readonly inFlight = new Set<Promise<RunResult>>()
  private abort = new AbortController()
  private started = false

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    opts: JobRunnerOptions = {},
  ) {
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:jobs:${Math.random().toString(36).slice(2, 8)}`
  }

  /** Declares a job; scheduled at once if the runner is already started. */
  define(spec: JobSpec): void {
    if (this.specs.has(spec.name)) throw new Error(`job "${spec.name}" is defined twice`)
    // Validates the pattern now, not at start.
    new Cron(spec.schedule, { paused: true }).stop()
    this.specs.set(spec.name, spec)
    if (this.started) this.schedule(spec)
  }

  start(): void {
    if (this.started) return
    this.started = true
    this.abort = new AbortController()
    for (const spec of this.specs.values()) this.schedule(spec)
  }

  /** Stops scheduling, asks running jobs to stop, and waits for them up to `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    this.started = false
    for (const cron of this.crons.values()) cron.stop()
    this.crons.clear()
    this.abort.abort(new Error('shutdown'))
    if (this.inFlight.size === 0) return
    // A cleared timer, not Bun.sleep: a pending sleep would keep the process alive after stop.
    let deadline: ReturnType<typeof setTimeout> | undefined
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise<void>((resolve) => (deadline = setTimeout(resolve, timeoutMs)))])
    clearTimeout(deadline)
  }

  /** Every job with its schedule and next run (from the pattern, whether started or not). */
  list(): JobInfo[] {
    return [...this.specs.values()].map((spec) => {
      const cron = this.crons.get(spec.name) ?? new Cron(spec.schedule, { paused: true })
      const nextRun = cron.nextRun()
      if (!this.crons.has(spec.name)) cron.stop()
      return { name: spec.name, schedule: spec.schedule, nextRun }
    })
  }

  /**
   * Runs a job now if its lease is free (and, with `minGapMs`, no run started that recently):
   * records the outcome and never rejects, neither for the job's own failure nor for a database
   * that cannot take the lease (`error`, logged).
   */
  run(name: string, opts: { minGapMs?: number } = {}): Promise<RunResult> {
    const spec = this.specs.get(name)
    if (!spec) throw new Error(`no job named "${name}" (known: ${[...this.specs.keys()].join(', ')})`)
    const running = this.runLeased(spec, opts.minGapMs ?? 0)
    this.inFlight.add(running)
    // Both ways: a bare `finally` would make a second promise, rejected with no handler.
    const settled = () => void this.inFlight.delete(running)
    running.then(settled, settled)
    return running
  }

  private schedule(spec: JobSpec): void {
    // Croner names are unique per process; a second engine in one process (tests) goes unnamed.
    const name = scheduledJobs.some((j) => j.name === spec.name) ? undefined : spec.name
    const cron = new Cron(
      spec.schedule,
      { name, protect: true, catch: (error) => this.log.error('job failed', { job: spec.name, error: String(error) }) },
      async (self: Cron) => {
        // Instances fire at the same slot, give or take clock skew: a run started by another in
        // the first half of the interval counts for this slot too.
        const toNext = self.msToNext()
        await this.run(spec.name, { minGapMs: toNext === null ? 0 : toNext / 2 })
      },
    )
    this.crons.set(spec.name, cron)
  }

  private async runLeased(spec: JobSpec, minGapMs: number): Promise<RunResult> {
    const started = Date.now()
    let leased: boolean
    try {
      leased = await acquireJobLease(this.store, spec.name, this.owner, started, this.leaseMs, minGapMs)
    } catch (error) {
      // The database could not take the write (another process held it past busy_timeout, or a
      // remote libSQL server did not answer): the job did not start; its next slot tries again.
      this.log.error('job not started: its lease could not be taken', { job: spec.name, error: String(error) })
      return 'error'
    }
    if (!leased) {
      this.log.debug('job skipped: running or recently run elsewhere', { job: spec.name })
      return 'skipped'
    }
    const abort = new AbortController()
    const signal = AbortSignal.any([this.abort.signal, abort.signal])
    const renewal = setInterval(() => {
      void renewJobLease(this.store, spec.name, this.owner, Date.now() + this.leaseMs).then(
        (held) => {
          if (!held) abort.abort(new Error('lease lost'))
        },
        (error) => this.log.warn('job lease renewal failed', { job: spec.name, error: String(error) }),
      )
    }, Math.max(10, Math.floor(this.leaseMs / 4)))
    let failure: unknown = null
    try {
      await spec.run(signal)
    } catch (error) {
      failure = error ?? new Error('failed')
    } finally {
      clearInterval(renewal)
    }
    const finished = Date.now()
    const error = failure === null ? null : (failure instanceof Error ? failure.message : String(failure)).slice(0, ERROR_CHARS)
    try {
      await finishJobRun(this.store, spec.name, this.owner, finished, error)
    } catch (recordError) {
      // The run happened; only its record is missing, and the lease runs out by itself.
      this.log.error('job run not recorded', { job: spec.name, error: String(recordError) })
    }
    if (error !== null) this.log.error('job failed', { job: spec.name, error, ms: finished - started })
    else this.log.info('job finished', { job: spec.name, ms: finished - started })
    return error === null ? 'ok' : 'error'
  }
}

/**
 * Takes the job's lease for `owner` if nobody holds it (or its holder's lease ran out) and no
 * run started within `minGapMs`. One transaction: two instances never both get it.
 */
export async function acquireJobLease(store: Store, name: string, owner: string, at: number, leaseMs: number, minGapMs = 0): Promise<boolean> {
  return store.tx(async (tx) => {
    await tx.insert(jobRuns).values({ name }).onConflictDoNothing()
    const taken = await tx
      .update(jobRuns)
      .set({ leaseOwner: owner, leaseUntil: at + leaseMs, lastStartedAt: at })
      .where(
        and(
          eq(jobRuns.name, name),
          or(isNull(jobRuns.leaseUntil), lte(jobRuns.leaseUntil, at)),
          or(isNull(jobRuns.lastStartedAt), lte(jobRuns.lastStartedAt, at - minGapMs)),
        ),
      )
      .returning({ name: jobRuns.name })
    return taken.length === 1
  })
}

/** Extends a held lease; false when `owner` no longer holds it. */
export async function renewJobLease(store: Store, name: string, owner: string, until: number): Promise<boolean> {
  const rows = await store.write((tx) =>
    tx
      .update(jobRuns)
      .set({ leaseUntil: until })
      .where(and(eq(jobRuns.name, name), eq(jobRuns.leaseOwner, owner)))
      .returning({ name: jobRuns.name }),
  )
  return rows.length === 1
}

/** Records the end of a run and frees the lease (if `owner` still holds it). */
export async function finishJobRun(store: Store, name: string, owner: string, at: number, error: string | null): Promise<void> {
  await store.write((tx) =>
    tx
      .update(jobRuns)
      .set({ leaseOwner: null, leaseUntil: null, lastFinishedAt: at, lastStatus: error === null ? 'ok' : 'error', lastError: error })
      .where(and(eq(jobRuns.name, name), eq(jobRuns.leaseOwner, owner))),
  )
}

/** Every job's lease and last run, by name. */
export async function listJobRuns(store: Store): Promise<JobRun[]> {
  return store.read.select().from(jobRuns).orderBy(asc(jobRuns.name))
}

/** Whether a job's lease is held now (a run in progress somewhere). */
export function isRunning(run: Pick<JobRun, 'leaseUntil'> | undefined, at: number): boolean {
  return run?.leaseUntil != null && run.leaseUntil > at
}
