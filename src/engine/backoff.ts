/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries of
 * messages that failed together spread out without ever retrying sooner than half the step.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(step / 2 + random() * (step / 2))
}
