/**
 * The send lane: `POST /v1/namespaces/{ns}/messages` and `…/messages/batch` served in front of
 * the router, by the same domain code and with the same answers, headers, limits, metrics and
 * log lines as the routed path, but without Hono's context, middleware chain and validators,
 * which cost about as much CPU per send as the domain work itself (issue #7,
 * docs/performance.md, docs/decisions.md).
 *
 * The lane takes a request only when it is unambiguous: POST to exactly one of the two paths,
 * an `Authorization` header, `Content-Type: application/json`, a `Content-Length` from 1 to the
 * body limit, and a namespace segment without escapes. Anything else (a session cookie, a
 * chunked or oversized body, another media type, `%`-escapes, a trailing slash) goes to the
 * router, which answers it as before. The lane's checks run in the router's order: credential,
 * namespace, rate limit, scope, `Idempotency-Key`, JSON, fields.
 */
import { errors, AppError } from '../domain/errors'
import type { Deps } from '../domain/deps'
import { authenticateBearer, namespaceAccess } from '../domain/identity/authenticate'
import type { Principal } from '../domain/identity/principal'
import { sendBatchSchema, sendMessageSchema } from '../domain/messages/input'
import { type Accepted, sendMessage, sendMessages } from '../domain/messages/send'
import type { Logger } from '../lib/log'
import { recordHttpRequest } from '../lib/metrics'
import { runInRequest } from '../lib/request-context'
import { zodFieldErrors } from '../lib/zod-errors'
import { logRequest } from './middleware/access-log'
import { busyAnswer, problemResponse } from './middleware/errors'
import { type LimitDecision, type RequestLimiter, setRateLimitHeaders } from './middleware/rate-limit'
import { applicationOf, checkSendDepth, idempotencyHeader, idempotencyOf } from './routes/messages'

/** The routes as the router names them: in metrics, the access log and idempotency hashes. */
export const SEND_ROUTE = '/v1/namespaces/:ns/messages'
export const BATCH_ROUTE = '/v1/namespaces/:ns/messages/batch'

const PATH = /^\/v1\/namespaces\/([^/%]+)\/messages(\/batch)?$/
const BEARER = /^Bearer\s+(\S+)$/i
const REQUEST_ID = /[^\w\-=]/
/** `application/json` with well-formed parameters, as the router's media-type check accepts it. */
const JSON_TYPE = /^application\/json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i

export interface SendLaneOptions {
  bodyLimitBytes: number
  log: Logger
  limiter: RequestLimiter
  metrics: boolean
}

/**
 * A function that answers a send, or returns null for the router to answer the request.
 * @example const lane = sendLane(deps, opts); return lane(req) ?? app.fetch(req)
 */
export function sendLane(deps: Deps, opts: SendLaneOptions): (request: Request) => Promise<Response> | null {
  return function sendLaneFetch(request) {
    if (request.method !== 'POST') return null
    const url = request.url
    // The path of an absolute URL: after "scheme://host".
    const slash = url.indexOf('/', url.indexOf('//') + 2)
    const query = url.indexOf('?', slash)
    const match = PATH.exec(query === -1 ? url.slice(slash) : url.slice(slash, query))
    if (!match) return null
    const headers = request.headers
    const authorization = headers.get('authorization')
    const length = Number(headers.get('content-length') ?? 0)
    if (authorization === null || !(length > 0 && length <= opts.bodyLimitBytes) || !JSON_TYPE.test(headers.get('content-type') ?? '')) return null
    const batch = match[2] !== undefined
    let requestId = headers.get('x-request-id')
    if (!requestId || requestId.length > 255 || REQUEST_ID.test(requestId)) requestId = crypto.randomUUID()
    const id = requestId
    return runInRequest(id, () => serve(deps, opts, request, { ns: match[1]!, batch, authorization, requestId: id }))
  }
}

interface LaneRequest {
  ns: string
  batch: boolean
  authorization: string
  requestId: string
}

async function serve(deps: Deps, opts: SendLaneOptions, request: Request, r: LaneRequest): Promise<Response> {
  const started = performance.now()
  const route = r.batch ? BATCH_ROUTE : SEND_ROUTE
  let principal: Principal | undefined
  let limit = null as LimitDecision | null
  let response: Response
  try {
    response = await handle()
  } catch (error) {
    response = failure(error)
  }
  response.headers.set('x-request-id', r.requestId)
  if (limit) setRateLimitHeaders(response.headers, limit.limit, limit.refused ? 0 : limit.remaining, limit.resetMs)
  if (opts.metrics) recordHttpRequest('POST', route, response.status, (performance.now() - started) / 1000)
  logRequest(opts.log, 'POST', route, response.status, started, principal)
  return response

  async function handle(): Promise<Response> {
    const token = BEARER.exec(r.authorization)
    if (!token) throw errors.unauthorized('send an API key or access token as "Authorization: Bearer …"')
    principal = (await authenticateBearer(deps, token[1]!)) ?? undefined
    if (!principal) throw errors.unauthorized('the credential is unknown, revoked or expired')
    const access = await namespaceAccess(deps, principal, r.ns)
    limit = await opts.limiter.decide(principal, access.namespaceId, access.namespaceSlug)
    if (limit?.refused) throw limit.refused
    if (!access.scopes.has('messages:send')) throw errors.forbidden('this route needs the scope "messages:send"')
    const key = request.headers.get('idempotency-key') ?? undefined
    if (key !== undefined) {
      const checked = idempotencyHeader.safeParse({ 'idempotency-key': key })
      if (!checked.success) throw invalid(zodFieldErrors(checked.error))
    }
    let body: unknown
    try {
      body = JSON.parse(await request.text())
    } catch {
      throw errors.malformedJson('the request body is not valid JSON')
    }
    const applicationId = applicationOf(principal)
    let accepted: Accepted
    // Synchronous parses: the schemas have no async refinement (zod throws if one is added).
    // As on the router: the depth check and the request hash are of the validated body.
    if (r.batch) {
      const parsed = sendBatchSchema.safeParse(body)
      if (!parsed.success) throw invalid(zodFieldErrors(parsed.error))
      checkSendDepth(parsed.data)
      accepted = await sendMessages(deps, access.namespaceId, parsed.data.messages, { applicationId, idempotency: idempotencyOf(key, route, parsed.data) })
    } else {
      const parsed = sendMessageSchema.safeParse(body)
      if (!parsed.success) throw invalid(zodFieldErrors(parsed.error))
      checkSendDepth(parsed.data)
      accepted = await sendMessage(deps, access.namespaceId, parsed.data, { applicationId, idempotency: idempotencyOf(key, route, parsed.data) })
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (accepted.replayed) headers['idempotent-replayed'] = 'true'
    return new Response(JSON.stringify(accepted.body), { status: accepted.status, headers })
  }

  function failure(error: unknown): Response {
    if (error instanceof AppError) return problemResponse(error, r.requestId)
    const busy = busyAnswer(error, opts.log, { requestId: r.requestId, method: 'POST', path: new URL(request.url).pathname })
    if (busy) return problemResponse(busy, r.requestId)
    opts.log.error('unhandled error', { request_id: r.requestId, method: 'POST', path: new URL(request.url).pathname, error: error instanceof Error ? (error.stack ?? error.message) : String(error) })
    return problemResponse(errors.internal('something went wrong; the log has details under this request_id'), r.requestId)
  }
}

/** The router's validation answer: one 422 naming every bad field. */
function invalid(fields: { field: string; message: string }[]): AppError {
  return errors.validation(`${fields[0]?.field}: ${fields[0]?.message}`, fields)
}
