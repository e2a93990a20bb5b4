/**
 * `omnigate serve`: the gateway, its engine and the HTTP server in one process.
 */
import type { Config } from './config'
import { parseListen, publicUrlWarning } from './config'
import type { Deps } from './domain/deps'
import { ensureDemoNamespace } from './domain/namespaces/demo'
import { Engine } from './engine/engine'
import { openGateway, StartupError } from './gateway'
import { flushKeyUsage } from './domain/identity/api-keys'
import { createApp } from './http/app'
import type { Logger } from './lib/log'

export interface RunningServer {
  url: string
  deps: Deps
  engine: Engine | null
  /** Graceful: stop accepting, finish in-flight requests and sends, close the store. */
  stop(): Promise<void>
}

export interface ServeOptions {
  config: Config
  demo: boolean
  log: Logger
  /** Where the demo API key is printed (stdout). */
  print: (line: string) => void
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const { config, log } = opts
  const listen = parseListen(config.server.listen)
  if (!listen) throw new StartupError(`server.listen: invalid address "${config.server.listen}"`)
  const deps = await openGateway({ config, demo: opts.demo, log, migrate: config.database.auto_migrate })
  const engine = config.engine.enabled ? new Engine(deps, config, log) : null
  const app = createApp(deps, { bodyLimitBytes: config.server.body_limit_bytes, log })
  let server: ReturnType<typeof Bun.serve>
  try {
    server = Bun.serve({
      hostname: listen.host,
      port: listen.port,
      fetch: app.fetch,
      // Bun's own limit sits above ours, so the API answers 413 as problem+json itself.
      maxRequestBodySize: config.server.body_limit_bytes + 1024 * 1024,
    })
  } catch (error) {
    await deps.store.close()
    throw new StartupError(`server.listen: cannot listen on ${config.server.listen}: ${(error as Error).message}`)
  }
  try {
    await engine?.start()
    // Only once it serves: a key printed by a start that then failed would never be shown again.
    if (opts.demo) {
      const key = await ensureDemoNamespace(deps)
      if (key) {
        opts.print('Demo namespace "demo" created with channel "sandbox". Its API key, shown once:')
        opts.print(`  OMNIGATE_API_KEY=${key}`)
      }
    }
  } catch (error) {
    // Nothing half-started stays up: no port answering /readyz for a gateway without its workers
    // (or without the demo namespace it was asked for: a busy database, say).
    server.stop(true)
    await engine?.stop().catch(() => {})
    await deps.store.close()
    throw error instanceof StartupError ? error : new StartupError((error as Error).message ?? String(error))
  }
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host
  const url = `http://${host}:${server.port}`
  log.info('omnigate listening', { url, database: config.database.url.split('?')[0], demo: opts.demo })
  const baseUrlProblem = publicUrlWarning(config)
  if (baseUrlProblem) log.warn(baseUrlProblem)

  let stopping: Promise<void> | null = null
  return {
    url,
    deps,
    engine,
    stop: () => {
      stopping ??= (async () => {
        log.info('shutting down')
        let failure: unknown = null
        try {
          await server.stop()
          // Logged part by part; what follows still runs.
          await engine?.stop().catch((error) => (failure = error))
          // The API keys' "last used" noted since the last minute's write.
          await flushKeyUsage(deps).catch((error) => log.warn('API key usage not recorded', { error: String(error) }))
        } finally {
          // Whatever failed above, the database is closed (its last checkpoint) before the process ends.
          await deps.store.close()
        }
        if (failure !== null) throw failure
        log.info('stopped')
      })()
      return stopping
    },
  }
}
