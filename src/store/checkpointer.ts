/**
 * WAL checkpoints off the request path. SQLite's automatic checkpoint runs inside the COMMIT
 * that crosses the threshold, on the event loop: ~9 % of batch ingest. Here a Worker thread
 * with a connection of its own runs `PRAGMA wal_checkpoint(PASSIVE)` (which never blocks the
 * writer or the reader) at most every CHECKPOINT_INTERVAL_MS while writes are being committed,
 * on the machine's other core. The writer keeps an automatic checkpoint at a much higher
 * threshold (FALLBACK_AUTOCHECKPOINT_PAGES) in case the thread falls behind or is gone.
 * An idle gateway commits nothing and so starts no checkpoint.
 */

/** Pages of WAL after which the writer checkpoints by itself: ~40 MiB at 4 KiB pages. */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 10_000
const CHECKPOINT_INTERVAL_MS = 100

// A module of its own, passed to the Worker as text, so the compiled binary needs no extra file.
const WORKER_SOURCE = `
import { Database } from 'bun:sqlite'
let db = null
self.onmessage = (event) => {
  const m = event.data
  try {
    if (m.kind === 'open') {
      db = new Database(m.path, { readwrite: true })
      db.run('PRAGMA busy_timeout = ' + Number(m.busyTimeoutMs))
      postMessage({ kind: 'opened' })
    } else if (m.kind === 'checkpoint' && db) {
      const row = db.query('PRAGMA wal_checkpoint(PASSIVE)').get()
      postMessage({ kind: 'checkpointed', busy: row.busy, log: row.log, checkpointed: row.checkpointed })
    } else if (m.kind === 'close') {
      if (db) db.close(true)
      db = null
      postMessage({ kind: 'closed' })
    }
  } catch (error) {
    postMessage({ kind: 'error', message: String(error && error.message || error) })
  }
}
`

export interface CheckpointResult {
  busy: number
  /** Frames in the WAL, and how many of them are now in the database file. */
  log: number
  checkpointed: number
}

export class Checkpointer {
  private readonly worker: Worker
  private readonly url: string
  private inFlight = false
  private lastRequest = 0
  private closed = false
  /** The thread itself failed (not one checkpoint): nothing more is asked of it. */
  private dead = false
  /** Checkpoints run, and the last one's answer; the last error (a checkpoint's, or the thread's). */
  runs = 0
  last: CheckpointResult | null = null
  error: string | null = null

  /** Whether the thread still runs (after a failure of the thread itself the writer checkpoints). */
  get alive(): boolean {
    return !this.dead && !this.closed
  }
  private waiters: ((message: { kind: string }) => void)[] = []

  constructor(path: string, busyTimeoutMs: number) {
    this.url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'application/javascript' }))
    this.worker = new Worker(this.url)
    // The thread must not keep a stopping process alive.
    this.worker.unref()
    this.worker.onmessage = (event: MessageEvent) => this.receive(event.data)
    // A thread that died asks for nothing more: the writer's fallback checkpoint takes over.
    this.worker.onerror = (event: ErrorEvent) => {
      this.dead = true
      this.receive({ kind: 'error', message: event.message })
    }
    this.worker.postMessage({ kind: 'open', path, busyTimeoutMs })
  }

  /** After a commit: asks for a checkpoint unless one ran or is running within the interval. */
  committed(): void {
    if (this.inFlight || this.closed || this.dead) return
    const now = performance.now()
    if (now - this.lastRequest < CHECKPOINT_INTERVAL_MS) return
    this.lastRequest = now
    this.inFlight = true
    this.worker.postMessage({ kind: 'checkpoint' })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (!this.dead) {
      this.worker.postMessage({ kind: 'close' })
      // A worker that does not answer (it never should) holds the shutdown up 2 s at most; the
      // timer is cleared, so it does not keep the process alive either.
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([this.next('closed'), new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))])
      clearTimeout(timer)
    }
    this.worker.terminate()
    URL.revokeObjectURL(this.url)
  }

  private next(kind: string): Promise<void> {
    return new Promise((resolve) => {
      const wait = (message: { kind: string }) => {
        if (message.kind === kind || message.kind === 'error') resolve()
        else this.waiters.push(wait)
      }
      this.waiters.push(wait)
    })
  }

  private receive(message: { kind: string; message?: string } & Partial<CheckpointResult>): void {
    if (message.kind === 'checkpointed') {
      this.inFlight = false
      this.error = null
      this.runs++
      this.last = { busy: message.busy!, log: message.log!, checkpointed: message.checkpointed! }
    } else if (message.kind === 'error') {
      this.inFlight = false
      this.error = message.message ?? 'unknown error'
    }
    const waiters = this.waiters.splice(0)
    for (const wait of waiters) wait(message)
  }
}
