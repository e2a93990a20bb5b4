/**
 * Renders every error as RFC 9457 problem+json. AppErrors keep their code and fields; Hono's
 * own errors (malformed JSON, body limit) are mapped to ours; anything else is a bare 500 whose
 * cause goes to the log with the request id, never to the client.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { InboundError } from '../../connectors/types'
import { AppError, errors, RetryLaterError } from '../../domain/errors'
import type { Logger } from '../../lib/log'
import { isDatabaseBusy } from '../../store/store'

export function problem(c: Context, error: AppError): Response {
  return c.body(problemBody(error, c.get('requestId')), error.status as ContentfulStatusCode, problemHeaders(error))
}

/** The problem+json text of an error, naming the request it answers. */
function problemBody(error: AppError, requestId: string | undefined): string {
  return JSON.stringify({
    type: `/problems/${error.code}`,
    code: error.code,
    title: error.title,
    status: error.status,
    detail: error.detail,
    ...(error.errors.length > 0 ? { errors: error.errors } : {}),
    ...(requestId ? { request_id: requestId } : {}),
  })
}

function problemHeaders(error: AppError): Record<string, string> {
  return {
    'content-type': 'application/problem+json',
    // Errors that say when to come back (rate_limited, quota_exceeded) say it in the header too.
    ...(error instanceof RetryLaterError ? { 'retry-after': String(error.retryAfterSeconds) } : {}),
  }
}

/** The same answer as `problem`, outside a Hono context (the send lane). */
export function problemResponse(error: AppError, requestId: string, headers: Record<string, string> = {}): Response {
  return new Response(problemBody(error, requestId), { status: error.status, headers: { ...headers, ...problemHeaders(error) } })
}

/**
 * The answer to a write the database refused for now (another process held its write lock past
 * busy_timeout): 503 with Retry-After, logged as a warning without a stack. The refused write
 * was rolled back whole (a send with its Idempotency-Key record), so the client sends the
 * request again as it was. Null for any other error.
 */
export function busyAnswer(error: unknown, log: Logger, request: { requestId: string | undefined; method: string; path: string }): RetryLaterError | null {
  if (!isDatabaseBusy(error)) return null
  log.warn('database busy: request refused with 503', { request_id: request.requestId, method: request.method, path: request.path })
  return new RetryLaterError(errors.databaseBusy("another process held the database's write lock for longer than busy_timeout; send the request again"), BUSY_RETRY_AFTER_S)
}

/** Seconds a client is asked to wait after `database_busy`: busy_timeout has already been waited. */
const BUSY_RETRY_AFTER_S = 1

export function errorHandler(log: Logger): ErrorHandler {
  return function onError(err, c) {
    if (err instanceof AppError) return problem(c, err)
    const busy = busyAnswer(err, log, { requestId: c.get('requestId'), method: c.req.method, path: c.req.path })
    if (busy) return problem(c, busy)
    if (err instanceof InboundError) {
      return problem(c, new AppError('callback_rejected', err.status, 'The provider callback was refused', err.message))
    }
    if (err instanceof HTTPException) {
      if (err.status === 400 && /json/i.test(err.message)) {
        return problem(c, errors.malformedJson('the request body is not valid JSON'))
      }
      if (err.status === 413) return problem(c, errors.payloadTooLarge())
      // zod-openapi's media-type gate: a body requireJsonBody could not see (no length header).
      if (err.status === 415) {
        const got = c.req.header('content-type') ?? 'none'
        return problem(c, errors.unsupportedMediaType(`send the body as application/json (got "${got}")`))
      }
      if (err.status < 500) return problem(c, errors.badRequest(err.message))
    }
    log.error('unhandled error', {
      request_id: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    })
    return problem(c, errors.internal('something went wrong; the log has details under this request_id'))
  }
}

export const notFoundHandler: NotFoundHandler = (c) => problem(c, errors.notFound(`no route for ${c.req.method} ${c.req.path}`))
