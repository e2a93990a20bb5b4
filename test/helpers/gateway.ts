/**
 * A whole gateway in-process on a real database file in a temp dir: config, store, migrations,
 * domain deps and the Hono app, plus helpers to make namespaces, keys and channels.
 */
import { join } from 'node:path'
import { configSchema, type Config } from '../../src/config'
import type { Deps } from '../../src/domain/deps'
import { createChannel } from '../../src/domain/channels'
import { createApiKey } from '../../src/domain/identity/api-keys'
import { createApplication } from '../../src/domain/identity/applications'
import { createNamespace } from '../../src/domain/namespaces'
import { Engine } from '../../src/engine/engine'
import { openGateway } from '../../src/gateway'
import { createApp } from '../../src/http/app'
import { type Logger, silentLogger } from '../../src/lib/log'
import { generateMasterKey } from '../../src/lib/secrets'
import { tempDir } from './stores'

export interface TestGateway {
  dir: string
  config: Config
  deps: Deps
  app: ReturnType<typeof createApp>
  /** With `{ listen: true }`: the real server's base URL (also the gateway's public_url). */
  url?: string
  /** Starts a dispatcher (and jobs) over the same store; stopped by close(). */
  startEngine(overrides?: Partial<Config['engine']>): Promise<Engine>
  /** A namespace with an application and an API key (all scopes unless given). */
  tenant(slug: string, scopes?: string[]): Promise<{ namespaceId: string; slug: string; key: string; applicationId: string }>
  channel(namespaceId: string, name: string, type?: string, config?: Record<string, unknown>): Promise<string>
  /** app.request with a bearer key and a JSON body. */
  call(method: string, path: string, key: string | null, body?: unknown, headers?: Record<string, string>): Promise<Response>
  close(): Promise<void>
}

/** Engine settings for tests: fast polls and short backoff so retries happen within a test. */
export const FAST_ENGINE: Partial<Config['engine']> = {
  poll_interval_ms: 20,
  backoff_base_ms: 20,
  backoff_max_ms: 200,
  lease_ms: 2000,
  send_timeout_ms: 1000,
  shutdown_timeout_ms: 2000,
}

export function testConfig(dir: string, overrides: Record<string, any> = {}): Config {
  return configSchema.parse({
    ...overrides,
    database: { url: `file:${join(dir, 'omnigate.db')}`, ...overrides.database },
    security: { master_key: generateMasterKey(), allow_private_network: true, ...overrides.security },
    engine: { ...FAST_ENGINE, ...overrides.engine },
    // Request rate limits are off unless a test turns them on: suites fire requests in bursts.
    limits: { namespace_requests_per_second: 0, ...overrides.limits },
  })
}

export interface TestGatewayOptions {
  log?: Logger
  /**
   * Also serve the app with Bun.serve on 127.0.0.1 (an ephemeral port, Bun's default idle
   * timeout), for clients outside the process (a browser); `public_url` is that address.
   */
  listen?: boolean
}

export async function startTestGateway(overrides: Record<string, any> = {}, opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const log = opts.log ?? silentLogger
  const tmp = tempDir()
  // The server listens before the config is built, so public_url names its real port.
  let serve: ((req: Request, server: unknown) => Response | Promise<Response>) | null = null
  const server = opts.listen
    ? Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (req, srv) => (serve ? serve(req, srv) : new Response('starting', { status: 503 })) })
    : null
  const url = server ? `http://127.0.0.1:${server.port}` : undefined
  const config = testConfig(tmp.path, url ? { ...overrides, server: { ...overrides.server, public_url: url } } : overrides)
  const deps = await openGateway({ config, demo: false, log, migrate: true })
  const app = createApp(deps, { bodyLimitBytes: config.server.body_limit_bytes, log })
  serve = (req, srv) => app.fetch(req, srv)
  const engines: Engine[] = []
  return {
    dir: tmp.path,
    config,
    deps,
    app,
    url,
    async startEngine(engineOverrides = {}) {
      const engine = new Engine(deps, { ...config, engine: { ...config.engine, ...engineOverrides } }, log)
      await engine.start()
      engines.push(engine)
      return engine
    },
    async tenant(slug, scopes) {
      const ns = await createNamespace(deps, { slug })
      const app = await createApplication(deps, ns.id, { name: 'test-app' })
      const { secret } = await createApiKey(deps, ns.id, { applicationId: app.id, scopes })
      return { namespaceId: ns.id, slug, key: secret, applicationId: app.id }
    },
    async channel(namespaceId, name, type = 'sandbox', channelConfig = {}) {
      return (await createChannel(deps, namespaceId, { name, type, config: channelConfig })).id
    },
    call(method, path, key, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } }
      if (key) (init.headers as Record<string, string>).authorization = `Bearer ${key}`
      if (body !== undefined) {
        ;(init.headers as Record<string, string>)['content-type'] ??= 'application/json'
        init.body = typeof body === 'string' ? body : JSON.stringify(body)
        // What an HTTP client sends (a Request made in-process has none): sends take the send lane.
        ;(init.headers as Record<string, string>)['content-length'] ??= String(Buffer.byteLength(init.body as string))
      }
      return Promise.resolve(app.request(path, init))
    },
    async close() {
      await server?.stop(true)
      for (const engine of engines) await engine.stop()
      await deps.store.close()
      tmp.cleanup()
    },
  }
}

/** Polls until `check` returns a truthy value or the time runs out (then throws). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await Bun.sleep(20)
  }
}
