/**
 * The portal's browser files, embedded in the binary and served under content-hashed URLs
 * (`/portal/assets/htmx.3f2a9c1b7e.js`) with a year-long immutable cache: a new release changes
 * the hash, so browsers never run a stale script. Read once, when the portal module loads.
 */
import { createHash } from 'node:crypto'
import { Hono } from 'hono'
import htmxPath from 'htmx.org/dist/htmx.min.js' with { type: 'file' }
import uplotPath from 'uplot/dist/uPlot.iife.min.js' with { type: 'file' }
import uplotCssPath from 'uplot/dist/uPlot.min.css' with { type: 'file' }
import portalCssPath from './assets/portal.css' with { type: 'file' }
import portalJsPath from './assets/portal.client.js' with { type: 'file' }

const JS = 'text/javascript; charset=utf-8'
const CSS = 'text/css; charset=utf-8'
const IMMUTABLE = 'public, max-age=31536000, immutable'

/** Every asset by its stable name; pages link them with `assetUrl(name)`. */
const SOURCES = {
  'htmx.js': { path: htmxPath, type: JS },
  'uplot.js': { path: uplotPath, type: JS },
  'uplot.css': { path: uplotCssPath, type: CSS },
  'portal.css': { path: portalCssPath, type: CSS },
  // A browser script: TypeScript sees a module without exports, Bun gives the embedded file's path.
  'portal.js': { path: portalJsPath as unknown as string, type: JS },
} as const

export type AssetName = keyof typeof SOURCES

interface Asset {
  bytes: Uint8Array
  type: string
  etag: string
  file: string
}

const byName = new Map<AssetName, Asset>()
const byFile = new Map<string, Asset>()
for (const [name, source] of Object.entries(SOURCES) as [AssetName, (typeof SOURCES)[AssetName]][]) {
  const bytes = await Bun.file(source.path).bytes()
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 12)
  const dot = name.lastIndexOf('.')
  const file = `${name.slice(0, dot)}.${hash}${name.slice(dot)}`
  const asset = { bytes, type: source.type, etag: `"${hash}"`, file }
  byName.set(name, asset)
  byFile.set(file, asset)
}

/** The content-hashed URL of an asset. */
export function assetUrl(name: AssetName): string {
  return `/portal/assets/${byName.get(name)!.file}`
}

/** Every asset URL (the tests fetch each one). */
export const assetUrls = (): string[] => [...byName.keys()].map(assetUrl)

export function assetRoutes() {
  return new Hono().get('/:file', (c) => {
    const asset = byFile.get(c.req.param('file'))
    if (!asset) return c.text('Not found', 404, { 'cache-control': 'no-store' })
    const headers = { 'content-type': asset.type, 'cache-control': IMMUTABLE, etag: asset.etag }
    if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304, headers)
    return c.body(asset.bytes as Uint8Array<ArrayBuffer>, 200, headers)
  })
}
