/**
 * /docs, loaded on its first request: the Swagger UI bundle (~1.5 MB of text) is embedded in the
 * binary but kept out of an idle gateway's memory and start-up (issue #7; docs/performance.md).
 */
import { Hono } from 'hono'

export function lazyDocsRoutes() {
  let loading: Promise<{ fetch(request: Request): Response | Promise<Response> }> | null = null
  const serve = async (request: Request) => {
    loading ??= import('./docs').then((m) => m.docsRoutes())
    return (await loading).fetch(request)
  }
  return new Hono().all('/docs', (c) => serve(c.req.raw)).all('/docs/*', (c) => serve(c.req.raw))
}
