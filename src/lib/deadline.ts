/**
 * Signals with a deadline for the send paths: one controller, one timer and one listener on the
 * parent, released when the work is done. `AbortSignal.any` over `AbortSignal.timeout`, twice a
 * send (the dispatcher's attempt, then the guarded fetch), cost ~9.5 µs of the main thread a
 * send against ~5 (docs/performance.md, the seventh round).
 *
 * Each deadline keeps its own time, even under a parent that gives up sooner: a request still
 * running after its caller released the parent (one of several fetches of a send that already
 * failed) must still time out.
 */

export interface Deadline {
  signal: AbortSignal
  /** Clears the timer and the listener on the parent; call it once the work is done. */
  release(): void
}

const released: Deadline['release'] = () => {}

/**
 * A signal that aborts with a `TimeoutError` (as `AbortSignal.timeout`'s) after `ms`, or with
 * `parent`'s reason when the parent aborts first.
 * @example
 * const { signal, release } = deadlineSignal(10_000, loopSignal)
 * try { await fetch(url, { signal }) } finally { release() }
 */
export function deadlineSignal(ms: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController()
  if (parent?.aborted) {
    controller.abort(parent.reason)
    return { signal: controller.signal, release: released }
  }
  const onParentAbort = () => {
    clearTimeout(timer)
    controller.abort(parent!.reason)
  }
  const timer = setTimeout(() => {
    parent?.removeEventListener('abort', onParentAbort)
    controller.abort(new DOMException('The operation timed out.', 'TimeoutError'))
  }, ms)
  // As AbortSignal.timeout: a pending deadline does not keep the process alive.
  timer.unref()
  parent?.addEventListener('abort', onParentAbort, { once: true })
  return {
    signal: controller.signal,
    release() {
      clearTimeout(timer)
      parent?.removeEventListener('abort', onParentAbort)
    },
  }
}
