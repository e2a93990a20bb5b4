/**
 * /docs: Swagger UI over /openapi.json, its assets from the swagger-ui-dist npm package,
 * embedded in the binary (no CDN: the gateway works offline) and served under a CSP that
 * allows no inline script.
 */
import { Hono } from 'hono'
// Embedded as files, not strings: ~1.9 MB of text in the bundle would be in every gateway's
// memory (the bundle's source is), where a file is read on the first /docs request.
import swaggerCssPath from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' }
import swaggerJsPath from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' }

// Served as /docs/init.js rather than inline: the CSP forbids inline scripts.
const INIT_JS = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout' })`
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>omnigate API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>`

const asset = (body: string | Blob, type: string) => () =>
  new Response(body, { headers: { 'content-type': type, 'cache-control': 'public, max-age=86400' } })

/** The docs app, with its full paths (/docs/…): loaded by `lazyDocsRoutes` on first use. */
export function docsRoutes() {
  return new Hono()
    .basePath('/docs')
    .get('/', (c) => c.html(PAGE, 200, { 'content-security-policy': CSP, 'x-frame-options': 'DENY' }))
    .get('/swagger-ui.css', asset(Bun.file(swaggerCssPath), 'text/css; charset=utf-8'))
    .get('/swagger-ui-bundle.js', asset(Bun.file(swaggerJsPath), 'text/javascript; charset=utf-8'))
    .get('/init.js', asset(INIT_JS, 'text/javascript; charset=utf-8'))
}
