/**
 * The portal: every page group mounted on one screen, behind the security headers, the
 * session and CSRF gate, and (under /portal/ns/:ns) the namespace guard. Loaded lazily by
 * mount.ts on the first request under /portal.
 */
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { Deps } from '../domain/deps'
import { errors } from '../domain/errors'
import type { Logger } from '../lib/log'
import { portalNamespace } from './access'
import { assetRoutes } from './assets'
import type { PortalEnv } from './env'
import { portalErrorHandler, portalNotFound } from './errors'
import { adminPages } from './pages/admin'
import { applicationsPages } from './pages/applications'
import { authPages } from './pages/auth'
import { channelsPages } from './pages/channels'
import { dashboardPages } from './pages/dashboard'
import { membersPages } from './pages/members'
import { messagesPages } from './pages/messages'
import { webhooksPages } from './pages/webhooks'
import { securityHeaders } from './security'
import { portalSession } from './session'

// Forms only: a message text (100,000 characters) is the largest thing a portal form sends.
const PORTAL_BODY_LIMIT_BYTES = 512 * 1024

export function createPortal(deps: Deps, opts: { log: Logger }) {
  const app = new Hono<PortalEnv>().basePath('/portal')
  app.onError(portalErrorHandler(opts.log))
  app.notFound(portalNotFound)
  app.use(securityHeaders())
  app.route('/assets', assetRoutes())
  app.use(
    bodyLimit({
      maxSize: PORTAL_BODY_LIMIT_BYTES,
      onError: () => {
        throw errors.payloadTooLarge(`the form is larger than ${PORTAL_BODY_LIMIT_BYTES / 1024} KiB`)
      },
    }),
  )
  app.use(portalSession(deps))
  app.route('/', authPages(deps))

  app.use('/ns/:ns/*', portalNamespace(deps))
  app.get('/ns/:ns', (c) => c.redirect(`/portal/ns/${encodeURIComponent(c.req.param('ns'))}/dashboard`, 303))
  app.route('/ns/:ns', dashboardPages(deps))
  app.route('/ns/:ns/messages', messagesPages(deps, opts.log))
  app.route('/ns/:ns/applications', applicationsPages(deps))
  app.route('/ns/:ns/members', membersPages(deps))
  app.route('/admin', adminPages(deps))
  app.route('/ns/:ns/channels', channelsPages(deps))
  app.route('/ns/:ns/webhooks', webhooksPages(deps))
  return app
}
