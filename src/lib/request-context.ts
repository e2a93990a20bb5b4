/**
 * The request a piece of work belongs to, carried through awaits, timers and promises by
 * AsyncLocalStorage, so every log line written while serving a request names its request id
 * without the id being passed down through the domain.
 */
import { AsyncLocalStorage } from 'node:async_hooks'

interface RequestContext {
  requestId: string
}

const storage = new AsyncLocalStorage<RequestContext>()

/** Runs `fn` (and everything it starts) as part of the request `requestId`. */
export function runInRequest<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn)
}

/** The id of the request being served here, if any. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId
}

/**
 * Runs `fn` outside any request: background work that a request merely wakes (the dispatcher's
 * next claim) must not carry that request's id on its own log lines.
 */
export function outsideRequest<T>(fn: () => T): T {
  return storage.exit(fn)
}
