/**
 * The worker loop shared by the dispatcher and the webhook deliverer: claim due rows in batches
 * (with a lease, done by `claim`), process up to `concurrency` at once, claim again as slots
 * free up or when woken, and at stop wait for in-flight work up to a deadline, then abort and
 * release what is left so another instance (or the next start) takes it at once.
 */
import type { Logger } from '../lib/log'

/**
 * What a claim took. A claim that fills its limit is followed by another at once; `more` asks for
 * that too when the claim stopped short of its limit on purpose (a per-endpoint share).
 */
export interface Claimed<T> {
  items: T[]
  more?: boolean
}

export interface ClaimLoopOptions<T extends { id: string }> {
  name: string
  concurrency: number
  batchSize: number
  pollIntervalMs: number
  shutdownTimeoutMs: number
  claim(limit: number): Promise<Claimed<T>>
  /** Handles one claimed item; `signal` aborts when the loop stops before it finished. */
  process(item: T, signal: AbortSignal): Promise<void>
  /** Gives an unfinished item back (its lease cleared, due at once). */
  release(item: T): Promise<void>
}

export class ClaimLoop<T extends { id: string }> {
  private readonly inFlight = new Map<string, { item: T; done: Promise<void>; abort: AbortController }>()
  /** The pending claim: a timer, or at once on the next turn of the event loop. */
  private timer: { cancel(): void } | null = null
  /** When the pending timer fires (performance.now()). */
  private timerDue = 0
  private running = false
  /** The claim in progress, if any: stop() waits for it so nothing claimed is left leased. */
  private ticking: Promise<void> | null = null
  private again = false

  constructor(
    private readonly opts: ClaimLoopOptions<T>,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.running = true
    this.schedule(0)
  }

  /** Claim now rather than at the next poll (new work was just committed). */
  wake(): void {
    if (!this.running) return
    if (this.ticking) this.again = true
    else this.schedule(0)
  }

  get inFlightCount(): number {
    return this.inFlight.size
  }

  async stop(): Promise<void> {
    this.running = false
    this.timer?.cancel()
    this.timer = null
    await this.ticking
    const pending = [...this.inFlight.values()]
    if (pending.length === 0) return
    // A cleared timer, not Bun.sleep: a pending sleep would keep the process alive after stop.
    let deadline: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      Promise.allSettled(pending.map((p) => p.done)),
      new Promise<void>((resolve) => (deadline = setTimeout(resolve, this.opts.shutdownTimeoutMs))),
    ])
    clearTimeout(deadline)
    const unfinished = [...this.inFlight.values()]
    for (const { item, abort } of unfinished) {
      abort.abort(new Error('shutdown'))
      try {
        await this.opts.release(item)
      } catch (error) {
        // A busy database: the lease runs out instead, and the item is claimed again then.
        this.log.error(`${this.opts.name} could not release work at shutdown; its lease runs out`, { id: item.id, error: String(error) })
      }
    }
    if (unfinished.length > 0) this.log.warn(`${this.opts.name} released unfinished work at shutdown`, { count: unfinished.length })
  }

  /** Whether the item was handed back at shutdown (its late result must not be recorded). */
  released(signal: AbortSignal): boolean {
    return signal.aborted && !this.running
  }

  /**
   * A claim in `delayMs`, unless one is already due by then. (Re-arming a pending timer on every
   * wake put the claim off for as long as wakes came faster than a timer fires: at 1,000
   * messages/s with a webhook endpoint, claims waited hundreds of milliseconds.)
   */
  private schedule(delayMs: number): void {
    if (!this.running) return
    const due = performance.now() + delayMs
    if (this.timer) {
      if (this.timerDue <= due) return
      this.timer.cancel()
    }
    this.timerDue = due
    // A claim due now runs on the next turn of the loop: Bun's setTimeout(0) waits ~1 ms, which
    // kept a freed slot idle for that long (docs/performance.md, the seventh round).
    if (delayMs <= 0) {
      const immediate = setImmediate(() => void this.tick())
      this.timer = { cancel: () => clearImmediate(immediate) }
    } else {
      const timeout = setTimeout(() => void this.tick(), delayMs)
      this.timer = { cancel: () => clearTimeout(timeout) }
    }
  }

  private async tick(): Promise<void> {
    this.timer = null
    if (!this.running || this.ticking) return
    let claimedFull = false
    this.ticking = (async () => {
      try {
        const capacity = Math.min(this.opts.batchSize, this.opts.concurrency - this.inFlight.size)
        if (capacity <= 0) return
        const { items: claimed, more } = await this.opts.claim(capacity)
        if (!this.running) {
          // Stopped while claiming: hand the claimed items straight back.
          for (const item of claimed) await this.opts.release(item)
          return
        }
        for (const item of claimed) this.track(item)
        claimedFull = claimed.length === capacity || more === true
      } catch (error) {
        this.log.error(`${this.opts.name} claim failed`, { error: String(error) })
      }
    })()
    await this.ticking
    this.ticking = null
    const more = claimedFull || this.again
    this.again = false
    if (this.inFlight.size < this.opts.concurrency) this.schedule(more ? 0 : this.opts.pollIntervalMs)
  }

  private track(item: T): void {
    const abort = new AbortController()
    const done = this.opts
      .process(item, abort.signal)
      .catch((error) => this.log.error(`${this.opts.name} failed to record its work`, { id: item.id, error: String(error) }))
      .finally(() => {
        this.inFlight.delete(item.id)
        // A slot opened: fill it now rather than at the next poll (a claim that came back short
        // because of a per-endpoint cap would otherwise wait out the whole poll interval).
        if (this.running && !this.ticking) this.schedule(0)
      })
    this.inFlight.set(item.id, { item, done, abort })
  }
}
