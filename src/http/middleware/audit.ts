/**
 * Records every successful change made through the API (POST, PATCH, PUT, DELETE answered
 * 2xx under /v1) in the audit log: the actor, `<METHOD> <route template>`, the resource and
 * its id, the namespace and the client address. Never the request body: the id is the only
 * thing read from the response.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { matchedRoutes } from 'hono/route'
import { actorOf, recordAudit } from '../../domain/audit'
import { type Deps, now } from '../../domain/deps'
import type { Logger } from '../../lib/log'
import { requestClientIp, UNKNOWN_CLIENT } from '../client-ip'
import type { AppEnv } from '../env'

const CHANGES = new Set(['POST', 'PATCH', 'PUT', 'DELETE'])

/**
 * Sends are the data plane, not administration: each is already recorded with its application
 * and time in the message itself (and counted in usage), so the log is kept for changes.
 */
export const NOT_AUDITED = new Set(['POST /v1/namespaces/{ns}/messages', 'POST /v1/namespaces/{ns}/messages/batch'])

/** Collection segments whose singular is not just the name without its `s`. */
const RESOURCE_TYPES: Record<string, string> = {
  apps: 'application',
  keys: 'api_key',
  clients: 'oauth_client',
  deliveries: 'webhook_delivery',
  'event-types': 'event_type',
}

/** The route as declared (`/v1/namespaces/{ns}/channels/{channel}`), not as requested. */
export function routeTemplate(c: Context): string | null {
  const route = matchedRoutes(c)
    .filter((r) => r.method !== 'ALL')
    .at(-1)
  return route ? route.path.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}') : null
}

/**
 * The resource a route acts on: its last collection segment (a plural name, so verbs such as
 * `test` or `rotate-secret` are skipped), and the id from the answer, else from the path.
 */
export function resourceOf(template: string, params: Record<string, string>, answerId: string | null): { type: string; id: string | null } {
  const segments = template.split('/').filter((s) => s && s !== 'v1')
  let index = -1
  for (let i = segments.length - 1; i >= 0; i--) {
    if (!segments[i]!.startsWith('{') && segments[i]!.endsWith('s')) {
      index = i
      break
    }
  }
  if (index === -1) index = segments.findLastIndex((s) => !s.startsWith('{'))
  const name = segments[index] ?? 'unknown'
  const type = RESOURCE_TYPES[name] ?? name.replace(/s$/, '').replaceAll('-', '_')
  const next = segments[index + 1]
  const fromPath = next?.startsWith('{') ? (params[next.slice(1, -1)] ?? null) : null
  return { type, id: answerId ?? fromPath }
}

/** The `id` of a JSON answer (the created or changed resource), or null. */
async function answerId(res: Response): Promise<string | null> {
  if (!(res.headers.get('content-type') ?? '').includes('json') || res.body === null) return null
  try {
    const body = (await res.clone().json()) as Record<string, unknown>
    const id = body?.id ?? body?.client_id
    return typeof id === 'string' ? id : null
  } catch {
    return null
  }
}

/**
 * @example app.use('/v1/*', auditTrail(deps, { log }))
 */
export function auditTrail(deps: Deps, opts: { log: Logger }): MiddlewareHandler<AppEnv> {
  if (!opts?.log) throw new Error('auditTrail needs a logger')
  return async function auditMiddleware(c, next) {
    await next()
    if (!CHANGES.has(c.req.method) || c.res.status < 200 || c.res.status >= 300) return
    const principal = c.get('principal')
    const template = routeTemplate(c)
    if (!principal || !template) return
    const action = `${c.req.method} ${template}`
    if (NOT_AUDITED.has(action)) return
    const ip = requestClientIp(c, deps)
    const credential = principal.kind === 'application' ? { credential: principal.credential, credential_id: principal.credentialId } : { session_id: principal.sessionId }
    try {
      await recordAudit(deps.store, {
        namespaceId: c.get('namespaceId') ?? (principal.kind === 'application' ? principal.namespaceId : null),
        actor: actorOf(principal),
        action,
        resource: resourceOf(template, c.req.param() as Record<string, string>, await answerId(c.res)),
        ip: ip === UNKNOWN_CLIENT ? null : ip,
        detail: { ...credential, status: c.res.status, request_id: c.get('requestId') },
        at: now(deps),
      })
    } catch (error) {
      // The change itself is committed; a lost entry is logged rather than turned into an error.
      opts.log.error('audit entry not recorded', { action, request_id: c.get('requestId'), error: String(error) })
    }
  }
}
