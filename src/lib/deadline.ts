/**
 * Signals with a deadline for the send paths: one controller, one timer and one listener on the
 * parent, released when the work is done. `AbortSignal.any` over `AbortSignal.timeout`, twice a
 * send (the dispatcher's attempt, then the guarded fetch), cost ~9.5 µs of the main thread a
 * send against ~5 (docs/performance.md, the seventh round).
 */

export interface Deadline {
  signal: AbortSignal
  /** Clears the timer and the listener on the parent; call it once the work is done. */
  release(): void
}

/** When each signal made here gives up (performance.now() time), so a nested deadline can reuse it. */
const deadlines = new WeakMap<AbortSignal, number>()

const released: Deadline['release'] = () => {}

/**
 * A signal that aborts with a `TimeoutError` (as `AbortSignal.timeout`'s) after `ms`, or with
 * `parent`'s reason when the parent aborts first. A parent made here that gives up no later is
 * returned as it is: the inner deadline could never fire first.
 * @example
 * const { signal, release } = deadlineSignal(10_000, loopSignal)
 * try { await fetch(url, { signal }) } finally { release() }
 */
export function deadlineSignal(ms: number, parent?: AbortSignal): Deadline {
  const due = performance.now() + ms
  if (parent) {
    const parentDue = deadlines.get(parent)
    if (parentDue !== undefined && parentDue <= due) return { signal: parent, release: released }
  }
  const controller = new AbortController()
  const signal = controller.signal
  deadlines.set(signal, due)
  if (parent?.aborted) {
    controller.abort(parent.reason)
    return { signal, release: released }
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
    signal,
    release() {
      clearTimeout(timer)
      parent?.removeEventListener('abort', onParentAbort)
      // A released deadline no longer fires: nothing nested later may rely on it.
      deadlines.delete(signal)
    },
  }
}
