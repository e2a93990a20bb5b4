/**
 * The whole HTTP API on one screen: every route group is mounted here.
 */
import { OpenAPIHono } from '@hono/zod-openapi'
import { bodyLimit } from 'hono/body-limit'
import { requestId } from 'hono/request-id'
import type { Deps } from '../domain/deps'
import { errors } from '../domain/errors'
import type { Logger } from '../lib/log'
import { runInRequest } from '../lib/request-context'
import { zodFieldErrors } from '../lib/zod-errors'
import { VERSION } from '../version'
import type { AppEnv } from './env'
import { accessLog } from './middleware/access-log'
import { bearerAuth, namespaceGuard } from './middleware/auth'
import { errorHandler, notFoundHandler } from './middleware/errors'
import { auditTrail } from './middleware/audit'
import { requireJsonBody } from './middleware/json-body'
import { RequestLimiter, rateLimit } from './middleware/rate-limit'
import { sendLane } from './send-lane'
import { analyticsRoutes, instanceAnalyticsRoutes } from './routes/analytics'
import { appsRoutes } from './routes/apps'
import { auditRoutes } from './routes/audit'
import { authRoutes } from './routes/auth'
import { channelsRoutes } from './routes/channels'
import { lazyDocsRoutes } from './routes/docs-mount'
import { healthRoutes } from './routes/health'
import { inboundRoutes } from './routes/inbound'
import { membersRoutes } from './routes/members'
import { messagesRoutes } from './routes/messages'
import { httpMetrics, metricsRoutes } from './routes/metrics'
import { namespacesAdminRoutes } from './routes/namespaces-admin'
import { oauthRoutes, wellKnownRoutes } from './routes/oauth'
import { provisioningRoutes } from './routes/provisioning'
import { namespaceRestoreRoutes, provisionAdminRoutes } from './routes/provision-admin'
import { jobsAdminRoutes } from './routes/jobs-admin'
import { systemRoutes } from './routes/system'
import { usersRoutes } from './routes/users'
import { portalVerifyRoutes, signupRoutes } from './routes/signup'
import { suppressionsRoutes } from './routes/suppressions'
import { unsubscribeRoutes } from './routes/unsubscribe'
import { eventTypesRoutes } from './routes/event-types'
import { webhooksRoutes } from './routes/webhooks'
import { portalRoutes } from '../portal/mount'

export interface AppOptions {
  bodyLimitBytes: number
  log: Logger
}

export function createApp(deps: Deps, opts: AppOptions) {
  const app = new OpenAPIHono<AppEnv>({
    // Validation failures become one 422 naming every bad field.
    defaultHook: (result) => {
      if (!result.success) {
        const fields = zodFieldErrors(result.error)
        throw errors.validation(`${fields[0]?.field}: ${fields[0]?.message}`, fields)
      }
    },
  })
  app.onError(errorHandler(opts.log))
  app.notFound(notFoundHandler)
  if (deps.config.metrics.enabled) app.use(httpMetrics())
  app.use(requestId())
  // Everything the request runs, down to the domain, logs with its request id.
  app.use(async function requestContext(c, next) {
    await runInRequest(c.get('requestId'), next)
  })
  app.use(accessLog(opts.log))
  // Ahead of the /v1 bearer check: logging in is how a person gets a credential.
  app.route('/v1/auth', authRoutes(deps))
  // Signing up and following the mailed link: no credential exists yet.
  app.route('/v1/auth', signupRoutes(deps, opts.log))
  app.use(
    '/v1/*',
    // Who is asking comes first: an anonymous client learns nothing, not even a size limit.
    bearerAuth(deps),
    bodyLimit({
      maxSize: opts.bodyLimitBytes,
      onError: () => {
        throw errors.payloadTooLarge(`the body is larger than ${opts.bodyLimitBytes} bytes (server.body_limit_bytes)`)
      },
    }),
    requireJsonBody(),
  )
  app.use('/v1/namespaces/:ns/*', namespaceGuard(deps))
  // After the guard: limits are per namespace; the audit trail sees the final answer.
  const limiter = new RequestLimiter(deps)
  app.use('/v1/*', rateLimit(limiter), auditTrail(deps, { log: opts.log }))
  app.use(
    '/inbound/*',
    bodyLimit({
      maxSize: opts.bodyLimitBytes,
      onError: () => {
        throw errors.payloadTooLarge(`the body is larger than ${opts.bodyLimitBytes} bytes`)
      },
    }),
  )

  app.route('/', healthRoutes(deps.store))
  if (deps.config.metrics.enabled) app.route('/', metricsRoutes(deps))
  app.route('/', lazyDocsRoutes())
  app.route('/v1/namespaces/:ns/messages', messagesRoutes(deps))
  app.route('/v1/namespaces/:ns/channels', channelsRoutes(deps))
  app.route('/v1/namespaces/:ns/suppressions', suppressionsRoutes(deps))
  app.route('/v1/namespaces/:ns/webhooks', webhooksRoutes(deps))
  app.route('/v1/namespaces/:ns/audit', auditRoutes(deps))
  app.route('/v1/namespaces/:ns/apps', appsRoutes(deps))
  app.route('/v1/namespaces/:ns/analytics', analyticsRoutes(deps))
  app.route('/v1/analytics', instanceAnalyticsRoutes(deps))
  app.route('/v1/namespaces/:ns', membersRoutes(deps))
  app.route('/v1/namespaces/:ns', provisioningRoutes(deps))
  app.route('/v1/namespaces', namespacesAdminRoutes(deps))
  app.route('/v1/namespaces/:ns', namespaceRestoreRoutes(deps))
  app.route('/v1/provisioning', provisionAdminRoutes(deps))
  app.route('/v1/users', usersRoutes(deps))
  app.route('/v1/jobs', jobsAdminRoutes(deps))
  app.route('/v1', systemRoutes(deps))
  app.route('/v1/event-types', eventTypesRoutes())
  app.route('/inbound', inboundRoutes(deps))
  app.route('/unsubscribe', unsubscribeRoutes(deps))
  app.route('/portal', portalVerifyRoutes(deps))
  // The admin portal, loaded on its first request; `/` redirects there.
  if (deps.config.portal.enabled) app.route('/', portalRoutes(deps, { log: opts.log }))
  // RFC 6749 and RFC 7517 endpoints: outside /v1, no bearer token.
  app.route('/oauth', oauthRoutes(deps))
  app.route('/.well-known', wellKnownRoutes(deps))

  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer' })
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'omnigate', version: VERSION, description: 'Omni-channel messaging gateway API' },
    security: [{ apiKey: [] }],
  })
  // Sends skip the router (src/http/send-lane.ts); `app.request` goes through `fetch` too, so
  // every test of the API exercises the lane.
  const lane = sendLane(deps, { bodyLimitBytes: opts.bodyLimitBytes, log: opts.log, limiter, metrics: deps.config.metrics.enabled })
  const route = app.fetch
  app.fetch = (request, env, ctx) => lane(request) ?? route(request, env, ctx)
  return app
}
