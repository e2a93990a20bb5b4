/**
 * Error pages: an AppError shows its title and detail with its own status (404 for another
 * namespace's id, 403 for a missing scope or a bad CSRF token); anything else is a generic 500
 * whose cause goes to the log with the request id — never a stack trace to the browser.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { AppError } from '../domain/errors'
import { busyAnswer } from '../http/middleware/errors'
import type { Logger } from '../lib/log'
import { currentRequestId } from '../lib/request-context'
import { toLogin } from './access'
import type { PortalEnv } from './env'
import { render, renderAuth } from './layout'

function ErrorBody(props: { heading: string; detail: string; requestId?: string }) {
  return (
    <section class="error-page">
      <h1>{props.heading}</h1>
      <p>{props.detail}</p>
      {props.requestId ? <p class="muted">Request id: <code>{props.requestId}</code></p> : null}
      <p>
        <a href="/portal">Back to the portal</a>
      </p>
    </section>
  )
}

const HEADINGS: Record<number, string> = { 400: 'Bad request', 401: 'Sign in first', 403: 'Not allowed', 404: 'Not found', 409: 'Conflict', 413: 'Too large', 429: 'Too many attempts', 503: 'Busy: try again' }

/** An error page with the frame when the user is in a namespace, a bare card otherwise. */
export function errorPage(c: Context<PortalEnv>, status: number, detail: string, requestId?: string): Promise<Response> {
  const heading = HEADINGS[status] ?? (status >= 500 ? 'Something went wrong' : 'That did not work')
  const body = <ErrorBody heading={heading} detail={detail} requestId={requestId} />
  const opts = { title: heading, status: status as ContentfulStatusCode }
  return c.get('access') && c.get('user') ? render(c, opts, body) : renderAuth(c, opts, body)
}

export function portalErrorHandler(log: Logger): ErrorHandler<PortalEnv> {
  return function onPortalError(err, c) {
    if (err instanceof AppError) {
      if (err.status === 401) return toLogin(c)
      return errorPage(c, err.status, err.detail)
    }
    const requestId = currentRequestId()
    const busy = busyAnswer(err, log, { requestId, method: c.req.method, path: c.req.path })
    if (busy) {
      c.header('retry-after', String(busy.retryAfterSeconds))
      return errorPage(c, busy.status, 'The database is busy: another process is holding it. Nothing was saved by this request; try again in a moment.', requestId)
    }
    log.error('portal error', { method: c.req.method, path: c.req.routePath, error: err instanceof Error ? (err.stack ?? err.message) : String(err) })
    return errorPage(c, 500, 'The portal could not answer this request. The log has the details under this request id.', requestId)
  }
}

export const portalNotFound: NotFoundHandler<PortalEnv> = (c) => errorPage(c, 404, 'There is no such page in the portal.')
