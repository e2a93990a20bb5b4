/**
 * The portal's entry in the HTTP app: a tiny router that loads the portal itself (JSX pages,
 * htmx, uPlot) with `await import()` on the first request under /portal, so a gateway that
 * only serves the API never pays for it at start-up or in idle memory (issue #7 benchmarks
 * both). `/` redirects to the portal.
 */
import { Hono } from 'hono'
import type { Deps } from '../domain/deps'
import type { AppEnv } from '../http/env'
import type { Logger } from '../lib/log'

interface LoadedPortal {
  fetch(request: Request, env?: unknown): Response | Promise<Response>
}

/**
 * @example if (deps.config.portal.enabled) app.route('/', portalRoutes(deps, { log }))
 */
export function portalRoutes(deps: Deps, opts: { log: Logger }): Hono<AppEnv> {
  if (!opts?.log) throw new Error('portalRoutes needs a logger')
  let loading: Promise<LoadedPortal> | null = null
  const load = () => {
    loading ??= import('./app').then((m) => m.createPortal(deps, opts)).catch((error) => {
      // A failed load is retried by the next request rather than remembered.
      loading = null
      throw error
    })
    return loading
  }
  return new Hono<AppEnv>()
    .get('/', (c) => c.redirect('/portal', 302))
    .all('/portal', async function lazyPortal(c) {
      return (await load()).fetch(c.req.raw, c.env)
    })
    .all('/portal/*', async function lazyPortal(c) {
      return (await load()).fetch(c.req.raw, c.env)
    })
}
