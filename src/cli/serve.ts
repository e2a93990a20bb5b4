import type { Command } from 'commander'
import { migrate } from '../store/migrate'
import { openStore } from '../store/open'
import { startServer } from '../server'
import { storeOptions } from '../gateway'
import { createLogger, type Logger } from '../lib/log'
import { action, globals, loadCliConfig, printJson } from './context'

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the gateway: HTTP API, dispatcher and scheduled jobs')
    .option('--listen <host:port>', 'address to listen on (server.listen)')
    .action(
      action(async (opts: { listen?: string }, cmd: Command) => {
        const { config, demo } = loadCliConfig(globals(cmd), opts.listen ? { OMNIGATE_SERVER_LISTEN: opts.listen } : undefined)
        const log = createLogger(config.log)
        logUnhandledRejections(log)
        const server = await startServer({ config, demo, log, print: (line) => console.log(line) })
        console.log(`omnigate listening on ${server.url}`)
        await new Promise<void>((resolve) => {
          // Once, however many signals or exceptions ask. A part that failed to stop was logged; the
          // exit code says so.
          let stopping: Promise<void> | null = null
          const shutdown = () =>
            void (stopping ??= server.stop().then(resolve, (error) => {
              log.error('shutdown incomplete', { error: String(error) })
              process.exitCode = 1
              resolve()
            }))
          process.once('SIGTERM', shutdown)
          process.once('SIGINT', shutdown)
          // A throw nothing caught (a bug) may have left a part half-done: stop as on SIGTERM, exit 1.
          process.on('uncaughtException', (error) => {
            log.error('uncaught exception (a bug: please report it); stopping', { error: error.stack ?? error.message })
            process.exitCode = 1
            shutdown()
          })
        })
      }),
    )
}

/**
 * A rejection nothing handled is a bug. Bun prints it raw, and ends a process for it unless the
 * entry module's top-level await is still pending (as `serve`'s is: oven-sh/bun#22546, whose fix
 * would make it fatal), and then exits 1 at the end. The gateway logs it with its stack and goes
 * on serving: nobody awaited that promise, so no loop or request is waiting on it, and all work
 * is in the database anyway (docs/decisions.md). Only `serve` does this: tests and the other
 * CLI commands still fail loudly.
 */
export function logUnhandledRejections(log: Logger): void {
  process.on('unhandledRejection', (reason) => {
    log.error('unhandled rejection (a bug: please report it); the gateway goes on', {
      error: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason),
    })
  })
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const { config } = loadCliConfig(globals(cmd))
        const store = await openStore(storeOptions(config))
        try {
          const applied = await migrate(store)
          if (globals(cmd).json) printJson({ applied })
          else console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database is up to date')
        } finally {
          await store.close()
        }
      }),
    )
}
